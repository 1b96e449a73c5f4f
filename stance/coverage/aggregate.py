"""Coverage summed up per source x period: verdict shares, and sentence prevalence raw and error-adjusted.

Everything is accumulated as sums per cell (a source in a period, each source over all periods, all
sources per period, everything), so memory grows with the number of cells, never with the articles. The
label counts are whole numbers, which the order of the articles cannot change; the sums of probabilities
behind PACC are float64, which it can change only in the last bits.

* **Verdict shares**: the share of a cell's articles with each verdict, with a 95% Wilson interval.
* **Raw sentence prevalence** (classify and count): predicted sentences of each label / all sentences. Its
  95% interval treats articles as the sampled units (sentences of one article are not independent): the
  variance of the ratio estimator sum(c_i) / sum(m_i) over articles by linearisation, turned into an
  effective sample size for a Wilson interval.
* **Adjusted prevalence**: what the classifier reports, q, is what the true prevalence p looks like
  through its errors, q = M p, with M measured on held-out data (:mod:`stance.evaluation.error_matrix`); the
  estimate solves for p with QuaPy (``ACC.solve_adjustment``, matrix inversion) and clips to the simplex
  (``normalize_prevalence``, clip). With the held-out examples' probabilities stored (schema 2) this is
  **PACC** (probabilistic adjusted classify and count, Bella et al. 2010): q is the cell's mean probability
  of each label and M[i, j] the mean probability of label i on held-out examples of gold j. With counts
  only it is **ACC**: q the predicted-label shares, M[i, j] = P(predicted i | gold j). PACC uses how sure
  the model is, not only its top label, and scored lower errors on the shipped corpus (README, tracking).
  Its interval is a Monte Carlo percentile interval over both sources of error: q drawn from its normal
  approximation (the article-level covariance above) and M from a bootstrap of the held-out examples.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..evaluation.error_matrix import ErrorMatrix
from ..inference.articles import VERDICTS
from ..labels import LABELS

ALL = "(all)"
LEVEL = 0.95
Z = 1.959963984540054  # the standard normal's 97.5% quantile
DEFAULT_DRAWS = 2000
MIN_ARTICLES = 2  # fewer articles in a cell: no sentence-level interval (its variance cannot be estimated)


@dataclass
class Cell:
    """Whole-number sums over the articles of one cell (c: an article's label counts, m: its sentences)."""

    articles: int = 0
    verdicts: np.ndarray = field(default_factory=lambda: np.zeros(len(VERDICTS), dtype=np.int64))
    counts: np.ndarray = field(default_factory=lambda: np.zeros(len(LABELS), dtype=np.int64))  # sum c
    cc: np.ndarray = field(default_factory=lambda: np.zeros((len(LABELS), len(LABELS)), dtype=np.int64))  # sum cc'
    cm: np.ndarray = field(default_factory=lambda: np.zeros(len(LABELS), dtype=np.int64))  # sum c m
    mm: int = 0  # sum m^2
    soft: np.ndarray = field(default_factory=lambda: np.zeros(len(LABELS)))  # sum s (s: an article's probability sums)
    ss: np.ndarray = field(default_factory=lambda: np.zeros((len(LABELS), len(LABELS))))  # sum ss'
    sm: np.ndarray = field(default_factory=lambda: np.zeros(len(LABELS)))  # sum s m

    @property
    def sentences(self) -> int:
        return int(self.counts.sum())

    def add(self, verdict: int, counts: np.ndarray, outer: np.ndarray, m: int, soft: np.ndarray) -> None:
        self.articles += 1
        self.verdicts[verdict] += 1
        self.counts += counts
        self.cc += outer
        self.cm += counts * m
        self.mm += m * m
        self.soft += soft
        self.ss += np.outer(soft, soft)
        self.sm += soft * m

    def covariance(self, soft: bool = False) -> np.ndarray | None:
        """Covariance across articles of the raw prevalence vector (of the mean probabilities with ``soft``);
        ``None`` below :data:`MIN_ARTICLES`."""
        n, total = self.articles, self.sentences
        if n < MIN_ARTICLES or total == 0:
            return None
        sums, cross, with_m = (self.soft, self.ss, self.sm) if soft else (self.counts, self.cc, self.cm)
        q = sums / total
        residual = cross - np.outer(q, with_m) - np.outer(with_m, q) + np.outer(q, q) * self.mm
        return n / (n - 1) * residual / total**2


class Accumulator:
    """The cells of a run: ``add`` each article once; memory is one :class:`Cell` per cell."""

    def __init__(self) -> None:
        self.cells: dict[tuple[str, str], Cell] = {}

    def add(self, source: str, period: str, verdict: str, counts: np.ndarray, soft: np.ndarray | None = None) -> None:
        """One article: its verdict, its sentences' label ``counts`` and ``soft``, the sums of their
        probabilities (default: the counts, as if every sentence were classified with certainty)."""
        index, counts = VERDICTS.index(verdict), np.asarray(counts, dtype=np.int64)
        soft = counts.astype(np.float64) if soft is None else np.asarray(soft, dtype=np.float64)
        outer, m = np.outer(counts, counts), int(counts.sum())
        for key in {(source, period), (source, ALL), (ALL, period), (ALL, ALL)}:
            self.cells.setdefault(key, Cell()).add(index, counts, outer, m, soft)


def wilson(k: float, n: float, z: float = Z) -> tuple[float, float]:
    """Wilson score interval of a proportion k/n; ``n`` may be an effective (non-integer) sample size."""
    if n <= 0:
        return math.nan, math.nan
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low, high = max(0.0, centre - half), min(1.0, centre + half)
    return (0.0 if k <= 0 else low), (1.0 if k >= n else high)  # exact at the ends, no rounding residue


def acc(raw: np.ndarray, rates: np.ndarray) -> np.ndarray | None:
    """Adjusted classify and count: QuaPy's ACC adjustment of ``raw`` (inversion), clipped to the simplex;
    ``None`` when ``rates`` is singular or has unknown columns."""
    from quapy.functional import normalize_prevalence
    from quapy.method.aggregative import ACC

    if not np.all(np.isfinite(rates)):
        return None
    try:
        solved = ACC.solve_adjustment(rates, raw, method="inversion", solver="exact-raise")
    except np.linalg.LinAlgError:
        return None
    return np.asarray(normalize_prevalence(np.asarray(solved, dtype=np.float64), method="clip"))


class Adjuster:
    """PACC or ACC (the matrix's :attr:`~stance.evaluation.error_matrix.ErrorMatrix.method`) with an interval, for
    many cells against one error matrix (its replicates drawn once)."""

    def __init__(self, matrix: ErrorMatrix, draws: int = DEFAULT_DRAWS, seed: int = 0) -> None:
        self.matrix, self.draws, self.seed = matrix, draws, seed
        self.method = matrix.method
        self.soft = self.method == "PACC"  # adjusts the cells' mean probabilities, not their label shares
        self.rates = matrix.adjustment_rates()
        replicates = matrix.resampled_adjustment_rates(draws, seed)
        usable = np.all(np.isfinite(replicates), axis=(1, 2))
        # the same linear system ACC.solve_adjustment solves, for every replicate at once
        self.inverses = np.linalg.pinv(replicates[usable])

    def estimate(self, raw: np.ndarray, cov: np.ndarray | None, key: str) -> dict[str, Any] | None:
        """The adjusted prevalence and its interval (``None`` bounds without a covariance)."""
        from quapy.functional import normalize_prevalence

        point = acc(raw, self.rates)
        if point is None:
            return None
        low = high = [math.nan] * len(LABELS)
        if cov is not None and len(self.inverses):
            rng = np.random.default_rng([self.seed, _stable_int(key)])
            drawn = rng.multivariate_normal(raw, cov, size=len(self.inverses), method="eigh", check_valid="ignore")
            solved = np.einsum("bij,bj->bi", self.inverses, drawn)
            clipped = np.asarray(normalize_prevalence(solved, method="clip"))
            low, high = np.quantile(clipped, [(1 - LEVEL) / 2, 1 - (1 - LEVEL) / 2], axis=0)
        return {
            label: {"share": float(point[i]), "low": float(low[i]), "high": float(high[i])}
            for i, label in enumerate(LABELS)
        }


def matrix_problem(matrix: ErrorMatrix) -> str:
    """Why ``matrix`` cannot adjust prevalence ("" when it can)."""
    missing = matrix.missing()
    if missing:
        return f"it has no held-out example of {', '.join(missing)}, so those error rates are unknown"
    if acc(np.full(len(LABELS), 1 / len(LABELS)), matrix.adjustment_rates()) is None:
        return "it is singular (the model never tells some labels apart on held-out data)"
    return ""


def _stable_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


def _raw(cell: Cell, cov: np.ndarray | None) -> dict[str, Any]:
    total = cell.sentences
    out = {}
    for i, label in enumerate(LABELS):
        share = cell.counts[i] / total if total else math.nan
        low = high = math.nan
        if cov is not None:
            variance = cov[i, i]
            # effective sample size: the n a simple random sample of sentences would need for this variance
            n_eff = share * (1 - share) / variance if variance > 0 else float(total)
            low, high = wilson(share * n_eff, n_eff)
        out[label] = {"share": float(share), "low": float(low), "high": float(high)}
    return out


def _order(cells: dict[tuple[str, str], Cell]) -> list[tuple[str, str]]:
    """(all) first, then sources by article count (largest first) and name; periods in time order, (all) last."""
    size = {source: cell.articles for (source, period), cell in cells.items() if period == ALL}
    sources = sorted(size, key=lambda s: (s != ALL, -size[s], s))
    rank = {s: i for i, s in enumerate(sources)}
    return sorted(cells, key=lambda k: (rank[k[0]], k[1] == ALL, k[1]))


def summarise(accumulator: Accumulator, adjuster: Adjuster | None) -> list[dict[str, Any]]:
    """One row per cell: articles, verdict shares with Wilson intervals, raw and adjusted sentence prevalence."""
    rows = []
    for source, period in _order(accumulator.cells):
        cell = accumulator.cells[(source, period)]
        cov = cell.covariance()
        raw = _raw(cell, cov)
        adjusted = None
        if adjuster is not None and cell.sentences:
            if adjuster.soft:
                observed, spread = cell.soft / cell.sentences, cell.covariance(soft=True)
            else:
                observed, spread = np.array([raw[label]["share"] for label in LABELS]), cov
            adjusted = adjuster.estimate(observed, spread, f"{source}\x1f{period}")
        rows.append(
            {
                "source": source,
                "period": period,
                "articles": cell.articles,
                "sentences": cell.sentences,
                "verdicts": {
                    verdict: {
                        "count": int(count),
                        "share": count / cell.articles,
                        **dict(zip(("low", "high"), wilson(int(count), cell.articles))),
                    }
                    for verdict, count in zip(VERDICTS, cell.verdicts)
                },
                "raw": raw,
                "adjusted": adjusted,
            }
        )
    return rows


def flat(row: dict[str, Any]) -> dict[str, Any]:
    """A summary row as flat CSV columns (blank where a figure is not available)."""
    out: dict[str, Any] = {key: row[key] for key in ("source", "period", "articles", "sentences")}
    for verdict, figures in row["verdicts"].items():
        out[f"{verdict}_articles"] = figures["count"]
        for key in ("share", "low", "high"):
            out[f"{verdict}_share{'' if key == 'share' else '_' + key}"] = _num(figures[key])
    for kind in ("raw", "adjusted"):
        for label in LABELS:
            figures = (row[kind] or {}).get(label, {})
            for key in ("share", "low", "high"):
                out[f"{kind}_{label}{'' if key == 'share' else '_' + key}"] = _num(figures.get(key, math.nan))
    return out


def _num(value: float) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"


def clean(value: Any) -> Any:
    """NaN as ``None`` (JSON ``null``), recursively."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
