"""The pool to annotate from: candidate sentences (or pairs) with their article, context and claim.

A pool is any file ``stance predict --input`` reads (``.txt``, ``.jsonl``, ``.csv``/``.tsv``, ``.parquet``;
read by :func:`stance.inference.files.iter_input`, so a bad byte, an invalid row or a missing text column
is the same ``file:line`` error) or article text files split into sentences
(:func:`stance.inference.articles.split_sentences`). Each candidate keeps its article (the article id
column, e.g. ``article_id``; an article file is its own article), the sentences around it in that article
(``position`` orders them when the file has it, else the file's order) and its scalar extra columns
(source, date, ...). A label column is never carried: what is picked goes out unlabelled.

Already labelled rows (``--exclude`` files: training data, earlier batches, Label Studio task files or
exports) are matched by normalised text and target (:func:`stance.data.fields.normalize_text`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.fields import is_missing, normalize_text
from ..data.formats import Problems, iter_rows
from ..errors import StanceError
from ..inference.articles import split_sentences
from ..inference.files import Columns, iter_input, read_article

log = logging.getLogger(__name__)

DROPPED = ("label", "labels", "score", "scores", "predicted", "uncertainty", "phenomena")  # never carried out


@dataclass
class Candidate:
    id: str
    text: str
    target: str
    where: str  # file:line, or file:sentence N
    article: str | None = None  # the article id (None: the row is its own article)
    extras: dict[str, Any] = field(default_factory=dict)  # scalar columns carried to the output
    before: list[str] = field(default_factory=list)  # the preceding sentences of its article, nearest last
    after: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        return pair_key(self.text, self.target)


@dataclass
class Pool:
    candidates: list[Candidate]
    rows: int = 0  # rows read
    empty: int = 0  # empty texts, skipped
    duplicates: int = 0  # same text and target as an earlier row: kept once
    excluded: int = 0  # already labelled (in an --exclude file)


def pair_key(text: str, target: str) -> tuple[str, str]:
    return normalize_text(target), normalize_text(text)


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) and not is_missing(value)


def read_pool(
    path: str | Path,
    columns: Columns,
    *,
    target: str | None,
    article_column: str = "article_id",
    context: int = 2,
) -> list[Candidate]:
    """Every row of a pool file as a candidate (empty texts included, for the caller to count).

    ``target`` is the claim for rows without one (``--target``, else the model's default); a row left
    without any is an error. All problems of the file are raised together, as ``stance predict`` does.
    """
    path = Path(path)
    problems = Problems()
    rows = list(iter_input(path, columns, problems))
    problems.raise_if_any(f"{path}: cannot read the pool")
    extras: dict[str, dict[str, Any]] = {}
    has_id: dict[str, bool] = {}
    if rows and path.suffix.lower() not in (".txt", ".text"):
        mapped = {columns.text, columns.target, columns.id}
        for row in iter_rows(path, Problems(), allowed=("jsonl", "csv", "tsv", "parquet")):
            extras[row.where] = {
                k: v for k, v in row.values.items() if k not in mapped and k not in DROPPED and _scalar(v)
            }
            has_id[row.where] = not is_missing(row.values.get(columns.id))
    out: list[Candidate] = []
    for row in rows:
        claim = row.target or target
        if row.text and not claim:
            problems.add(row.where, columns.target, "no target, and the model stores no default; pass --target")
            continue
        extra = extras.get(row.where, {})
        raw_article = extra.get(article_column)
        row_id = row.id if has_id.get(row.where) else f"{path.stem}-{row.id}"
        out.append(
            Candidate(
                row_id,
                row.text,
                (claim or "").strip(),
                row.where,
                None if is_missing(raw_article) else str(raw_article),
                extra,
            )
        )
    problems.raise_if_any(f"{path}: cannot read the pool")
    add_context(out, context)
    return out


def read_articles(paths: Sequence[str | Path], *, target: str, context: int = 2) -> list[Candidate]:
    """The sentences of article text files; each file is one article (its id: the file name's stem)."""
    stems = [Path(p).stem for p in paths]
    out: list[Candidate] = []
    for path, stem in zip(paths, stems):
        article = stem if stems.count(stem) == 1 else str(path)
        for number, sentence in enumerate(split_sentences(read_article(path)), 1):
            out.append(
                Candidate(
                    f"{article}-s{number}",
                    sentence.text,
                    target,
                    f"{path}:sentence {number}",
                    article,
                    {"article_id": article, "position": number - 1},
                )
            )
    add_context(out, context)
    return out


def _number(value: Any) -> float | None:
    """A position as a number (CSV cells are text), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value) if isinstance(value, str) else None
    except ValueError:
        return None


def add_context(candidates: list[Candidate], size: int) -> None:
    """Fill ``before``/``after`` with up to ``size`` sentences of the same article on each side."""
    if size <= 0:
        return
    articles: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        if candidate.article is not None:
            articles.setdefault(candidate.article, []).append(candidate)
    for members in articles.values():
        positions = [_number(c.extras.get("position")) for c in members]
        if None not in positions:  # stable: file order on ties
            members = [c for _, c in sorted(zip(positions, members), key=lambda pair: pair[0])]
        texts = [c.text for c in members]
        for i, candidate in enumerate(members):
            candidate.before = [t for t in texts[max(0, i - size) : i] if t]
            candidate.after = [t for t in texts[i + 1 : i + 1 + size] if t]


def read_labelled(
    paths: Sequence[str | Path], columns: Columns, *, target: str | None
) -> dict[tuple[str, str], tuple[str, str]]:
    """Normalised (target, text) keys of already labelled rows -> their (text, target); rows with a Label
    Studio ``data`` object (task files, exports) are read from it. A row without a target is about ``target``."""
    problems = Problems()
    keys: dict[tuple[str, str], tuple[str, str]] = {}
    for path in paths:
        for row in iter_rows(path, problems, allowed=("jsonl", "csv", "tsv", "parquet", "datasets")):
            values = row.values.get("data") if isinstance(row.values.get("data"), dict) else row.values
            text, claim = values.get(columns.text), values.get(columns.target)
            if is_missing(text) or not isinstance(text, str):
                problems.add(row.where, columns.text, "missing or empty text (an --exclude file lists labelled rows)")
                continue
            claim = claim if isinstance(claim, str) and claim.strip() else target
            if not claim:
                problems.add(row.where, columns.target, "no target, and the model stores no default; pass --target")
                continue
            keys.setdefault(pair_key(text, claim), (text.strip(), claim.strip()))
    problems.raise_if_any("cannot read the --exclude file(s)")
    return keys


def build_pool(candidates: list[Candidate], labelled: dict[tuple[str, str], tuple[str, str]]) -> Pool:
    """Drop empty texts, repeated pairs and what is already labelled; count each."""
    pool = Pool([], rows=len(candidates))
    seen: set[tuple[str, str]] = set()
    for candidate in candidates:
        if not candidate.text:
            pool.empty += 1
        elif candidate.key in labelled:
            pool.excluded += 1
        elif candidate.key in seen:
            pool.duplicates += 1
        else:
            seen.add(candidate.key)
            pool.candidates.append(candidate)
    if not pool.candidates:
        raise StanceError(
            f"nothing left to select: {pool.rows} row(s), {pool.empty} empty, {pool.excluded} already labelled, "
            f"{pool.duplicates} repeated"
        )
    return pool
