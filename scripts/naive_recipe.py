"""The recipe a user would write without this package, for benchmarks to compare against.

Plain ``Trainer`` on the same base model: static padding to ``max_length``, no length grouping, lr 5e-5,
batch 16, no class weights, no early stopping, the final model kept. Imported by the bench scripts.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from datasets import Dataset

from stance.evaluation.metrics import compute_metrics
from stance.labels import ID2LABEL, LABEL2ID
from stance.modeling import resolve_base


@dataclass
class NaiveRun:
    trainer: Any
    tokenizer: Any
    train_seconds: float
    train_examples: int


def _encode(ds: Dataset, tokenizer: Any, max_length: int) -> Dataset:
    def batch(rows: dict[str, list]) -> dict[str, Any]:
        enc = tokenizer(rows["target"], rows["text"], padding="max_length", truncation=True, max_length=max_length)
        enc["labels"] = [LABEL2ID[label] for label in rows["label"]]
        return enc

    return ds.map(batch, batched=True, remove_columns=ds.column_names)


def train_naive(
    train: Dataset,
    dev: Dataset | None,
    base: str = "embedded",
    epochs: float = 3,
    max_length: int = 128,
    seed: int = 42,
    learning_rate: float = 5e-5,
    batch_size: int = 16,
    bf16: bool = False,
) -> NaiveRun:
    """``bf16=True``: the flags such a user would add on a CPU with AMX or a GPU (``TrainingArguments(bf16=True)``,
    with ``use_cpu=True`` on a CPU, as it requires): autocast in training and prediction; nothing else changes."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments, set_seed

    set_seed(seed)  # before the model: the new classification head's initialisation is seeded too
    source = resolve_base(base)
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForSequenceClassification.from_pretrained(
        source, num_labels=3, id2label=ID2LABEL, label2id=LABEL2ID
    )
    train_ds = _encode(train, tokenizer, max_length)
    dev_ds = _encode(dev, tokenizer, max_length) if dev is not None else None
    args = TrainingArguments(
        output_dir=tempfile.mkdtemp(prefix="naive-"),
        num_train_epochs=epochs,
        learning_rate=learning_rate,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=64,
        eval_strategy="epoch" if dev_ds else "no",
        save_strategy="no",
        report_to="none",
        seed=seed,
        dataloader_pin_memory=False,
        disable_tqdm=True,
        bf16=bf16,
        use_cpu=bf16 and not torch.cuda.is_available(),  # what TrainingArguments asks for bf16 on a CPU
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=dev_ds,
        compute_metrics=lambda p: {"macro_f1": compute_metrics(np.argmax(p.predictions, -1), p.label_ids)["macro_f1"]},
    )
    started = time.perf_counter()
    trainer.train()
    return NaiveRun(trainer, tokenizer, time.perf_counter() - started, int(len(train_ds) * epochs))


def predict_naive(run: NaiveRun, ds: Dataset, max_length: int = 128) -> np.ndarray:
    """Label ids predicted by the naive model (the same static padding, in input order)."""
    output = run.trainer.predict(_encode(ds, run.tokenizer, max_length))
    return np.argmax(output.predictions, axis=-1)
