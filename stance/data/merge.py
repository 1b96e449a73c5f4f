"""Merging labelled files without duplicates: ``stance data merge A B --output C`` and ``--append``.

Every input is read and validated by :func:`stance.data.examples.read_examples` (each problem as
``file:line: field``). Rows are the same example when their target and text are the same once normalised
(:func:`stance.data.fields.normalize_text`): the first one is kept and later ones are counted as duplicates.
The same example with two different labels is a conflict: an error naming both places, unless
``on_conflict`` is ``first`` (keep the earlier label) or ``last`` (take the later one). One id naming two
different sentences is always an error. The output is JSON Lines with the canonical columns first,
written to a temporary name and renamed when complete, so it passes ``stance data validate``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import DataConfig
from ..errors import StanceError
from ..layout import atomic_write_text
from .examples import DATA_FORMATS, read_examples, write_jsonl
from .fields import normalize_text
from .formats import Problems, iter_rows

CONFLICT_POLICIES = ("error", "first", "last")


@dataclass
class Source:
    """Rows of one input with where each came from (``file:line``, or a description for rows in memory)."""

    name: str
    rows: list[dict[str, Any]]
    wheres: list[str]


@dataclass
class MergeResult:
    rows: list[dict[str, Any]]
    read: dict[str, int] = field(default_factory=dict)  # rows per input
    duplicates: int = 0  # same example, same label as an earlier row: dropped
    relabelled: int = 0  # conflicts settled by on_conflict
    added: int = 0  # for --append: rows new to the training file
    origin: list[str] = field(default_factory=list)  # the source of each row

    def describe(self) -> str:
        inputs = ", ".join(f"{name} {n}" for name, n in self.read.items())
        extra = f", {self.relabelled} conflict(s) settled" if self.relabelled else ""
        return f"{len(self.rows)} example(s) from {inputs}: {self.duplicates} duplicate(s) dropped{extra}"


def read_source(path: str | Path, columns: DataConfig) -> Source:
    """A labelled file, validated, with each row's ``file:line``."""
    ds = read_examples(path, columns)
    rows = [dict(row) for row in ds]
    wheres = [row.where for row in iter_rows(path, Problems(), allowed=DATA_FORMATS)]
    if len(wheres) != len(rows):  # cannot happen for a file read_examples accepted; keep a usable locator
        wheres = [f"{path}: row {i}" for i in range(1, len(rows) + 1)]
    return Source(str(path), rows, wheres)


def _key(row: dict[str, Any]) -> tuple[str, str]:
    return normalize_text(str(row["target"])), normalize_text(str(row["text"]))


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    """Canonical columns first; the internal group and empty extra columns left out."""
    head = {k: row[k] for k in ("id", "text", "target", "label") if k in row}
    tail = {k: v for k, v in row.items() if k not in head and k != "group" and v is not None}
    return {**head, **tail}


def merge_sources(sources: Sequence[Source], *, on_conflict: str = "error") -> MergeResult:
    """One list of rows from several sources (module docstring); all problems raised together."""
    if on_conflict not in CONFLICT_POLICIES:
        raise StanceError(f"--on-conflict {on_conflict!r}: choose one of {', '.join(CONFLICT_POLICIES)}")
    result = MergeResult([])
    kept: dict[tuple[str, str], int] = {}  # example -> index in result.rows
    where_of: list[str] = []
    ids: dict[str, tuple[tuple[str, str], str]] = {}
    problems = Problems()
    for source in sources:
        result.read[source.name] = len(source.rows)
        for row, where in zip(source.rows, source.wheres):
            key = _key(row)
            row_id = str(row["id"])
            seen = ids.setdefault(row_id, (key, where))
            if seen[0] != key:
                problems.add(where, "id", f"{row_id!r} is also the id of a different sentence at {seen[1]}")
                continue
            if key not in kept:
                kept[key] = len(result.rows)
                result.rows.append(_clean(row))
                result.origin.append(source.name)
                where_of.append(where)
                continue
            index = kept[key]
            earlier = result.rows[index]
            if earlier["label"] == row["label"]:
                result.duplicates += 1
            elif on_conflict == "error":
                problems.add(
                    where,
                    "label",
                    f"{row['label']!r} for the same target and text as {where_of[index]}, labelled "
                    f"{earlier['label']!r} there",
                )
            else:
                result.relabelled += 1
                if on_conflict == "last":
                    result.rows[index] = _clean(row)
                    result.origin[index] = source.name
                    where_of[index] = where
    if problems.count:
        problems.hint("settle label conflicts with --on-conflict first|last, or fix the files; ids must be unique")
    problems.raise_if_any("cannot merge")
    return result


def merge_files(
    paths: Sequence[str | Path],
    output: str | Path,
    columns: DataConfig,
    *,
    on_conflict: str = "error",
    overwrite: bool = False,
) -> MergeResult:
    """``stance data merge A B ... --output C``: read and check every input, then write C (JSON Lines)."""
    if len(paths) < 2:
        raise StanceError("stance data merge needs at least two files")
    output = Path(output)
    if output.exists() and not overwrite:
        raise StanceError(f"{output}: already exists; pass --overwrite to replace it")
    if not output.parent.is_dir():
        raise StanceError(f"{output}: the output folder {output.parent} does not exist")
    result = merge_sources([read_source(path, columns) for path in paths], on_conflict=on_conflict)
    write_jsonl(result.rows, output)
    return result


def append_rows(
    train: str | Path, rows: Sequence[dict[str, Any]], columns: DataConfig, *, name: str, on_conflict: str = "error"
) -> MergeResult:
    """``--append TRAIN_FILE``: add the rows that are new to a JSON Lines training file, in place (the file
    is rewritten through a temporary name). Duplicates are skipped; conflicts follow ``on_conflict``."""
    train = Path(train)
    if train.suffix.lower() not in (".jsonl", ".ndjson"):
        raise StanceError(
            f"{train}: --append needs a JSON Lines training file; for other formats use "
            "`stance data merge A B --output C`"
        )
    existing = read_source(train, columns)
    new = Source(name, [dict(r) for r in rows], [f"{name}: id {r['id']}" for r in rows])
    result = merge_sources([existing, new], on_conflict=on_conflict)
    fresh = [row for row, origin in zip(result.rows, result.origin) if origin == name]
    result.added = len(fresh) - (result.relabelled if on_conflict == "last" else 0)
    if on_conflict == "last" and result.relabelled:
        write_jsonl(result.rows, train)  # labels of existing rows changed: rewrite it whole
    elif fresh:
        text = train.read_text("utf-8-sig")
        lines = [json.dumps(r, ensure_ascii=False, default=str) for r in fresh]
        atomic_write_text(train, text + ("" if not text or text.endswith("\n") else "\n") + "\n".join(lines) + "\n")
    return result
