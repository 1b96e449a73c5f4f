"""The classifier's measured errors, stored with the model: ``MODEL_DIR/stance_error_matrix.json``.

Written by ``stance train`` after its test evaluation and by ``stance evaluate --store-error-matrix``
(:func:`stance.training.workflow.store_error_matrix`); read by ``stance track`` to adjust sentence-level
prevalence for the classifier's errors (:mod:`stance.coverage.aggregate`)::

    {"schema_version": 2,
     "labels": ["supportive", "denying", "neutral"],
     "counts": [[...], [...], [...]],      # rows: gold label, columns: predicted label
     "rows": "gold", "columns": "predicted",
     "n": 342, "split": "test", "path": "data/test.jsonl", "targets": [...], "model": "runs/x/model",
     "gold": ["denying", ...],              # per held-out example (schema 2): its gold label ...
     "scores": [[0.02, 0.91, 0.07], ...]}   # ... and the model's probabilities, in ``labels`` order

With the per-example probabilities the adjustment is probabilistic (PACC: the mean probability of each
label per gold label); a schema-1 file (counts only) still adjusts by counts (ACC).

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

SCHEMA_VERSION = 2
BOOTSTRAP_ELEMENTS = 1 << 20  # resampled example indices held at once
SCORE_TOLERANCE = 1e-3  # how far a stored probability row may sum from 1 (rounding)


@dataclass(frozen=True)
class ErrorMatrix:
    """Held-out confusion counts in :data:`LABELS` order, rows gold, columns predicted; with ``scores`` (n x K
    probabilities in :data:`LABELS` order) and ``gold`` (n label ids), the examples behind them."""

    counts: np.ndarray
    split: str | None
    path: str
    targets: tuple[str, ...] = ()
    model: str = ""
    file: str = ""  # where it was read from ("" when built in memory)
    extra: dict[str, Any] = field(default_factory=dict)
    scores: np.ndarray | None = None
    gold: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    @property
    def method(self) -> str:
        """``PACC`` (probabilistic adjusted classify and count) with per-example scores, else ``ACC``."""
        return "PACC" if self.scores is not None else "ACC"

    def missing(self) -> list[str]:
        """Gold labels without a single held-out example: their error rates are unknown."""
        return [label for label, total in zip(LABELS, self.counts.sum(axis=1)) if total == 0]

    def rates(self) -> np.ndarray:
        """``M[i, j] = P(predicted LABELS[i] | gold LABELS[j])``, each column summing to 1 (QuaPy's layout).
        A gold label without examples gives a column of NaN."""
        totals = self.counts.sum(axis=1, keepdims=True).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (self.counts / totals).T

    def soft_rates(self) -> np.ndarray:
        """``M[i, j] = E[P(LABELS[i]) | gold LABELS[j]]``, the mean probability the model gives each label on
        held-out examples of each gold label (PACC's matrix; columns sum to 1, NaN without examples)."""
        if self.scores is None or self.gold is None:
            raise ValueError("no per-example scores: soft rates need a schema-2 matrix")
        return np.stack([_column_mean(self.scores[self.gold == j]) for j in range(len(LABELS))], axis=1)

    def adjustment_rates(self) -> np.ndarray:
        """The matrix :attr:`method` adjusts with: :meth:`soft_rates` for PACC, :meth:`rates` for ACC."""
        return self.soft_rates() if self.scores is not None else self.rates()

    def resampled_adjustment_rates(self, draws: int, seed: int) -> np.ndarray:
        """``draws`` bootstrap replicates of :meth:`adjustment_rates`, shape ``(draws, K, K)``."""
        if self.scores is None or self.gold is None:
            return self.resampled_rates(draws, seed)
        rng = np.random.default_rng([seed, 0x5EED])
        columns = []
        for j in range(len(LABELS)):
            rows = self.scores[self.gold == j]
            if not len(rows):
                columns.append(np.full((draws, len(LABELS)), np.nan))
                continue
            # each gold row's examples resampled with replacement, its own size; in slices of draws, so a
            # large held-out set never needs a draws x n x K array at once
            step = max(1, BOOTSTRAP_ELEMENTS // len(rows))
            means = [
                rows[rng.integers(0, len(rows), size=(min(step, draws - start), len(rows)))].mean(axis=1)
                for start in range(0, draws, step)
            ]
            columns.append(np.concatenate(means))
        return np.stack(columns, axis=2)  # (draws, predicted, gold)

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

    @classmethod
    def from_examples(
        cls, gold: np.ndarray, scores: np.ndarray, split: str | None, path: str, **kw: Any
    ) -> ErrorMatrix:
        """The matrix of held-out examples: gold label ids and probabilities (n x K, :data:`LABELS` order)."""
        gold, scores = np.asarray(gold, dtype=np.int64), np.asarray(scores, dtype=np.float64)
        k = len(LABELS)
        counts = np.zeros((k, k), dtype=np.int64)
        np.add.at(counts, (gold, scores.argmax(axis=1)), 1)
        return cls(counts, split, path, scores=scores, gold=gold, **kw)

    def to_dict(self, examples: bool = True) -> dict[str, Any]:
        """The file's record; ``examples=False`` leaves out the per-example gold labels and scores."""
        with_examples = examples and self.scores is not None and self.gold is not None
        return {
            "schema_version": SCHEMA_VERSION if self.scores is not None else 1,  # 1: counts only
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
            **(
                {"gold": [LABELS[g] for g in self.gold], "scores": np.round(self.scores, 6).tolist()}
                if with_examples
                else {}
            ),
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
    known |= {"gold", "scores"}
    counts = _ordered(data["labels"], data["counts"], str(path), "counts")  # checks the labels too
    gold, scores = _examples(data, str(path))
    matrix = ErrorMatrix(
        counts=counts,
        split=data.get("split"),
        path=str(data["path"]),
        targets=tuple(data.get("targets") or ()),
        model=str(data.get("model") or ""),
        file=str(path),
        extra={k: v for k, v in data.items() if k not in known},
        scores=scores,
        gold=gold,
    )
    if "n" in data and data["n"] != matrix.n:
        raise StanceError(f"{path}: n: {data['n']} but the counts add up to {matrix.n}")
    if gold is not None and not np.array_equal(np.bincount(gold, minlength=len(LABELS)), matrix.counts.sum(axis=1)):
        raise StanceError(f"{path}: gold: its labels do not add up to the rows of counts; store the matrix again")
    return matrix


def _column_mean(rows: np.ndarray) -> np.ndarray:
    return rows.mean(axis=0) if len(rows) else np.full(len(LABELS), np.nan)


def _examples(data: dict[str, Any], where: str) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The per-example ``gold`` ids and ``scores`` (reordered into :data:`LABELS` order), or ``(None, None)``."""
    if "gold" not in data and "scores" not in data:
        return None, None
    gold, scores = data.get("gold"), data.get("scores")
    if not isinstance(gold, list) or not isinstance(scores, list) or len(gold) != len(scores):
        raise StanceError(f"{where}: gold, scores: expected two lists of the same length, one entry per example")
    bad = [label for label in gold if label not in LABELS]
    if bad:
        raise StanceError(f"{where}: gold: unknown label {bad[0]!r}; expected one of {', '.join(LABELS)}")
    try:
        table = np.asarray(scores, dtype=np.float64).reshape(len(scores), len(LABELS))
    except (TypeError, ValueError) as exc:
        raise StanceError(f"{where}: scores: expected one row of {len(LABELS)} probabilities per example") from exc
    if (
        not np.all(np.isfinite(table))
        or (table < 0).any()
        or np.abs(table.sum(axis=1) - 1).max(initial=0) > SCORE_TOLERANCE
    ):
        raise StanceError(f"{where}: scores: every row must hold probabilities that sum to 1")
    order = [data["labels"].index(label) for label in LABELS]
    return np.array([LABELS.index(label) for label in gold], dtype=np.int64), table[:, order]


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
