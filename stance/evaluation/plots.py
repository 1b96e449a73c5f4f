"""The report's figures as PNG files, drawn with matplotlib's Agg canvas.

Figures are built as :class:`matplotlib.figure.Figure` objects on a ``FigureCanvasAgg`` rather than through
``pyplot``: no global backend is switched, nothing needs a display, and no figure is left open.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 110


def _save(figure: Figure, path: Path) -> Path:
    FigureCanvasAgg(figure)
    figure.tight_layout()
    # no timestamp in the metadata: the same evaluation gives the same bytes
    figure.savefig(path, format="png", dpi=DPI, metadata={"Software": None})
    return path


def confusion_matrix(
    counts: Sequence[Sequence[int]], labels: Sequence[str], path: str | Path, *, normalize: bool = False
) -> Path:
    """Rows are gold labels, columns predictions; ``normalize`` divides each row by its total (recall)."""
    matrix = np.asarray(counts, dtype=float)
    if normalize:
        totals = matrix.sum(axis=1, keepdims=True)
        matrix = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    figure = Figure(figsize=(4.6, 4.0))
    ax = figure.add_subplot()
    image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1 if normalize else max(matrix.max(), 1))
    figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ticks = range(len(labels))
    ax.set_xticks(ticks, labels, rotation=30, ha="right")
    ax.set_yticks(ticks, labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title("Confusion matrix (row-normalised)" if normalize else "Confusion matrix (counts)")
    limit = (1 if normalize else matrix.max()) / 2
    for (row, col), value in np.ndenumerate(matrix):
        ax.text(
            col,
            row,
            f"{value:.2f}" if normalize else f"{int(value)}",
            ha="center",
            va="center",
            color="white" if value > limit else "black",
        )
    return _save(figure, Path(path))


def reliability(bins: Sequence[dict[str, Any]], ece: float, path: str | Path) -> Path:
    """Accuracy against mean confidence per confidence bin, the diagonal of perfect calibration, and how
    many predictions fall in each bin (lower panel)."""
    figure = Figure(figsize=(4.6, 4.8))
    top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    centres = np.array([(b["low"] + b["high"]) / 2 for b in bins])
    width = bins[0]["high"] - bins[0]["low"] if bins else 0.1
    counts = np.array([b["count"] for b in bins])
    filled = counts > 0
    top.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    top.bar(
        centres[filled],
        [b["accuracy"] for b, f in zip(bins, filled) if f],
        width=width * 0.9,
        color="#4c72b0",
        edgecolor="black",
        label="accuracy",
    )
    top.plot(
        centres[filled],
        [b["confidence"] for b, f in zip(bins, filled) if f],
        "o",
        color="#dd8452",
        label="mean confidence",
    )
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel("accuracy")
    top.set_title(f"Reliability (ECE = {ece:.3f})")
    top.legend(loc="upper left", fontsize="small")
    bottom.bar(centres, counts, width=width * 0.9, color="#8c8c8c")
    bottom.set_xlabel("confidence of the predicted label")
    bottom.set_ylabel("count")
    return _save(figure, Path(path))


def per_class_f1(per_class: dict[str, dict[str, Any]], path: str | Path) -> Path:
    """One bar per label with its bootstrap interval as an error bar."""
    labels = list(per_class)
    f1 = np.array([per_class[label]["f1"] for label in labels])
    low = np.array([per_class[label]["f1_ci"]["low"] for label in labels])
    high = np.array([per_class[label]["f1_ci"]["high"] for label in labels])
    figure = Figure(figsize=(4.6, 3.8))
    ax = figure.add_subplot()
    names = [f"{label}\n{value:.2f}\n[{lo:.2f}, {hi:.2f}]" for label, value, lo, hi in zip(labels, f1, low, high)]
    ax.bar(
        names,
        f1,
        color="#4c72b0",
        yerr=np.vstack([np.clip(f1 - low, 0, None), np.clip(high - f1, 0, None)]),
        capsize=6,
        ecolor="black",
    )
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("F1")
    ax.set_title("Per-class F1 with 95% bootstrap interval")
    return _save(figure, Path(path))
