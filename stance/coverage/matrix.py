"""The classifier's measured errors, stored with the model: ``MODEL_DIR/stance_error_matrix.json``.

Written by ``stance train`` after its test evaluation and by ``stance evaluate --store-error-matrix``
(:func:`stance.training.workflow.store_error_matrix`); read by ``stance track`` to adjust sentence-level
prevalence for the classifier's errors (adjusted classify-and-count, :mod:`stance.coverage.aggregate`)::

    {"schema_version": 1,
     "labels": ["supportive", "denying", "neutral"],
     "counts": [[...], [...], [...]],      # rows: gold label, columns: predicted label
     "rows": "gold", "columns": "predicted",
     "n": 342, "split": "test", "path": "data/test.jsonl", "targets": [...], "model": "runs/x/model"}

The matrix must come from data the model did not train on (a held-out split): adjusting with the errors a
model makes on its own training data would correct for errors it hides there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import StanceError
from ..labels import LABELS
from ..layout import ERROR_MATRIX_FILE

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ErrorMatrix:
    """Held-out confusion counts in :data:`LABELS` order, rows gold, columns predicted."""

    counts: np.ndarray
    split: str | None
    path: str
    targets: tuple[str, ...] = ()
    model: str = ""
    file: str = ""  # where it was read from ("" when built in memory)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    def missing(self) -> list[str]:
        """Gold labels without a single held-out example: their error rates are unknown."""
        return [label for label, total in zip(LABELS, self.counts.sum(axis=1)) if total == 0]

    def rates(self) -> np.ndarray:
        """``M[i, j] = P(predicted LABELS[i] | gold LABELS[j])``, each column summing to 1 (QuaPy's layout).
        A gold label without examples gives a column of NaN."""
        totals = self.counts.sum(axis=1, keepdims=True).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (self.counts / totals).T

    def resampled_rates(self, draws: int, seed: int) -> np.ndarray:
        """``draws`` bootstrap replicates of :meth:`rates`, shape ``(draws, K, K)``: each gold row's held-out
        examples resampled with replacement (a multinomial with the row's own total)."""
        rng = np.random.default_rng([seed, 0x5EED])
        rows = []
        for counts in self.counts:
            total = int(counts.sum())
            rows.append(rng.multinomial(total, counts / total, size=draws) if total else np.zeros((draws, len(counts))))
        replicate = np.stack(rows, axis=1).astype(np.float64)  # (draws, gold, predicted)
        totals = replicate.sum(axis=2, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.transpose(replicate / totals, (0, 2, 1))

    def describe(self) -> str:
        split = f"the {self.split} split " if self.split else ""
        return f"{split}{self.path} ({self.n} sentences)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "labels": list(LABELS),
            "counts": self.counts.astype(int).tolist(),
            "rows": "gold",
            "columns": "predicted",
            "n": self.n,
            "split": self.split,
            "path": self.path,
            "targets": list(self.targets),
            "model": self.model,
            **self.extra,
        }


def read_error_matrix(model_dir: str | Path) -> ErrorMatrix | None:
    """The matrix stored in a model folder, or ``None`` when there is none; a malformed file is an error."""
    path = Path(model_dir) / ERROR_MATRIX_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StanceError(
            f"{path}: not a JSON file ({exc}); delete it, or store it again with --store-error-matrix"
        ) from exc
    if not isinstance(data, dict):
        raise StanceError(f"{path}: expected a JSON object with labels and counts")
    for key in ("labels", "counts", "path"):
        if key not in data:
            raise StanceError(
                f"{path}: {key}: missing field; store it again with `stance evaluate --store-error-matrix`"
            )
    known = {"schema_version", "labels", "counts", "rows", "columns", "n", "split", "path", "targets", "model"}
    matrix = ErrorMatrix(
        counts=_ordered(data["labels"], data["counts"], str(path), "counts"),
        split=data.get("split"),
        path=str(data["path"]),
        targets=tuple(data.get("targets") or ()),
        model=str(data.get("model") or ""),
        file=str(path),
        extra={k: v for k, v in data.items() if k not in known},
    )
    if "n" in data and data["n"] != matrix.n:
        raise StanceError(f"{path}: n: {data['n']} but the counts add up to {matrix.n}")
    return matrix


def _ordered(labels: Any, counts: Any, where: str, name: str) -> np.ndarray:
    """Counts reordered into :data:`LABELS` order; anything else than a K x K table of counts is an error."""
    if not isinstance(labels, list) or sorted(map(str, labels)) != sorted(LABELS):
        raise StanceError(f"{where}: labels: expected {', '.join(LABELS)} (in any order), got {labels!r}")
    try:
        table = np.asarray(counts, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise StanceError(f"{where}: {name}: expected a {len(LABELS)}x{len(LABELS)} table of counts") from exc
    k = len(LABELS)
    if table.shape != (k, k) or not np.all(np.isfinite(table)) or (table < 0).any() or (table % 1).any():
        raise StanceError(f"{where}: {name}: expected a {k}x{k} table of non-negative whole counts, got {counts!r}")
    order = [labels.index(label) for label in LABELS]
    return table[np.ix_(order, order)].astype(np.int64)
