"""Raw rows out of JSON Lines, CSV/TSV, Parquet and saved `datasets` folders, each with its location.

Nothing here knows what a column means (that is :mod:`stance.data`); these readers only turn bytes into
``Row(where, values)`` and record every unreadable line in a :class:`Problems` collector instead of
stopping at the first one or skipping it silently. ``where`` is ``file:line`` for text files and
``file:row N`` for tables (Parquet, ``datasets`` folders), which have no lines.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import StanceError

MAX_PROBLEMS = 50  # stop listing after this many; the message says how many more there were
SUFFIXES = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv",
            ".parquet": "parquet", ".pq": "parquet"}


@dataclass
class Row:
    where: str  # "file:line" (or "file:row N")
    values: dict[str, Any]


class Problems:
    """Collects ``where: field: what is wrong`` lines (up to :data:`MAX_PROBLEMS`) and counts unusable rows."""

    def __init__(self, limit: int = MAX_PROBLEMS) -> None:
        self.limit = limit
        self.items: list[str] = []
        self.count = 0
        self.rows_skipped = 0  # rows that could not be used at all (unreadable or invalid)
        self.rows_seen = 0
        self.hints: list[str] = []  # said once after the list, e.g. the accepted labels

    def add(self, where: str, field: str, message: str) -> None:
        self.count += 1
        if len(self.items) < self.limit:
            self.items.append(f"{where}: {field}: {message}" if field else f"{where}: {message}")

    def hint(self, text: str) -> None:
        if text not in self.hints:
            self.hints.append(text)

    def summary(self, what: str) -> str:
        rows = (f"; {self.rows_skipped} of {self.rows_seen} row(s) unusable"
                if self.rows_seen or self.rows_skipped else "")
        return f"{what}: {self.count} problem(s){rows}"

    def raise_if_any(self, what: str) -> None:
        if not self.count:
            return
        more = self.count - len(self.items)
        items = self.items + ([f"... and {more} more"] if more else []) + self.hints
        raise StanceError(self.summary(what), items)


def is_missing(value: Any) -> bool:
    """None, NaN (pandas' empty cell) or a blank string."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def file_format(path: Path) -> str:
    if path.is_dir():
        return "datasets"
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise StanceError(f"{path}: unsupported file type {path.suffix!r}; use .jsonl, .csv, .tsv, .parquet "
                          "or a folder saved with Dataset.save_to_disk")
    return fmt


def iter_rows(path: str | Path, problems: Problems) -> Iterator[Row]:
    """Yield the raw rows of a file in order, recording unreadable lines in ``problems``."""
    path = Path(path)
    if not path.exists():
        raise StanceError(f"{path}: file not found")
    fmt = file_format(path)
    if fmt == "jsonl":
        yield from _iter_json(path, problems)
    elif fmt in ("csv", "tsv"):
        yield from _iter_csv(path, problems, delimiter="\t" if fmt == "tsv" else ",")
    else:
        yield from _iter_table(path, fmt, problems)


def _iter_json(path: Path, problems: Problems) -> Iterator[Row]:
    data = path.read_bytes()
    if path.suffix.lower() == ".json" and data.lstrip()[:1] == b"[":
        yield from _iter_json_array(path, data, problems)
        return
    for number, raw in enumerate(data.splitlines(), 1):
        where = f"{path}:{number}"
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            problems.rows_seen += 1
            problems.rows_skipped += 1
            problems.add(where, "row", f"bytes that are not UTF-8 (byte {exc.start + 1} of the line)")
            continue
        if not line.strip():
            continue
        problems.rows_seen += 1
        try:
            values = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.rows_skipped += 1
            problems.add(where, "row", f"invalid JSON: {exc.msg} (column {exc.colno})")
            continue
        if not isinstance(values, dict):
            problems.rows_skipped += 1
            problems.add(where, "row", f"invalid JSON: expected an object {{...}}, got {type(values).__name__}")
            continue
        yield Row(where, values)


def _iter_json_array(path: Path, data: bytes, problems: Problems) -> Iterator[Row]:
    """A ``.json`` file holding one array of objects (not JSON Lines): rows are numbered as items."""
    try:
        items = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        problems.add(f"{path}:{line}", "row", "bytes that are not UTF-8")
        return
    except json.JSONDecodeError as exc:
        problems.add(f"{path}:{exc.lineno}", "row", f"invalid JSON: {exc.msg} (column {exc.colno})")
        return
    for number, values in enumerate(items, 1):
        problems.rows_seen += 1
        if not isinstance(values, dict):
            problems.rows_skipped += 1
            problems.add(f"{path}:item {number}", "row",
                         f"expected an object {{...}}, got {type(values).__name__}")
            continue
        yield Row(f"{path}:item {number}", values)


def _decode_lines(path: Path) -> tuple[str, dict[int, str]]:
    """The file's text, and a message for each line (by number) that is not UTF-8."""
    bad: dict[int, str] = {}
    parts: list[str] = []
    for number, raw in enumerate(path.read_bytes().splitlines(keepends=True), 1):
        try:
            parts.append(raw.decode("utf-8-sig" if number == 1 else "utf-8"))
        except UnicodeDecodeError as exc:
            bad[number] = f"bytes that are not UTF-8 (byte {exc.start + 1} of the line)"
            parts.append(raw.decode("utf-8", errors="replace"))
    return "".join(parts), bad


def csv_records(reader: Any) -> Iterator[tuple[int, int, list[str] | csv.Error]]:
    """Each record of a ``csv.reader`` with its first and last line (a quoted field may span lines);
    a record the reader cannot parse comes as its ``csv.Error``."""
    line = reader.line_num
    while True:
        start = line + 1
        try:
            cells: list[str] | csv.Error = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            cells = exc
        line = reader.line_num
        yield start, line, cells


def _iter_csv(path: Path, problems: Problems, delimiter: str) -> Iterator[Row]:
    text, bad_lines = _decode_lines(path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)

    def report_bad(first: int, last: int) -> bool:
        found = [n for n in range(first, last + 1) if n in bad_lines]
        for number in found:
            problems.add(f"{path}:{number}", "row", bad_lines.pop(number))
        return bool(found)

    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        problems.add(f"{path}:1", "header", f"invalid CSV header: {exc}")
        return
    report_bad(1, reader.line_num)
    header = [name.strip() for name in header]
    for start, line, cells in csv_records(reader):
        if isinstance(cells, csv.Error):
            problems.rows_seen += 1
            problems.rows_skipped += 1
            if not report_bad(start, line):
                problems.add(f"{path}:{start}", "row", f"invalid CSV row: {cells}")
            continue
        if not any(cell.strip() for cell in cells):
            report_bad(start, line)
            continue
        problems.rows_seen += 1
        if report_bad(start, line):
            problems.rows_skipped += 1
            continue
        if len(cells) != len(header):
            problems.rows_skipped += 1
            problems.add(f"{path}:{start}", "row",
                         f"invalid CSV row: {len(cells)} cells, the header has {len(header)}")
            continue
        yield Row(f"{path}:{start}", dict(zip(header, cells)))
    report_bad(1, max(bad_lines, default=0))  # undecodable lines after the last record


def _iter_table(path: Path, fmt: str, problems: Problems) -> Iterator[Row]:
    from datasets import ClassLabel, Dataset, load_from_disk

    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            table = Dataset(pq.read_table(path))  # no cache folder, unlike Dataset.from_parquet
        elif (path / "dataset_dict.json").exists():
            splits = ", ".join(sorted(p.name for p in path.iterdir() if (p / "dataset_info.json").exists()))
            raise StanceError(f"{path}: a saved DatasetDict; pass one split's folder ({splits})")
        elif (path / "dataset_info.json").exists():
            table = load_from_disk(str(path))
        else:
            raise StanceError(f"{path}: not a folder saved with Dataset.save_to_disk (no dataset_info.json)")
    except StanceError:
        raise
    except Exception as exc:  # pyarrow / datasets raise many types for unreadable files
        raise StanceError(f"{path}: cannot read {fmt} data: {exc}") from None
    # integer class ids mean the feature's own names (e.g. 0=against), not our ids
    names = {col: feature for col, feature in table.features.items() if isinstance(feature, ClassLabel)}
    for number, values in enumerate(table, 1):
        problems.rows_seen += 1
        for col, feature in names.items():
            if isinstance(values[col], int) and 0 <= values[col] < feature.num_classes:
                values[col] = feature.int2str(values[col])
        yield Row(f"{path}:row {number}", dict(values))


def expand_paths(paths: list[str | Path]) -> list[Path]:
    """Paths as given, except that a saved DatasetDict folder stands for its split folders."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir() and (path / "dataset_dict.json").exists():
            out.extend(sorted(p for p in path.iterdir() if (p / "dataset_info.json").exists()))
        else:
            out.append(path)
    return out
