"""Evaluating a trained model on labelled examples, honestly enough for small test sets.

:func:`evaluate_model` (``stance evaluate``) and :func:`evaluate_dataset` (the end of ``stance train``)
return an :class:`Evaluation`: the typed ``metrics.json`` record of :mod:`stance.evaluation.schema` (point
metrics through :class:`~stance.evaluation.metrics.StanceMetrics`, seeded percentile-bootstrap intervals, expected
calibration error, breakdowns per source/target/phenomena tag, error tables, and majority-class and
TF-IDF + logistic-regression baselines trained on the model's own training split), plus one prediction
row per example and the reliability bins the plots need.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from datasets import Dataset

from ..config import DataConfig, StanceConfig, load_config
from ..data.examples import load_splits, read_examples
from ..data.formats import SUFFIXES
from ..errors import StanceError
from ..inference.scorer import score_pairs
from ..labels import LABEL2ID, LABELS
from ..layout import MODEL_CONFIG_FILE
from ..modeling.loading import TrainedModel, load_trained, stored_default_target
from .metrics import compute_metrics
from .schema import SCHEMA_VERSION, MetricsFile
from .statistics import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    N_ERRORS,
    baselines,
    bootstrap,
    breakdowns,
    calibration,
    confusion,
    error_tables,
    overlap,
)

SPLITS = ("train", "dev", "test")
PREDICT_HINT = "to classify unlabelled sentences use `stance predict MODEL_DIR --input FILE`"


@dataclass
class Evaluation:
    """``results`` is the metrics.json record (its ``images`` filled in by the report); ``predictions`` are
    predictions.jsonl rows."""

    results: MetricsFile
    predictions: list[dict[str, Any]]
    reliability: list[dict[str, float]] = field(default_factory=list)  # per-bin confidence/accuracy/count


# ---------------------------------------------------------------------------------------------------------
# Finding and reading the data.


def model_config(model_dir: str | Path) -> StanceConfig | None:
    """The training config saved in a model folder, or ``None`` (a hub model, an older folder)."""
    path = Path(model_dir) / MODEL_CONFIG_FILE
    return load_config(path) if path.is_file() else None


def resolve_data(data: str | Path, split: str | None, columns: DataConfig) -> tuple[Path, str | None, DataConfig]:
    """Which file to evaluate, under which split name, with which column mapping.

    ``data`` is a data file (or a ``save_to_disk`` Dataset folder), evaluated as it is; a YAML config,
    whose ``data.<split>`` file and column mapping are used; or a corpus folder holding ``<split>.jsonl``
    (``.csv``, ``.tsv``, ``.parquet``) files or a saved DatasetDict. ``split`` defaults to ``test`` and is
    refused for a plain file, where it would mean nothing.
    """
    path = Path(data)
    if split is not None and split not in SPLITS:
        raise StanceError(f"--split {split!r}: expected one of {', '.join(SPLITS)}")
    if not path.exists():
        raise StanceError(f"{path}: data file, config or corpus folder not found")
    is_config = path.is_file() and path.suffix.lower() in (".yaml", ".yml")
    is_folder = path.is_dir() and not (path / "dataset_info.json").is_file()
    if not (is_config or is_folder):
        if split is not None:
            raise StanceError(
                f"--split {split}: {path} is a data file; --split picks a file only when DATA is "
                "a config or a corpus folder"
            )
        return path, None, columns
    split = split or "test"
    if is_config:
        config = load_config(path)
        chosen = getattr(config.data, split)
        if chosen is None:
            raise StanceError(f"{path}: data.{split} is not set, so there is no {split} split to evaluate")
        if not Path(chosen).exists():
            raise StanceError(f"{chosen}: file not found (data.{split} in {path})")
        return Path(chosen), split, config.data
    if (path / "dataset_dict.json").is_file():
        if not (path / split).is_dir():
            raise StanceError(f"{path}: the saved DatasetDict has no split {split!r}")
        return path / split, split, columns
    found = [path / f"{split}{suffix}" for suffix in SUFFIXES if (path / f"{split}{suffix}").is_file()]
    if len(found) != 1:
        what = "no" if not found else "more than one"
        present = ", ".join(sorted(p.name for p in path.iterdir())[:20]) or "nothing"
        raise StanceError(
            f"{path}: {what} {split} file ({split}.jsonl, {split}.csv, {split}.tsv or "
            f"{split}.parquet) in the folder; it holds: {present}"
        )
    return found[0], split, columns


def read_labelled(path: str | Path, columns: DataConfig) -> Dataset:
    """Read a file that must carry a gold label on every row; unlabelled data gets a pointer to predict."""
    ds = read_examples(path, columns, labelled=False)
    missing = sum(label is None for label in ds["label"])
    if missing == len(ds):
        raise StanceError(
            f"{path}: no gold labels (field '{columns.label_column}' is missing or empty in every "
            f"row), so there is nothing to evaluate against; {PREDICT_HINT}"
        )
    if missing:
        read_examples(path, columns, labelled=True)  # raises, naming every unlabelled row
    return ds


def training_split(model_dir: str | Path) -> tuple[Dataset | None, str]:
    """The model's own training split (from its stance_config.yaml), or ``None`` and why not."""
    try:
        config = model_config(model_dir)
    except StanceError as exc:
        return None, f"baselines skipped: {model_dir}/{MODEL_CONFIG_FILE} is unreadable ({exc})"
    if config is None:
        return None, f"baselines skipped: {model_dir} has no {MODEL_CONFIG_FILE}, so its training split is unknown"
    try:
        train = load_splits(config.data, with_test=False)["train"]
    except StanceError as exc:
        first = str(exc).splitlines()[0]
        return None, f"baselines skipped: cannot read the training split {config.data.train} ({first})"
    return train, f"baselines trained on {config.data.train} ({len(train)} examples, the model's training split)"


def predict_probs(trained: TrainedModel, ds: Dataset, batch_size: int = 64) -> np.ndarray:
    return score_pairs(trained, list(ds["target"]), list(ds["text"]), batch_size=batch_size)


def evaluate_predictions(
    ds: Dataset,
    probs: np.ndarray,
    *,
    model: str,
    path: str,
    split: str | None,
    train: Dataset | None,
    train_note: str = "",
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    n_errors: int = N_ERRORS,
) -> Evaluation:
    """Everything in the report, from the model's probabilities (columns in LABELS order) for ``ds``."""
    if len(ds) == 0:
        raise StanceError(f"{path}: no examples to evaluate")
    gold = np.array([LABEL2ID[label] for label in ds["label"]])
    pred = probs.argmax(axis=1)
    scores = compute_metrics(pred, gold)
    ci = bootstrap(gold, pred, resamples=resamples, seed=seed)
    ece, bins = calibration(gold, probs)
    notes = [train_note] if train_note else []
    found: dict[str, dict] = {}
    if train is not None:
        found, more = baselines(train, ds, seed)
        notes += more
        repeated = overlap(train, ds)
        if repeated:
            notes.append(
                f"{repeated} of {len(ds)} evaluated examples also occur in the model's training split: "
                "the model's figures are optimistic"
            )
    per_class = {
        label: {**scores["per_class"][label], "f1_ci": {k: ci["per_class_f1"][label][k] for k in ("low", "high")}}
        for label in LABELS
    }
    results = MetricsFile.parse(
        {
            "schema_version": SCHEMA_VERSION,
            "model": model,
            "data": {"path": path, "split": split, "n_examples": len(ds), "targets": sorted(set(ds["target"]))},
            "labels": list(LABELS),
            "metrics": {key: scores[key] for key in ("accuracy", "macro_f1", "micro_f1", "weighted_f1")},
            "confidence_intervals": {"accuracy": ci["accuracy"], "macro_f1": ci["macro_f1"]},
            "per_class": per_class,
            "confusion_matrix": {"labels": list(LABELS), "counts": confusion(gold, pred).tolist()},
            "calibration": {"ece": ece, "bins": len(bins)},
            "baselines": found,
            "breakdowns": breakdowns(ds, gold, pred),
            "errors": error_tables(ds, gold, probs, n_errors),
            "notes": notes,
        }
    )
    return Evaluation(results, prediction_rows(ds, gold, probs), bins)


def prediction_rows(ds: Dataset, gold: np.ndarray, probs: np.ndarray) -> list[dict[str, Any]]:
    pred = probs.argmax(axis=1)
    extra = [c for c in ("source", "phenomena") if c in ds.column_names]
    rows = []
    for i, record in enumerate(ds.select_columns(["id", "target", "text", *extra])):
        rows.append(
            {
                **{k: record[k] for k in ("id", "target", "text")},
                "gold": LABELS[gold[i]],
                "predicted": LABELS[pred[i]],
                "correct": bool(gold[i] == pred[i]),
                "confidence": round(float(probs[i, pred[i]]), 6),
                "scores": {label: round(float(probs[i, j]), 6) for j, label in enumerate(LABELS)},
                **{k: record[k] for k in extra},
            }
        )
    return rows


def evaluate_dataset(
    trained: TrainedModel,
    ds: Dataset,
    *,
    path: str,
    split: str | None,
    train: Dataset | None,
    train_note: str = "",
    batch_size: int = 64,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Evaluation:
    """Score ``ds`` with a loaded model and evaluate it (used by ``stance train`` on its test split)."""
    probs = predict_probs(trained, ds, batch_size)
    return evaluate_predictions(
        ds,
        probs,
        model=trained.source,
        path=path,
        split=split,
        train=train,
        train_note=train_note,
        resamples=resamples,
        seed=seed,
    )


def evaluate_model(
    model_dir: str | Path,
    data: str | Path,
    *,
    split: str | None = None,
    batch_size: int = 64,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Evaluation:
    """``stance evaluate``: load the model, resolve and read the labelled data, evaluate.

    Column names come from the config when DATA is one, else from the model's stance_config.yaml; rows
    without a target get the model's default target.
    """
    default_target = stored_default_target(model_dir)  # config.json only: data errors come before the load
    saved = model_config(model_dir)
    columns = saved.data if saved is not None else DataConfig()
    if default_target:
        columns = dataclasses.replace(columns, default_target=default_target)
    path, split, columns = resolve_data(data, split, columns)
    ds = read_labelled(path, columns)
    trained = load_trained(model_dir)
    train, note = training_split(model_dir)
    return evaluate_dataset(
        trained,
        ds,
        path=str(path),
        split=split,
        train=train,
        train_note=note,
        batch_size=batch_size,
        resamples=resamples,
        seed=seed,
    )
