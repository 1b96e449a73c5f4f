"""Evaluating a trained model on labelled examples, honestly enough for small test sets.

:func:`evaluate_model` (``stance evaluate``) and :func:`evaluate_dataset` (the end of ``stance train``)
return an :class:`Evaluation`: the ``metrics.json`` content documented in :mod:`stance.report` (point
metrics through :class:`~stance.metrics.StanceMetrics`, seeded percentile-bootstrap intervals, expected
calibration error, breakdowns per source/target/phenomena tag, error tables, and majority-class and
TF-IDF + logistic-regression baselines trained on the model's own training split), plus one prediction
row per example and the reliability bins the plots need.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from datasets import Dataset
from sklearn.metrics import f1_score

from .config import DataConfig, StanceConfig, load_config
from .data import load_splits, read_examples
from .errors import StanceError
from .labels import LABEL2ID, LABELS
from .metrics import compute_metrics
from .modeling import TrainedModel, load_trained, score_pairs, stored_default_target
from .readers import SUFFIXES

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
CI_LEVEL = 0.95
ECE_BINS = 10
N_ERRORS = 10
SPLITS = ("train", "dev", "test")
MODEL_CONFIG = "stance_config.yaml"  # the resolved training config that `stance train` copies into DIR/model
NO_VALUE = "(none)"  # breakdown key for rows without a source or without any phenomena tag
PREDICT_HINT = "to classify unlabelled sentences use `stance predict MODEL_DIR --input FILE`"


@dataclass
class Evaluation:
    """``results`` is metrics.json without its ``images`` key; ``predictions`` are predictions.jsonl rows."""

    results: dict[str, Any]
    predictions: list[dict[str, Any]]
    reliability: list[dict[str, float]] = field(default_factory=list)  # per-bin confidence/accuracy/count


# ---------------------------------------------------------------------------------------------------------
# Finding and reading the data.

def model_config(model_dir: str | Path) -> StanceConfig | None:
    """The training config saved in a model folder, or ``None`` (a hub model, an older folder)."""
    path = Path(model_dir) / MODEL_CONFIG
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
            raise StanceError(f"--split {split}: {path} is a data file; --split picks a file only when DATA is "
                              "a config or a corpus folder")
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
        raise StanceError(f"{path}: {what} {split} file ({split}.jsonl, {split}.csv, {split}.tsv or "
                          f"{split}.parquet) in the folder; it holds: {present}")
    return found[0], split, columns


def read_labelled(path: str | Path, columns: DataConfig) -> Dataset:
    """Read a file that must carry a gold label on every row; unlabelled data gets a pointer to predict."""
    ds = read_examples(path, columns, labelled=False)
    missing = sum(label is None for label in ds["label"])
    if missing == len(ds):
        raise StanceError(f"{path}: no gold labels (field '{columns.label_column}' is missing or empty in every "
                          f"row), so there is nothing to evaluate against; {PREDICT_HINT}")
    if missing:
        read_examples(path, columns, labelled=True)  # raises, naming every unlabelled row
    return ds


def training_split(model_dir: str | Path) -> tuple[Dataset | None, str]:
    """The model's own training split (from its stance_config.yaml), or ``None`` and why not."""
    try:
        config = model_config(model_dir)
    except StanceError as exc:
        return None, f"baselines skipped: {model_dir}/{MODEL_CONFIG} is unreadable ({exc})"
    if config is None:
        return None, f"baselines skipped: {model_dir} has no {MODEL_CONFIG}, so its training split is unknown"
    try:
        train = load_splits(config.data, with_test=False)["train"]
    except StanceError as exc:
        first = str(exc).splitlines()[0]
        return None, f"baselines skipped: cannot read the training split {config.data.train} ({first})"
    return train, f"baselines trained on {config.data.train} ({len(train)} examples, the model's training split)"


# ---------------------------------------------------------------------------------------------------------
# Statistics.

def _f1_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Per-class F1 from confusion matrices ``(..., K, K)`` (rows gold); 0 where undefined, as sklearn's
    ``zero_division=0``."""
    tp = np.diagonal(cm, axis1=-2, axis2=-1).astype(float)
    denominator = cm.sum(axis=-2) + cm.sum(axis=-1)
    return np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)


def bootstrap(gold: np.ndarray, pred: np.ndarray, *, resamples: int = DEFAULT_RESAMPLES,
              seed: int = DEFAULT_SEED, level: float = CI_LEVEL) -> dict[str, Any]:
    """Percentile-bootstrap intervals for accuracy, macro-F1 and each class's F1.

    Examples are resampled with replacement ``resamples`` times from a seeded generator; each resample's
    confusion matrix comes from one ``bincount``, in chunks that keep memory bounded for large sets.
    """
    if resamples < 1:
        raise StanceError(f"resamples must be >= 1, got {resamples}")
    k, n = len(LABELS), len(gold)
    codes = gold * k + pred
    rng = np.random.default_rng(seed)
    accuracy, per_class = [], []
    chunk = max(1, 2_000_000 // max(n, 1))
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        drawn = codes[rng.integers(0, n, size=(size, n))] + (np.arange(size) * k * k)[:, None]
        cm = np.bincount(drawn.ravel(), minlength=size * k * k).reshape(size, k, k)
        accuracy.append(np.trace(cm, axis1=1, axis2=2) / n)
        per_class.append(_f1_from_confusion(cm))
    acc, f1 = np.concatenate(accuracy), np.concatenate(per_class)
    tails = [(1 - level) / 2, 1 - (1 - level) / 2]

    def interval(values: np.ndarray) -> dict[str, Any]:
        low, high = np.quantile(values, tails)
        return {"low": float(low), "high": float(high), "level": level, "resamples": resamples, "seed": seed}

    return {"accuracy": interval(acc), "macro_f1": interval(f1.mean(axis=1)),
            "per_class_f1": {label: interval(f1[:, i]) for i, label in enumerate(LABELS)}}


def calibration(gold: np.ndarray, probs: np.ndarray, bins: int = ECE_BINS) -> tuple[float, list[dict[str, float]]]:
    """Expected calibration error of the top-label confidence over ``bins`` equal-width bins, and the bins."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == gold
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    ece, table = 0.0, []
    for b in range(bins):
        inside = index == b
        count = int(inside.sum())
        row = {"low": float(edges[b]), "high": float(edges[b + 1]), "count": count,
               "confidence": float(confidence[inside].mean()) if count else 0.0,
               "accuracy": float(correct[inside].mean()) if count else 0.0}
        ece += count / len(gold) * abs(row["accuracy"] - row["confidence"])
        table.append(row)
    return float(ece), table


def _slice_scores(gold: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    # macro-F1 over the labels present in the slice (gold or predicted): a slice of one class is not
    # punished for the classes it cannot contain
    return {"n": int(len(gold)), "accuracy": float((gold == pred).mean()),
            "macro_f1": float(f1_score(gold, pred, average="macro", zero_division=0))}


def _tags(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):  # CSV cells: "headline;negation" or "headline, negation"
        return [t.strip() for t in value.replace(";", ",").replace("|", ",").split(",") if t.strip()]
    if isinstance(value, Sequence):
        return [str(t) for t in value if str(t).strip()]
    return [str(value)]


def breakdowns(ds: Dataset, gold: np.ndarray, pred: np.ndarray) -> dict[str, dict[str, Any]]:
    """Scores per source, per target and per phenomena tag (a row counts once under each of its tags);
    a column the data lacks gives an empty mapping. Slices are ordered by size, largest first."""
    out: dict[str, dict[str, Any]] = {}
    for column in ("source", "target", "phenomena"):
        members: dict[str, list[int]] = {}
        if column in ds.column_names:
            for i, value in enumerate(ds[column]):
                keys = (_tags(value) or [NO_VALUE]) if column == "phenomena" else \
                    [str(value) if value not in (None, "") else NO_VALUE]
                for key in dict.fromkeys(keys):
                    members.setdefault(key, []).append(i)
        ordered = sorted(members.items(), key=lambda item: (-len(item[1]), item[0]))
        out[column] = {key: _slice_scores(gold[rows], pred[rows]) for key, rows in ordered}
    return out


def error_tables(ds: Dataset, gold: np.ndarray, probs: np.ndarray, n: int = N_ERRORS) -> dict[str, list[dict]]:
    """The ``n`` most confident wrong predictions and the ``n`` least confident right ones."""
    pred, confidence = probs.argmax(axis=1), probs.max(axis=1)
    wrong, right = np.flatnonzero(pred != gold), np.flatnonzero(pred == gold)
    ids, texts = ds["id"], ds["text"]

    def rows(index: np.ndarray) -> list[dict[str, Any]]:
        return [{"id": ids[i], "text": texts[i], "gold": LABELS[gold[i]], "predicted": LABELS[pred[i]],
                 "confidence": float(confidence[i])} for i in index[:n]]

    return {"confident_wrong": rows(wrong[np.argsort(-confidence[wrong], kind="stable")]),
            "unsure_right": rows(right[np.argsort(confidence[right], kind="stable")])}


def _pair_texts(ds: Dataset) -> list[str]:
    return [f"{target} [SEP] {text}" for target, text in zip(ds["target"], ds["text"])]


def baselines(train: Dataset, test: Dataset, seed: int = DEFAULT_SEED) -> tuple[dict[str, dict], list[str]]:
    """Majority class and TF-IDF (word 1-2-grams of target and sentence) + logistic regression, both fitted
    on ``train`` and scored on ``test`` with the same metrics as the model; notes say what was skipped."""
    from sklearn.dummy import DummyClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    y_train = [LABEL2ID[label] for label in train["label"]]
    y_test = [LABEL2ID[label] for label in test["label"]]
    keep = ("accuracy", "macro_f1", "micro_f1", "weighted_f1")
    models: dict[str, Any] = {"majority": DummyClassifier(strategy="most_frequent")}
    notes: list[str] = []
    if len(set(y_train)) > 1:
        models["tfidf_logreg"] = make_pipeline(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
            LogisticRegression(max_iter=2000, class_weight="balanced", random_state=seed))
    else:
        notes.append("TF-IDF baseline skipped: the training split has a single label")
    out = {}
    for name, model in models.items():
        model.fit(_pair_texts(train), y_train)
        scores = compute_metrics(model.predict(_pair_texts(test)), y_test)
        out[name] = {key: scores[key] for key in keep}
    return out, notes


def overlap(train: Dataset, test: Dataset) -> int:
    """How many evaluated examples repeat a (target, text) pair of the training split."""
    seen = {(t, " ".join(x.split()).lower()) for t, x in zip(train["target"], train["text"])}
    return sum((t, " ".join(x.split()).lower()) in seen for t, x in zip(test["target"], test["text"]))


# ---------------------------------------------------------------------------------------------------------
# Putting it together.

def predict_probs(trained: TrainedModel, ds: Dataset, batch_size: int = 64) -> np.ndarray:
    return score_pairs(trained, list(ds["target"]), list(ds["text"]), batch_size=batch_size)


def evaluate_predictions(ds: Dataset, probs: np.ndarray, *, model: str, path: str, split: str | None,
                         train: Dataset | None, train_note: str = "", resamples: int = DEFAULT_RESAMPLES,
                         seed: int = DEFAULT_SEED, n_errors: int = N_ERRORS) -> Evaluation:
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
            notes.append(f"{repeated} of {len(ds)} evaluated examples also occur in the model's training split: "
                         "the model's figures are optimistic")
    per_class = {label: {**scores["per_class"][label],
                         "f1_ci": {k: ci["per_class_f1"][label][k] for k in ("low", "high")}} for label in LABELS}
    results = {
        "schema_version": 1,
        "model": model,
        "data": {"path": path, "split": split, "n_examples": len(ds), "targets": sorted(set(ds["target"]))},
        "labels": list(LABELS),
        "metrics": {key: scores[key] for key in ("accuracy", "macro_f1", "micro_f1", "weighted_f1")},
        "confidence_intervals": {"accuracy": ci["accuracy"], "macro_f1": ci["macro_f1"]},
        "per_class": per_class,
        "confusion_matrix": {"labels": list(LABELS), "counts": _confusion(gold, pred).tolist()},
        "calibration": {"ece": ece, "bins": len(bins)},
        "baselines": found,
        "breakdowns": breakdowns(ds, gold, pred),
        "errors": error_tables(ds, gold, probs, n_errors),
        "notes": notes,
    }
    return Evaluation(results, prediction_rows(ds, gold, probs), bins)


def _confusion(gold: np.ndarray, pred: np.ndarray) -> np.ndarray:
    k = len(LABELS)
    return np.bincount(gold * k + pred, minlength=k * k).reshape(k, k)


def prediction_rows(ds: Dataset, gold: np.ndarray, probs: np.ndarray) -> list[dict[str, Any]]:
    pred = probs.argmax(axis=1)
    extra = [c for c in ("source", "phenomena") if c in ds.column_names]
    rows = []
    for i, record in enumerate(ds.select_columns(["id", "target", "text", *extra])):
        rows.append({**{k: record[k] for k in ("id", "target", "text")}, "gold": LABELS[gold[i]],
                     "predicted": LABELS[pred[i]], "correct": bool(gold[i] == pred[i]),
                     "confidence": round(float(probs[i, pred[i]]), 6),
                     "scores": {label: round(float(probs[i, j]), 6) for j, label in enumerate(LABELS)},
                     **{k: record[k] for k in extra}})
    return rows


def evaluate_dataset(trained: TrainedModel, ds: Dataset, *, path: str, split: str | None,
                     train: Dataset | None, train_note: str = "", batch_size: int = 64,
                     resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> Evaluation:
    """Score ``ds`` with a loaded model and evaluate it (used by ``stance train`` on its test split)."""
    probs = predict_probs(trained, ds, batch_size)
    return evaluate_predictions(ds, probs, model=trained.source, path=path, split=split, train=train,
                                train_note=train_note, resamples=resamples, seed=seed)


def evaluate_model(model_dir: str | Path, data: str | Path, *, split: str | None = None, batch_size: int = 64,
                   resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> Evaluation:
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
    return evaluate_dataset(trained, ds, path=str(path), split=split, train=train, train_note=note,
                            batch_size=batch_size, resamples=resamples, seed=seed)

