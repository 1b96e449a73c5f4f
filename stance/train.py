"""Fine-tuning a (target, text) pair classifier with the transformers Trainer.

Output folder layout (``DIR``)::

    DIR/model/             a standard Hugging Face model folder (safetensors, tokenizer, id2label, target)
    DIR/checkpoints/       rotating Trainer checkpoints, what --resume continues from
    DIR/config.yaml        the resolved config (every field, overrides applied)
    DIR/train_log.jsonl    one JSON object per logging step and per evaluation
    DIR/train_metrics.json final dev metrics, label counts, timings, library versions
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from datasets import Dataset, DatasetDict
from transformers import (
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    PreTrainedTokenizerBase,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from . import modeling
from .augment import target_swap
from .config import StanceConfig
from .data import label_counts, load_splits
from .errors import StanceError
from .labels import LABEL2ID, LABELS
from .losses import PairLoss, rdrop_loss
from .metrics import compute_metrics

MODEL_DIR = "model"
CHECKPOINT_DIR = "checkpoints"
CONFIG_FILE = "config.yaml"
LOG_FILE = "train_log.jsonl"
METRICS_FILE = "train_metrics.json"
MODEL_CONFIG_COPY = "stance_config.yaml"  # the resolved config, also inside the model folder


@dataclass
class TrainResult:
    output_dir: Path
    model_dir: Path
    dev_metrics: dict[str, Any]  # empty when trained without a dev split
    splits: DatasetDict


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def prepare_output(output_dir: Path, *, resume: bool, overwrite: bool) -> None:
    """Refuse to write over an existing run unless asked to resume it or overwrite it."""
    if resume and overwrite:
        raise StanceError("--resume and --overwrite exclude each other")
    if not is_main_process():  # rank 0 checks; other ranks must not race it on a folder it creates
        return
    if output_dir.exists() and any(output_dir.iterdir()):
        if overwrite:
            shutil.rmtree(output_dir)
        elif not resume:
            raise StanceError(f"{output_dir}: output folder already exists; pass --resume to continue its "
                              "last checkpoint or --overwrite to replace it")
    output_dir.mkdir(parents=True, exist_ok=True)


def last_complete_checkpoint(folder: Path) -> str | None:
    """The newest checkpoint whose trainer state was written (the last file a save writes).

    A run killed while saving leaves a partial ``checkpoint-N``; resuming from it would fail, so it is
    removed and the previous complete one is used.
    """
    if not folder.is_dir():
        return None
    found = sorted((p for p in folder.glob(f"{PREFIX_CHECKPOINT_DIR}-*") if p.name.split("-")[-1].isdigit()),
                   key=lambda p: int(p.name.split("-")[-1]), reverse=True)
    for path in found:
        if (path / "trainer_state.json").is_file():
            return str(path)
        if is_main_process():
            print(f"{path}: incomplete checkpoint (the run was killed while saving it); removing it", flush=True)
            shutil.rmtree(path, ignore_errors=True)
    return None


def encode(ds: Dataset, tokenizer: PreTrainedTokenizerBase, max_length: int) -> Dataset:
    """Tokenise (target, text) as a true sentence pair; no padding here (the collator pads per batch)."""
    def batch(rows: dict[str, list]) -> dict[str, list]:
        enc = tokenizer(rows["target"], rows["text"], truncation="longest_first", max_length=max_length)
        if rows["label"][0] is not None:
            enc["labels"] = [LABEL2ID[label] for label in rows["label"]]
        return enc

    return ds.map(batch, batched=True, remove_columns=ds.column_names, desc="tokenising")


def class_weights(labels: list[str]) -> torch.Tensor:
    """Inverse-frequency weights normalised to mean 1; a label absent from training gets weight 1."""
    counts = np.array([labels.count(label) for label in LABELS], dtype=float)
    present = counts > 0
    weights = np.ones(len(LABELS))
    weights[present] = counts[present].sum() / (present.sum() * counts[present])
    return torch.tensor(weights / weights[present].mean(), dtype=torch.float32)


class PairTrainer(Trainer):
    """The Trainer with R-Drop: when ``rdrop`` > 0, each training batch runs twice (stacked, one forward
    pass) under different dropout masks; evaluation and prediction are unchanged."""

    def __init__(self, *args: Any, rdrop: float = 0.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rdrop = rdrop

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ANN001
        if not (self.rdrop > 0 and model.training and "labels" in inputs):
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        labels = inputs["labels"]
        doubled = {key: torch.cat([value, value]) for key, value in inputs.items() if key != "labels"}
        outputs = model(**doubled)
        logits_a, logits_b = outputs.logits.chunk(2)
        loss = rdrop_loss(self.compute_loss_func, logits_a, logits_b, labels, self.rdrop, num_items_in_batch)
        return (loss, {"logits": logits_a}) if return_outputs else loss


class JsonlLog(TrainerCallback):
    """Appends every log and evaluation to a JSON-lines file and prints one line per evaluation."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001 - Trainer's signature
        if state.is_world_process_zero and logs:
            record = {"epoch": state.epoch, "step": state.global_step, **logs}
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):  # noqa: ANN001
        if state.is_world_process_zero and metrics:
            print(f"epoch {state.epoch:.2f}: dev macro-F1 {metrics.get('eval_macro_f1', float('nan')):.4f}, "
                  f"accuracy {metrics.get('eval_accuracy', float('nan')):.4f}, "
                  f"loss {metrics.get('eval_loss', float('nan')):.4f}", flush=True)


def layerwise_optimizer(model: torch.nn.Module, learning_rate: float, decay: float,
                        weight_decay: float) -> torch.optim.Optimizer:
    """AdamW whose learning rate shrinks by ``decay`` per layer from the top (head) down to the embeddings.

    Lower layers hold general language knowledge worth keeping; the head and top layers adapt most.
    """
    n_layers = int(getattr(model.config, "num_hidden_layers", 0))

    def depth(name: str) -> int:  # 0 = embeddings ... n_layers + 1 = pooler and classifier
        if "embeddings" in name:
            return 0
        found = re.search(r"\.layer\.(\d+)\.", name)
        return int(found.group(1)) + 1 if found else n_layers + 1

    groups: dict[tuple[int, bool], list[torch.nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if param.requires_grad:
            no_decay = param.ndim < 2  # biases and LayerNorm weights
            groups.setdefault((depth(name), no_decay), []).append(param)
    params = [{"params": p, "lr": learning_rate * decay ** (n_layers + 1 - d),
               "weight_decay": 0.0 if no_decay else weight_decay} for (d, no_decay), p in sorted(groups.items())]
    return torch.optim.AdamW(params, lr=learning_rate)


def _trainer_metrics(prediction: Any) -> dict[str, float]:
    logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
    scores = compute_metrics(np.argmax(logits, axis=-1), prediction.label_ids)
    return {key: value for key, value in scores.items() if isinstance(value, float)}


def training_arguments(config: StanceConfig, checkpoints: Path, has_dev: bool = True) -> TrainingArguments:
    t = config.training
    cuda = torch.cuda.is_available()
    cpu_ddp = not cuda and int(os.environ.get("WORLD_SIZE", "1")) > 1
    cpu_bf16 = not cuda and t.bf16  # bf16 autocast on the CPU (avx512_bf16/AMX) must be asked for explicitly
    return TrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=t.epochs,
        max_steps=t.max_steps,
        learning_rate=t.learning_rate,
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.eval_batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        warmup_steps=t.warmup_ratio,
        weight_decay=t.weight_decay,
        lr_scheduler_type=t.lr_scheduler,
        eval_strategy="epoch" if has_dev else "no",
        save_strategy="epoch",
        logging_strategy="steps",
        logging_steps=t.logging_steps,
        save_total_limit=t.save_total_limit,
        load_best_model_at_end=has_dev,  # without a dev split the last epoch is kept
        metric_for_best_model="macro_f1" if has_dev else None,
        greater_is_better=True,
        seed=t.seed,
        data_seed=t.seed,
        bf16=t.bf16,
        fp16=t.fp16,
        train_sampling_strategy="group_by_length" if t.group_by_length else "random",
        dataloader_num_workers=t.dataloader_num_workers,
        dataloader_pin_memory=cuda,
        report_to="none",
        save_only_model=False,
        ddp_find_unused_parameters=False,
        use_cpu=cpu_ddp or cpu_bf16,  # also lets accelerate set up DDP on CPU (gloo) under torchrun
        ddp_backend="gloo" if cpu_ddp else None,
    )


def _callbacks(config: StanceConfig, output_dir: Path, has_dev: bool = True) -> list[TrainerCallback]:
    callbacks: list[TrainerCallback] = [JsonlLog(output_dir / LOG_FILE)]
    if config.training.early_stopping_patience is not None and has_dev:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.training.early_stopping_patience))
    if config.training.tensorboard and is_main_process():
        try:
            from torch.utils.tensorboard import SummaryWriter
            from transformers.integrations import TensorBoardCallback
        except ImportError:
            raise StanceError("training.tensorboard: install the 'tensorboard' extra "
                              "(pip install 'stance[tensorboard]')") from None
        callbacks.append(TensorBoardCallback(tb_writer=SummaryWriter(str(output_dir / "tensorboard"))))
    return callbacks


def _optimizer(config: StanceConfig, model: torch.nn.Module) -> torch.optim.Optimizer | None:
    """None lets the Trainer build its default AdamW; layer-wise decay needs parameter groups."""
    t = config.training
    if t.layer_decay >= 1.0:
        return None
    return layerwise_optimizer(model, t.learning_rate, t.layer_decay, t.weight_decay)


def train(config: StanceConfig, output_dir: str | Path, *, resume: bool = False,
          overwrite: bool = False) -> TrainResult:
    """Fine-tune ``config`` and write the output folder described in the module docstring."""
    output_dir = Path(output_dir)
    splits = load_splits(config.data)  # validate data before touching the output folder
    prepare_output(output_dir, resume=resume, overwrite=overwrite)
    checkpoints = output_dir / CHECKPOINT_DIR
    last = last_complete_checkpoint(checkpoints) if resume else None
    if resume and last is None and is_main_process():
        print(f"{output_dir}: no checkpoint to resume from; starting from the beginning", flush=True)
    if last is None and is_main_process():
        (output_dir / LOG_FILE).unlink(missing_ok=True)

    if config.training.target_swap > 0:
        splits["train"] = target_swap(splits["train"], config.training.target_swap, config.training.seed)
    set_seed(config.training.seed)
    corpus = list(splits["train"]["target"][:1]) + list(splits["train"]["text"])
    model, tokenizer = modeling.build(config.model, config.data.default_target, corpus, config.training.seed)
    encoded = DatasetDict({name: encode(ds, tokenizer, config.model.max_length)
                           for name, ds in splits.items() if name in ("train", "dev")})
    weights = class_weights(list(splits["train"]["label"])) if config.training.class_weights else None
    has_dev = "dev" in encoded
    if not has_dev and is_main_process():
        print("no dev split (data.dev: null, data.dev_fraction: 0): training for the configured epochs "
              "and keeping the last one; no early stopping", flush=True)

    trainer = PairTrainer(
        model=model,
        args=training_arguments(config, checkpoints, has_dev),
        train_dataset=encoded["train"],
        eval_dataset=encoded.get("dev"),
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_loss_func=PairLoss(weights, config.training.label_smoothing),
        compute_metrics=_trainer_metrics,
        callbacks=_callbacks(config, output_dir, has_dev),
        optimizers=(_optimizer(config, model), None),
        rdrop=config.training.rdrop,
    )
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=last)
    seconds = time.perf_counter() - started
    dev = trainer.evaluate() if has_dev else {}
    model_dir = output_dir / MODEL_DIR
    if trainer.is_world_process_zero():
        trainer.save_model(str(model_dir))  # safetensors weights + tokenizer + config.json
        (model_dir / "training_args.bin").unlink(missing_ok=True)  # a pickle: never ship one
        config.save(output_dir / CONFIG_FILE)
        config.save(model_dir / MODEL_CONFIG_COPY)
        summary = _summary(config, splits, dev, seconds, trainer)
        (output_dir / METRICS_FILE).write_text(json.dumps(summary, indent=2), "utf-8")
        (model_dir / METRICS_FILE).write_text(json.dumps(summary, indent=2), "utf-8")
    trainer.accelerator.wait_for_everyone()
    return TrainResult(output_dir, model_dir, dev, splits)


def _summary(config: StanceConfig, splits: DatasetDict, dev: dict[str, Any], seconds: float,
             trainer: Trainer) -> dict[str, Any]:
    import transformers

    return {
        "dev": {key.removeprefix("eval_"): value for key, value in dev.items()},
        "best_checkpoint": Path(trainer.state.best_model_checkpoint).name if trainer.state.best_model_checkpoint else None,
        "epochs_run": trainer.state.epoch,
        "train_seconds": round(seconds, 2),
        "label_counts": {name: label_counts(ds) for name, ds in splits.items()},
        "base_model": config.model.base if config.model.init == "pretrained" else "random (model.architecture)",
        "versions": {"stance": _version(), "transformers": transformers.__version__, "torch": torch.__version__},
        "world_size": trainer.args.world_size,
    }


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("stance")
    except PackageNotFoundError:
        return "unknown"
