"""The tracking report's figures, drawn on matplotlib's Agg canvas (as :mod:`stance.evaluation.plots`)."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..inference.articles import VERDICTS
from ..labels import LABELS
from .aggregate import ALL
from .collection import period_start

DPI = 110
COLOURS = {"supportive": "#2a9d8f", "denying": "#e76f51", "mixed": "#8e6cb3", "neutral": "#9a9a9a"}
MAX_PANELS = 12  # sources drawn in the small multiples (the largest); the tables hold them all


def _save(figure: Figure, path: Path) -> Path:
    FigureCanvasAgg(figure)
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=DPI, metadata={"Software": None})
    return path


def _sources(rows: list[dict[str, Any]]) -> list[str]:
    """Sources in report order (largest first), without the (all) row when there is more than one source."""
    sources = [row["source"] for row in rows if row["period"] == ALL]
    return [s for s in sources if s != ALL] or [ALL]


def _series(rows: list[dict[str, Any]], source: str, period: str) -> list[dict[str, Any]]:
    return [row for row in rows if row["source"] == source and row["period"] != ALL] if period else []


def _dates(series: list[dict[str, Any]], period: str) -> list[dt.date]:
    return [period_start(row["period"], period) for row in series]


def _value(figure: Any) -> float:
    return math.nan if figure is None else float(figure)


def _short(name: str, width: int = 30) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def _date_axis(ax: Any, dates: list[dt.date]) -> None:
    import matplotlib.dates as mdates

    if len(set(dates)) < 2:  # one period: a single tick at it
        ax.set_xticks(sorted(set(dates)), [d.isoformat() for d in sorted(set(dates))])
        return
    locator = mdates.AutoDateLocator(maxticks=6)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.tick_params(axis="x", labelsize="small")


def shares_over_time(rows: list[dict[str, Any]], period: str, path: str | Path) -> Path:
    """Small multiples: per source, the share of its articles with each verdict, period by period."""
    sources = _sources(rows)[:MAX_PANELS]
    columns = min(3, len(sources))
    lines = math.ceil(len(sources) / columns)
    height = 2.5 * lines + 0.5
    figure = Figure(figsize=(4.4 * columns, height))
    axes = figure.subplots(lines, columns, sharex=True, sharey=True, squeeze=False).ravel()
    for ax, source in zip(axes, sources):
        series = _series(rows, source, period)
        dates = _dates(series, period)
        for verdict in VERDICTS:
            shares = [row["verdicts"][verdict]["share"] for row in series]
            ax.plot(dates, shares, marker="o", markersize=3, linewidth=1.4, color=COLOURS[verdict], label=verdict)
        total = sum(row["articles"] for row in series)
        ax.set_title(f"{_short(source)} ({total} articles)", fontsize="small")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        _date_axis(ax, dates)
    for ax in axes[len(sources) :]:
        ax.set_visible(False)
    for ax in axes[::columns]:
        ax.set_ylabel("share of articles")
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="upper center", ncol=len(VERDICTS), frameon=False)
    FigureCanvasAgg(figure)
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.4 / height))  # room for the legend on top
    figure.savefig(path, format="png", dpi=DPI, metadata={"Software": None})
    return Path(path)


def heatmap(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Sources (rows) x verdicts (columns): the share of each source's articles, over the whole span."""
    totals = {row["source"]: row for row in rows if row["period"] == ALL}
    sources = [ALL, *(s for s in _sources(rows) if s != ALL)] if len(totals) > 1 else list(totals)
    matrix = np.array([[totals[s]["verdicts"][v]["share"] for v in VERDICTS] for s in sources])
    names = [f"{_short(s)} (n={totals[s]['articles']})" for s in sources]
    figure = Figure(figsize=(5.5 + 0.1 * max(map(len, names)), 1.4 + 0.36 * len(sources)))
    ax = figure.add_subplot()
    ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(VERDICTS)), VERDICTS, fontsize="small")
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(sources)), names, fontsize="small")
    for (i, j), value in np.ndenumerate(matrix):
        colour = "white" if value > 0.5 else "black"
        ax.text(j, i, f"{value:.0%}", ha="center", va="center", color=colour, fontsize="small")
    ax.set_title("Article verdicts by source", pad=24, fontsize="medium")
    return _save(figure, Path(path))


def articles_over_time(rows: list[dict[str, Any]], period: str, path: str | Path) -> Path:
    """Articles per period: one line per source (the largest), and all sources together."""
    figure = Figure(figsize=(10.0, 4.0))
    ax = figure.add_subplot()
    sources = _sources(rows)
    if sources != [ALL]:
        series = _series(rows, ALL, period)
        ax.plot(_dates(series, period), [r["articles"] for r in series], color="black", linewidth=2, label="all")
    palette = [f"C{i}" for i in range(10)]
    for colour, source in zip(palette, sources[:10]):
        series = _series(rows, source, period)
        ax.plot(
            _dates(series, period),
            [r["articles"] for r in series],
            marker=".",
            color=colour,
            linewidth=1,
            label=_short(source),
        )
    ax.set_ylabel(f"articles per {period}")
    ax.set_ylim(bottom=0)
    _date_axis(ax, _dates(_series(rows, ALL if sources != [ALL] else sources[0], period), period))
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title("Coverage volume")
    return _save(figure, Path(path))


def prevalence(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Per source, the share of sentences of each side-taking label: raw (hollow) and adjusted (filled),
    with their 95% intervals."""
    totals = {row["source"]: row for row in rows if row["period"] == ALL}
    sources = [ALL, *(s for s in _sources(rows) if s != ALL)] if len(totals) > 1 else list(totals)
    labels = [label for label in LABELS if label != "neutral"]
    height = 1.8 + 0.42 * len(sources)
    figure = Figure(figsize=(8.4, height))
    ax = figure.add_subplot()
    y = np.arange(len(sources))[::-1].astype(float)
    for k, label in enumerate(labels):
        for kind, offset, filled in (("raw", -0.2, False), ("adjusted", 0.0, True)):
            figures = [(totals[s][kind] or {}).get(label) for s in sources]
            if all(f is None for f in figures):
                continue
            share = np.array([_value(f and f["share"]) for f in figures])
            low = np.array([_value(f and f["low"]) for f in figures])
            high = np.array([_value(f and f["high"]) for f in figures])
            error = np.vstack([np.nan_to_num(share - low), np.nan_to_num(high - share)]).clip(min=0)
            ax.errorbar(
                share,
                y + offset + 0.1 * k - 0.05,
                xerr=error,
                fmt="o",
                color=COLOURS[label],
                markerfacecolor=COLOURS[label] if filled else "white",
                capsize=3,
                label=f"{label}, {kind}",
            )
    ax.set_yticks(y, [_short(s) for s in sources])
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("share of sentences (95% interval)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("Sentence shares by source: raw and adjusted", fontsize="medium")
    handles, labels = ax.get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=4, frameon=False, fontsize="small")
    FigureCanvasAgg(figure)
    figure.tight_layout(rect=(0, 0.35 / height, 1, 1))  # room for the legend below
    figure.savefig(path, format="png", dpi=DPI, metadata={"Software": None})
    return Path(path)
