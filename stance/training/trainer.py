"""Fine-tuning a (target, text) pair classifier with the transformers Trainer.

The output folder's files are those of :mod:`stance.layout`. Progress is one training bar and one log line
per evaluation (the ``stance`` logger); every logging step and evaluation also goes to ``train_log.jsonl``.
A resumed run says which checkpoint it continues, drops the log records after that checkpoint (they are
written again) and counts training time across both runs.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
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
    PrinterCallback,
    ProgressCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from ..config import StanceConfig
from ..data.augment import target_swap
from ..data.examples import load_splits
from ..errors import StanceError
from ..evaluation.metrics import compute_metrics
from ..labels import LABEL2ID, label_counts
from ..layout import (
    CHECKPOINT_DIR,
    MODEL_CONFIG_FILE,
    MODEL_DIR,
    RUN_CONFIG_FILE,
    TRAIN_LOG_FILE,
    TRAIN_METRICS_FILE,
    claim_output_dir,
)
from ..modeling.build import build
from .callbacks import (
    CheckpointTimer,
    JsonlLog,
    TrainingBar,
    checkpoint_step,
    resume_state,
)
from .losses import PairLoss, class_weights, rdrop_loss
from .optimizers import layerwise_optimizer
from .precision import resolve_precision

log = logging.getLogger(__name__)


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
    if is_main_process():  # rank 0 checks; other ranks must not race it on a folder it creates
        claim_output_dir(
            output_dir,
            overwrite=overwrite,
            resume=resume,
            hint="pass --resume to continue its last checkpoint or --overwrite to replace it",
        )


def last_complete_checkpoint(folder: Path) -> str | None:
    """The newest checkpoint whose trainer state was written (the last file a save writes).

    A run killed while saving leaves a partial ``checkpoint-N``; resuming from it would fail, so it is
    removed and the previous complete one is used.
    """
    if not folder.is_dir():
        return None
    found = sorted(
        (p for p in folder.glob(f"{PREFIX_CHECKPOINT_DIR}-*") if p.name.split("-")[-1].isdigit()),
        key=lambda p: int(p.name.split("-")[-1]),
        reverse=True,
    )
    for path in found:
        if (path / "trainer_state.json").is_file():
            return str(path)
        if is_main_process():
            log.warning("%s: incomplete checkpoint (the run was killed while saving it); removing it", path)
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


class PairTrainer(Trainer):
    """The Trainer with R-Drop: when ``rdrop`` > 0, each training batch runs twice (stacked, one forward
    pass) under different dropout masks; evaluation and prediction are unchanged."""

    def __init__(self, *args: Any, rdrop: float = 0.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rdrop = rdrop

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if not (self.rdrop > 0 and model.training and "labels" in inputs):
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        labels = inputs["labels"]
        doubled = {key: torch.cat([value, value]) for key, value in inputs.items() if key != "labels"}
        outputs = model(**doubled)
        logits_a, logits_b = outputs.logits.chunk(2)
        loss = rdrop_loss(self.compute_loss_func, logits_a, logits_b, labels, self.rdrop, num_items_in_batch)
        return (loss, {"logits": logits_a}) if return_outputs else loss


class TrainingHooks:
    """The points where a variant of training (``stance distill``) changes :func:`train`; this base class is
    plain ``stance train``."""

    trainer_class: type[PairTrainer] = PairTrainer

    def train_dataset(self, train: Dataset, tokenizer: PreTrainedTokenizerBase, max_length: int) -> Dataset:
        """The encoded training set, from the (augmented) train split and the new model's tokenizer."""
        return encode(train, tokenizer, max_length)

    def trainer_kwargs(self) -> dict[str, Any]:
        """Extra keyword arguments of :attr:`trainer_class`."""
        return {}

    def model_attributes(self) -> dict[str, Any]:
        """Extra fields of the saved model's ``config.json``."""
        return {}

    def summary(self) -> dict[str, Any]:
        """Extra fields of ``train_metrics.json``."""
        return {}


def _trainer_metrics(prediction: Any) -> dict[str, float]:
    logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
    scores = compute_metrics(np.argmax(logits, axis=-1), prediction.label_ids)
    return {key: value for key, value in scores.items() if isinstance(value, float)}


def training_arguments(config: StanceConfig, checkpoints: Path, has_dev: bool = True) -> TrainingArguments:
    t = config.training
    cuda = torch.cuda.is_available()
    cpu_ddp = not cuda and int(os.environ.get("WORLD_SIZE", "1")) > 1
    precision = resolve_precision(t, cuda)  # training.bf16: auto uses bf16 where the CPU or GPU runs it fast
    cpu_bf16 = not cuda and precision == "bf16"  # bf16 autocast on the CPU needs use_cpu
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
        bf16=precision == "bf16",
        fp16=precision == "fp16",
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
    callbacks: list[TrainerCallback] = [JsonlLog(output_dir / TRAIN_LOG_FILE)]
    if config.training.early_stopping_patience is not None and has_dev:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.training.early_stopping_patience))
    if config.training.tensorboard and is_main_process():
        try:
            from torch.utils.tensorboard import SummaryWriter
            from transformers.integrations import TensorBoardCallback
        except ImportError as exc:
            raise StanceError(
                "training.tensorboard: install the 'tensorboard' extra (pip install 'stance[tensorboard]')"
            ) from exc
        callbacks.append(TensorBoardCallback(tb_writer=SummaryWriter(str(output_dir / "tensorboard"))))
    return callbacks


def _optimizer(config: StanceConfig, model: torch.nn.Module) -> torch.optim.Optimizer | None:
    """None lets the Trainer build its default AdamW; layer-wise decay needs parameter groups."""
    t = config.training
    if t.layer_decay >= 1.0:
        return None
    return layerwise_optimizer(model, t.learning_rate, t.layer_decay, t.weight_decay)


def train(
    config: StanceConfig,
    output_dir: str | Path,
    *,
    resume: bool = False,
    overwrite: bool = False,
    hooks: TrainingHooks | None = None,
) -> TrainResult:
    """Fine-tune ``config`` and write the output folder described in the module docstring; ``hooks`` changes
    the training set, the Trainer and what is recorded (see :class:`TrainingHooks`)."""
    hooks = hooks or TrainingHooks()
    output_dir = Path(output_dir)
    splits = load_splits(config.data)  # validate data before touching the output folder
    prepare_output(output_dir, resume=resume, overwrite=overwrite)
    checkpoints = output_dir / CHECKPOINT_DIR
    last = last_complete_checkpoint(checkpoints) if resume else None
    before = 0.0
    if resume and last is None and is_main_process():
        log.info("%s: no checkpoint to resume from; starting from the beginning", output_dir)
    if last is None and is_main_process():
        (output_dir / TRAIN_LOG_FILE).unlink(missing_ok=True)
    elif last is not None:
        before = resume_state(output_dir, last) if is_main_process() else 0.0
        log.info("resuming from %s (step %d, %.0f s of training so far)", last, checkpoint_step(last), before)

    if config.training.target_swap > 0:
        splits["train"] = target_swap(splits["train"], config.training.target_swap, config.training.seed)
    set_seed(config.training.seed)
    corpus = list(splits["train"]["target"][:1]) + list(splits["train"]["text"])
    model, tokenizer = build(config.model, config.data.default_target, corpus, config.training.seed)
    encoded = DatasetDict({"train": hooks.train_dataset(splits["train"], tokenizer, config.model.max_length)})
    if "dev" in splits:
        encoded["dev"] = encode(splits["dev"], tokenizer, config.model.max_length)
    weights = class_weights(list(splits["train"]["label"])) if config.training.class_weights else None
    has_dev = "dev" in encoded
    if not has_dev and is_main_process():
        log.info(
            "no dev split (data.dev: null, data.dev_fraction: 0): training for the configured epochs "
            "and keeping the last one; no early stopping"
        )
    log.info(
        "training on %d pairs (%s), %s epochs, batch size %d",
        len(encoded["train"]),
        ", ".join(f"{n} {label}" for label, n in label_counts(splits["train"]["label"]).items()),
        f"{config.training.epochs:g}",
        config.training.batch_size,
    )

    trainer = hooks.trainer_class(
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
        **hooks.trainer_kwargs(),
    )
    if config.training.bf16 == "auto" and is_main_process():
        log.info("precision: %s (training.bf16: auto)", _precision(trainer.args))
    for default in (ProgressCallback, PrinterCallback):  # raw log dicts and extra bars: replaced by ours
        trainer.remove_callback(default)
    trainer.add_callback(TrainingBar())
    timer = CheckpointTimer(before)
    trainer.add_callback(timer)
    trainer.train(resume_from_checkpoint=last)
    seconds = timer.elapsed()
    for callback in trainer.callback_handler.callbacks:
        if isinstance(callback, JsonlLog):
            callback.finished = True
    dev = trainer.evaluate() if has_dev else {}
    model_dir = output_dir / MODEL_DIR
    for name, value in hooks.model_attributes().items():
        setattr(trainer.model.config, name, value)
    if trainer.is_world_process_zero():
        trainer.save_model(str(model_dir))  # safetensors weights + tokenizer + config.json
        (model_dir / "training_args.bin").unlink(missing_ok=True)  # a pickle: never ship one
        config.save(output_dir / RUN_CONFIG_FILE)
        config.save(model_dir / MODEL_CONFIG_FILE)
        summary = {**_summary(config, splits, dev, seconds, trainer), **hooks.summary()}
        (output_dir / TRAIN_METRICS_FILE).write_text(json.dumps(summary, indent=2), "utf-8")
        (model_dir / TRAIN_METRICS_FILE).write_text(json.dumps(summary, indent=2), "utf-8")
        log.info("training took %.0f s", seconds)
    trainer.accelerator.wait_for_everyone()
    return TrainResult(output_dir, model_dir, dev, splits)


def _summary(
    config: StanceConfig, splits: DatasetDict, dev: dict[str, Any], seconds: float, trainer: Trainer
) -> dict[str, Any]:
    import transformers

    return {
        "dev": {key.removeprefix("eval_"): value for key, value in dev.items()},
        "best_checkpoint": Path(trainer.state.best_model_checkpoint).name
        if trainer.state.best_model_checkpoint
        else None,
        "epochs_run": trainer.state.epoch,
        "train_seconds": round(seconds, 2),
        "label_counts": {name: label_counts(ds["label"]) for name, ds in splits.items()},
        "base_model": config.model.base if config.model.init == "pretrained" else "random (model.architecture)",
        "versions": {"stance": _version(), "transformers": transformers.__version__, "torch": torch.__version__},
        "world_size": trainer.args.world_size,
        "precision": _precision(trainer.args),
    }


def _precision(args: TrainingArguments) -> str:
    """The precision the Trainer really runs at: ``bf16``, ``fp16`` or ``fp32``."""
    return "bf16" if args.bf16 else "fp16" if args.fp16 else "fp32"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("stance")
    except PackageNotFoundError:
        return "unknown"
