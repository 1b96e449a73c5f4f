"""Agreement between annotators on one batch: Krippendorff's alpha, Fleiss' kappa and Cohen's kappa.

The input is one list of votes per task (annotator id, label). Tasks with fewer than two votes carry no
information on agreement and are left out of every figure (Krippendorff's "pairable" values).

- **Krippendorff's alpha** (nominal), overall and per label (that label against the other two), through
  the ``krippendorff`` package: it allows any number of annotators per task.
- **Fleiss' kappa**, overall and per label (Fleiss 1971, eq. for category *j*), in the form that allows a
  varying number of annotators per task: P_i = Σ_j n_ij (n_ij - 1) / (n_i (n_i - 1)); p_j is label j's
  share of all votes.
- **Cohen's kappa** for each pair of annotators over the tasks both labelled (scikit-learn), the usual
  figure when a batch has exactly two annotators.

A figure that is undefined (every vote the same label, so chance agreement is 1) is ``None``, never NaN.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..labels import LABELS

Votes = Sequence[tuple[str, str]]  # (annotator id, label) for one task


@dataclass
class PairAgreement:
    annotators: tuple[str, str]
    tasks: int  # tasks both labelled
    observed: float | None  # share of those tasks where the two agree
    cohen_kappa: float | None


@dataclass
class Agreement:
    tasks: int  # tasks with at least two votes (the ones measured)
    votes: int  # votes on those tasks
    annotators: list[str]
    observed: float | None  # share of agreeing vote pairs (Fleiss' mean P_i)
    krippendorff_alpha: float | None
    fleiss_kappa: float | None
    per_label: dict[str, dict[str, float | None]] = field(default_factory=dict)  # label -> {alpha, kappa}
    pairs: list[PairAgreement] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _clean(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), 4)


def count_matrix(tasks: Sequence[Votes], labels: Sequence[str] = LABELS) -> np.ndarray:
    """(tasks, labels) matrix of how many annotators gave each label to each task."""
    index = {label: j for j, label in enumerate(labels)}
    counts = np.zeros((len(tasks), len(labels)), dtype=np.int64)
    for i, votes in enumerate(tasks):
        for _, label in votes:
            counts[i, index[label]] += 1
    return counts


def fleiss_kappa(counts: np.ndarray) -> tuple[float | None, float | None, list[float | None]]:
    """Observed agreement, Fleiss' kappa and each label's kappa from a count matrix (rows with >= 2 votes)."""
    counts = np.asarray(counts, dtype=np.float64)
    counts = counts[counts.sum(axis=1) >= 2]
    if not len(counts):
        return None, None, [None] * counts.shape[1]
    n = counts.sum(axis=1)
    agreeing = (counts * (counts - 1)).sum(axis=1) / (n * (n - 1))
    observed = float(agreeing.mean())
    p = counts.sum(axis=0) / n.sum()
    chance = float((p**2).sum())
    kappa = (observed - chance) / (1 - chance) if chance < 1 else math.nan
    per_label: list[float | None] = []
    pairs = float((n * (n - 1)).sum())
    for j in range(counts.shape[1]):
        spread = p[j] * (1 - p[j])
        if spread <= 0:
            per_label.append(None)
            continue
        disagreeing = float((counts[:, j] * (n - counts[:, j])).sum())
        per_label.append(_clean(1 - disagreeing / (pairs * spread)))
    return _clean(observed), _clean(kappa), per_label


def krippendorff_alpha(counts: np.ndarray) -> float | None:
    """Nominal alpha from a (tasks, values) count matrix; ``None`` when undefined (one value only)."""
    import krippendorff

    counts = np.asarray(counts, dtype=np.float64)
    counts = counts[counts.sum(axis=1) >= 2]
    if not len(counts) or np.count_nonzero(counts.sum(axis=0)) < 2:
        return None
    value = krippendorff.alpha(value_counts=counts, level_of_measurement="nominal")
    return _clean(value)


def cohen_kappa(first: Sequence[str], second: Sequence[str]) -> float | None:
    """Cohen's kappa of two annotators' labels on the same tasks; ``None`` when undefined."""
    from sklearn.metrics import cohen_kappa_score

    if len(first) < 1 or len(set(first) | set(second)) < 2:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        return _clean(cohen_kappa_score(list(first), list(second), labels=list(LABELS)))


def measure(tasks: Sequence[Votes]) -> Agreement:
    """Every agreement figure of a batch (see the module docstring); tasks with < 2 votes are left out."""
    measured = [votes for votes in tasks if len(votes) >= 2]
    counts = count_matrix(measured)
    observed, kappa, per_kappa = fleiss_kappa(counts) if measured else (None, None, [None] * len(LABELS))
    per_label: dict[str, dict[str, float | None]] = {}
    for j, label in enumerate(LABELS):
        binary = np.stack([counts[:, j], counts.sum(axis=1) - counts[:, j]], axis=1) if measured else counts
        per_label[label] = {
            "krippendorff_alpha": krippendorff_alpha(binary) if measured else None,
            "fleiss_kappa": per_kappa[j],
        }
    annotators = sorted({who for votes in tasks for who, _ in votes})
    pairs = []
    for a, b in itertools.combinations(annotators, 2):
        shared = [(dict(votes)[a], dict(votes)[b]) for votes in measured if a in dict(votes) and b in dict(votes)]
        if not shared:
            continue
        first, second = [s[0] for s in shared], [s[1] for s in shared]
        same = sum(x == y for x, y in shared) / len(shared)
        pairs.append(PairAgreement((a, b), len(shared), _clean(same), cohen_kappa(first, second)))
    return Agreement(
        tasks=len(measured),
        votes=int(counts.sum()),
        annotators=annotators,
        observed=observed,
        krippendorff_alpha=krippendorff_alpha(counts) if measured else None,
        fleiss_kappa=kappa,
        per_label=per_label,
        pairs=pairs,
    )


def describe(agreement: Agreement) -> list[str]:
    """The figures as a few lines for a terminal."""

    def show(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    if not agreement.tasks:
        return ["agreement: no task has two or more annotations; nothing to measure"]
    head = (
        f"agreement on {agreement.tasks} task(s) with 2+ annotations ({agreement.votes} votes, "
        f"{len(agreement.annotators)} annotator(s)): observed {show(agreement.observed)}, "
        f"Krippendorff's alpha {show(agreement.krippendorff_alpha)}, Fleiss' kappa {show(agreement.fleiss_kappa)}"
    )
    lines = [head]
    for label, figures in agreement.per_label.items():
        lines.append(
            f"  {label:<10} alpha {show(figures['krippendorff_alpha'])}, kappa {show(figures['fleiss_kappa'])}"
        )
    for pair in agreement.pairs:
        lines.append(
            f"  {pair.annotators[0]} ~ {pair.annotators[1]}: {pair.tasks} shared task(s), "
            f"observed {show(pair.observed)}, Cohen's kappa {show(pair.cohen_kappa)}"
        )
    return lines
