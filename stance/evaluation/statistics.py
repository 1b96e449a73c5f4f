"""The statistics of an evaluation: bootstrap intervals, calibration, breakdowns, error tables, baselines.

Everything takes gold and predicted label ids (or probabilities, columns in :data:`~stance.labels.LABELS`
order) as numpy arrays and returns plain figures; :mod:`stance.evaluation.evaluate` assembles them into the
typed ``metrics.json`` record of :mod:`stance.evaluation.schema`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from datasets import Dataset
from sklearn.metrics import f1_score

from ..data.fields import normalize_text, parse_tags
from ..errors import StanceError
from ..labels import LABEL2ID, LABELS
from .metrics import compute_metrics

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
CI_LEVEL = 0.95
ECE_BINS = 10
N_ERRORS = 10
NO_VALUE = "(none)"  # breakdown key for rows without a source or without any phenomena tag


def _f1_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Per-class F1 from confusion matrices ``(..., K, K)`` (rows gold); 0 where undefined, as sklearn's
    ``zero_division=0``."""
    tp = np.diagonal(cm, axis1=-2, axis2=-1).astype(float)
    denominator = cm.sum(axis=-2) + cm.sum(axis=-1)
    return np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)


def bootstrap(
    gold: np.ndarray,
    pred: np.ndarray,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = CI_LEVEL,
) -> dict[str, Any]:
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

    return {
        "accuracy": interval(acc),
        "macro_f1": interval(f1.mean(axis=1)),
        "per_class_f1": {label: interval(f1[:, i]) for i, label in enumerate(LABELS)},
    }


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
        row = {
            "low": float(edges[b]),
            "high": float(edges[b + 1]),
            "count": count,
            "confidence": float(confidence[inside].mean()) if count else 0.0,
            "accuracy": float(correct[inside].mean()) if count else 0.0,
        }
        ece += count / len(gold) * abs(row["accuracy"] - row["confidence"])
        table.append(row)
    return float(ece), table


def _slice_scores(gold: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    # macro-F1 over the labels present in the slice (gold or predicted): a slice of one class is not
    # punished for the classes it cannot contain
    return {
        "n": len(gold),
        "accuracy": float((gold == pred).mean()),
        "macro_f1": float(f1_score(gold, pred, average="macro", zero_division=0)),
    }


def breakdowns(ds: Dataset, gold: np.ndarray, pred: np.ndarray) -> dict[str, dict[str, Any]]:
    """Scores per source, per target and per phenomena tag (a row counts once under each of its tags);
    a column the data lacks gives an empty mapping. Slices are ordered by size, largest first."""
    out: dict[str, dict[str, Any]] = {}
    for column in ("source", "target", "phenomena"):
        members: dict[str, list[int]] = {}
        if column in ds.column_names:
            for i, value in enumerate(ds[column]):
                keys = (
                    (parse_tags(value) or [NO_VALUE])
                    if column == "phenomena"
                    else [str(value) if value not in (None, "") else NO_VALUE]
                )
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
        return [
            {
                "id": ids[i],
                "text": texts[i],
                "gold": LABELS[gold[i]],
                "predicted": LABELS[pred[i]],
                "confidence": float(confidence[i]),
            }
            for i in index[:n]
        ]

    return {
        "confident_wrong": rows(wrong[np.argsort(-confidence[wrong], kind="stable")]),
        "unsure_right": rows(right[np.argsort(confidence[right], kind="stable")]),
    }


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
            LogisticRegression(max_iter=2000, class_weight="balanced", random_state=seed),
        )
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
    seen = {(t, normalize_text(x)) for t, x in zip(train["target"], train["text"])}
    return sum((t, normalize_text(x)) in seen for t, x in zip(test["target"], test["text"]))


def confusion(gold: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Counts, rows gold, columns predicted, in LABELS order."""
    k = len(LABELS)
    return np.bincount(gold * k + pred, minlength=k * k).reshape(k, k)
