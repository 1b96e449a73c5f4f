"""Describing annotated data: counts per split, label, source and phenomenon, and text lengths in tokens.

Used by ``stance data stats`` and by ``scripts/dataset_card_stats.py`` (which writes the tables of
``data/README.md``), so the card's numbers and the command's are the same computation.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from datasets import Dataset

from ..config import DataConfig, StanceConfig
from ..labels import LABELS
from .examples import read_files
from .fields import parse_tags
from .formats import expand_paths

PERCENTILES = (50, 90, 95, 99)
ALL = "all"


@dataclass
class TokenLengths:
    """Length of the text alone (no special tokens) and of the (target, text) pair as the model reads it."""

    tokenizer: str
    max_length: int
    text: dict[str, dict[str, float]] = field(default_factory=dict)  # part -> {p50, ..., max, mean}
    pairs_over_max_length: dict[str, int] = field(default_factory=dict)


@dataclass
class DataStats:
    rows: dict[str, int]
    groups: dict[str, int]  # distinct articles (groups) per part; empty when the files have none
    labels: dict[str, dict[str, int]]  # category -> part -> count (parts include "all")
    sources: dict[str, dict[str, int]]
    phenomena: dict[str, dict[str, int]]
    tokens: TokenLengths | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _table(
    parts: dict[str, Dataset], values: dict[str, Iterable[Iterable[str]]], order: Sequence[str] = ()
) -> dict[str, dict[str, int]]:
    counts = {name: Counter(v for row in values[name] for v in row) for name in parts}
    counts[ALL] = sum(counts.values(), Counter())
    rest = sorted(k for k in counts[ALL] if k not in order)
    keys = [k for k in order if k in counts[ALL]] + sorted(rest, key=lambda k: (k.startswith("("), k))
    return {key: {name: counts[name][key] for name in counts} for key in keys}


def compute_stats(
    parts: dict[str, Dataset],
    tokenizer: Any = None,
    *,
    max_length: int = 128,
    tokenizer_name: str | None = None,
    source_column: str = "source",
    phenomena_column: str = "phenomena",
) -> DataStats:
    """Counts for each part and for all together; token lengths when a tokenizer is given."""
    rows = {name: len(ds) for name, ds in parts.items()}
    rows[ALL] = sum(rows.values())
    groups: dict[str, int] = {}
    grouped = {name: {g for g, i in zip(ds["group"], ds["id"]) if g != i} for name, ds in parts.items()}
    if any(grouped.values()):
        groups = {name: len(g) for name, g in grouped.items()}
        groups[ALL] = len(set().union(*grouped.values()))
    labels = _table(
        parts, {n: ([lab or "(unlabelled)"] for lab in ds["label"]) for n, ds in parts.items()}, order=LABELS
    )
    sources = _table(
        parts, {n: ([str(s)] for s in _column(ds, source_column) if s is not None) for n, ds in parts.items()}
    )
    phenomena = {}
    if any(phenomena_column in ds.column_names for ds in parts.values()):
        phenomena = _table(
            parts,
            {n: (parse_tags(t) or ["(no tag)"] for t in _column(ds, phenomena_column)) for n, ds in parts.items()},
        )
    stats = DataStats(rows, groups, labels, sources, phenomena)
    if tokenizer is not None:
        stats.tokens = token_lengths(parts, tokenizer, max_length, tokenizer_name)
    return stats


def _column(ds: Dataset, name: str) -> list[Any]:
    return list(ds[name]) if name in ds.column_names else []


def token_lengths(parts: dict[str, Dataset], tokenizer: Any, max_length: int, name: str | None = None) -> TokenLengths:
    """Percentiles of text length (the smallest length that q% of texts fit in) and truncated pairs."""
    name = name or str(getattr(tokenizer, "name_or_path", type(tokenizer).__name__))
    out = TokenLengths(name, max_length)
    every: list[int] = []
    for part, ds in list(parts.items()) + [(ALL, None)]:
        if ds is None:
            lengths = np.array(every, dtype=int)
            out.pairs_over_max_length[ALL] = sum(out.pairs_over_max_length.values())
        else:
            texts = tokenizer(list(ds["text"]), add_special_tokens=False, verbose=False)["input_ids"]
            lengths = np.array([len(ids) for ids in texts], dtype=int)
            pairs = tokenizer(list(ds["target"]), list(ds["text"]), verbose=False)["input_ids"]
            out.pairs_over_max_length[part] = sum(len(ids) > max_length for ids in pairs)
            every.extend(lengths.tolist())
        if len(lengths):
            quantiles = {f"p{q}": float(np.percentile(lengths, q, method="inverted_cdf")) for q in PERCENTILES}
            out.text[part] = {**quantiles, "max": float(lengths.max()), "mean": round(float(lengths.mean()), 1)}
    return out


def part_names(paths: Sequence[str | Path]) -> dict[str, Path]:
    """Short names for the files: their stems (``train``, ``dev``) when unique, else the paths."""
    expanded = expand_paths(list(paths))
    stems = [p.stem if p.suffix else p.name for p in expanded]
    if len(set(stems)) == len(stems):
        return dict(zip(stems, expanded))
    return {str(p): p for p in expanded}


def describe_files(
    paths: Sequence[str | Path], config: StanceConfig, *, tokenizer: Any = None, tokenizer_name: str | None = None
) -> DataStats:
    """Read (and validate) the files, then :func:`compute_stats` (token lengths when a tokenizer is given:
    :func:`stance.modeling.load_tokenizer` loads the config's base one)."""
    parts = read_files(part_names(paths), config.data, labelled=False, leakage=False)
    return compute_stats(parts, tokenizer, max_length=config.model.max_length, tokenizer_name=tokenizer_name)


def _markdown(title: str, table: dict[str, dict[str, int]], totals: dict[str, int], percent: bool = False) -> list[str]:
    names = list(totals)
    lines = [f"| {title} | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for key, counts in table.items():
        cells = [
            f"{counts[n]} ({100 * counts[n] / totals[n]:.1f}%)" if percent and totals[n] else str(counts[n])
            for n in names
        ]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return lines


def to_markdown(stats: DataStats) -> str:
    """Markdown tables (one column per part plus ``all``), as pasted into dataset cards."""
    rows = stats.rows
    out = _markdown("", {"sentences": rows, **({"articles": stats.groups} if stats.groups else {})}, rows)
    sections = [("label", stats.labels, True), ("source", stats.sources, False), ("phenomenon", stats.phenomena, False)]
    for title, table, percent in sections:
        if table:
            out += ["", *_markdown(title, table, rows, percent)]
    if stats.tokens is not None:
        t = stats.tokens
        out += [
            "",
            (
                f"Text length in tokens of `{t.tokenizer}` (text only, no special tokens); "
                f"pairs longer than max_length {t.max_length} are truncated:"
            ),
            "",
        ]
        keys = [f"p{q}" for q in PERCENTILES] + ["max", "mean"]
        out += ["| tokens | " + " | ".join(t.text) + " |", "|---|" + "---:|" * len(t.text)]
        for key in keys:
            out.append(f"| {key} | " + " | ".join(f"{t.text[n][key]:g}" for n in t.text) + " |")
        out.append(f"| pairs > {t.max_length} | " + " | ".join(str(t.pairs_over_max_length[n]) for n in t.text) + " |")
    return "\n".join(out)


def article_labels(path: str | Path) -> dict[str, dict[str, int]]:
    """Article-level labels per split from an ``articles.jsonl`` (rows with ``label`` and ``split``)."""
    rows = [json.loads(line) for line in Path(path).read_text("utf-8").splitlines() if line.strip()]
    splits = list(dict.fromkeys(r.get("split", ALL) for r in sorted(rows, key=lambda r: str(r.get("split")))))
    counts = Counter((r["label"], r.get("split", ALL)) for r in rows)
    table = {label: {s: counts[label, s] for s in splits} for label in LABELS}
    for label in LABELS:
        table[label][ALL] = sum(table[label][s] for s in splits if s != ALL)
    return table


def corpus_tables(
    data_dir: str | Path = "data", tokenizer: Any = None, tokenizer_name: str | None = None, max_length: int = 128
) -> str:
    """The count tables of the shipped corpus's dataset card (``data/README.md``), from its files."""
    data_dir = Path(data_dir)
    parts = read_files({name: data_dir / f"{name}.jsonl" for name in ("train", "dev", "test")}, DataConfig())
    stats = compute_stats(parts, tokenizer, max_length=max_length, tokenizer_name=tokenizer_name)
    text = to_markdown(stats)
    articles = data_dir / "articles.jsonl"
    if articles.exists():
        table = article_labels(articles)
        totals = {s: sum(table[label][s] for label in LABELS) for s in stats.rows}
        text += "\n\n" + "\n".join(_markdown("article label", table, totals, percent=True))
    return text
