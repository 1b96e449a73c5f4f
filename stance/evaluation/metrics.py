"""Classification metrics as an `evaluate` module, computed offline.

`evaluate.load("f1")` fetches a script from the hub, which this package must never need, so the metrics
live here as a regular :class:`evaluate.Metric` (the same API: ``add_batch``, ``compute``) built on
scikit-learn, the library evaluate's own accuracy/F1 modules wrap.
"""

from __future__ import annotations

from typing import Any

import datasets
import evaluate
import numpy as np
from sklearn.metrics import accuracy_score, precision_recall_fscore_support

from ..labels import LABELS

_DESCRIPTION = (
    "Accuracy, macro/micro/weighted F1 and per-class precision, recall, F1 and support for "
    "the stance labels supportive, denying, neutral (integer ids in that order)."
)


class StanceMetrics(evaluate.Metric):
    """``StanceMetrics().compute(predictions=[...], references=[...])`` with label ids 0..2."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description="predictions and references: lists of label ids",
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(
        self, predictions: list[int], references: list[int], labels: list[str] | None = None
    ) -> dict[str, Any]:
        names = list(labels or LABELS)
        ids = list(range(len(names)))
        y_pred, y_true = np.asarray(predictions), np.asarray(references)
        out: dict[str, Any] = {"accuracy": float(accuracy_score(y_true, y_pred))}
        for average in ("macro", "micro", "weighted"):
            _, _, f1, _ = precision_recall_fscore_support(y_true, y_pred, labels=ids, average=average, zero_division=0)
            out[f"{average}_f1"] = float(f1)
        precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=ids, zero_division=0)
        out["per_class"] = {
            name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(names, precision, recall, f1, support)
        }
        return out


def compute_metrics(predictions: Any, references: Any) -> dict[str, Any]:
    """One-shot helper around :class:`StanceMetrics`."""
    return StanceMetrics().compute(predictions=[int(p) for p in predictions], references=[int(r) for r in references])
