"""The one reader: raw rows out of text lines, JSON Lines, CSV/TSV, Parquet and saved `datasets` folders.

Nothing here knows what a column means (that is :mod:`stance.data.examples` for annotated data and
:mod:`stance.inference.files` for texts to classify); these readers stream a file as ``Row(where, values)``
and record every unreadable line in a :class:`Problems` collector instead of stopping at the first one or
skipping it silently. ``where`` is ``file:line`` for text files (the first line of a record, which a quoted
CSV field may span) and ``file:row N`` for tables (Parquet, ``datasets`` folders), which have no lines.
Files are read line by line (Parquet batch by batch), so memory does not grow with the file.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import StanceError

MAX_PROBLEMS = 50  # stop listing after this many; the message says how many more there were
SUFFIXES = {
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".txt": "txt",
    ".text": "txt",
}
TABLE_BATCH = 4096  # Parquet rows decoded at a time


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

    def skip(self, where: str, field: str, message: str) -> None:
        """A row that cannot be used at all."""
        self.rows_skipped += 1
        self.add(where, field, message)

    def hint(self, text: str) -> None:
        if text not in self.hints:
            self.hints.append(text)

    def summary(self, what: str) -> str:
        rows = (
            f"; {self.rows_skipped} of {self.rows_seen} row(s) unusable" if self.rows_seen or self.rows_skipped else ""
        )
        return f"{what}: {self.count} problem(s){rows}"

    def raise_if_any(self, what: str) -> None:
        if not self.count:
            return
        more = self.count - len(self.items)
        items = self.items + ([f"... and {more} more"] if more else []) + self.hints
        raise StanceError(self.summary(what), items)


def not_utf8(offset: int) -> str:
    """The one wording of an undecodable line; ``offset`` is the 0-based byte in the line (shown from 1)."""
    return f"bytes that are not UTF-8 (byte {offset + 1} of the line)"


def file_format(path: str | Path, allowed: tuple[str, ...] | None = None) -> str:
    """``jsonl``, ``csv``, ``tsv``, ``parquet``, ``txt`` or ``datasets`` (a folder), from the name."""
    path = Path(path)
    fmt = "datasets" if path.is_dir() else SUFFIXES.get(path.suffix.lower())
    if fmt is None or (allowed is not None and fmt not in allowed):
        kinds = allowed or ("jsonl", "csv", "tsv", "parquet", "txt", "datasets")
        names = {
            "jsonl": ".jsonl",
            "csv": ".csv",
            "tsv": ".tsv",
            "parquet": ".parquet",
            "txt": ".txt (one text a line)",
            "datasets": "a folder saved with Dataset.save_to_disk",
        }
        what = f"file type {path.suffix!r}" if not path.is_dir() else "a folder"
        raise StanceError(f"{path}: unsupported {what}; use {', '.join(names[k] for k in kinds)}")
    return fmt


def iter_rows(
    path: str | Path,
    problems: Problems,
    *,
    allowed: tuple[str, ...] | None = None,
    require: str | None = None,
    require_hint: str = "",
) -> Iterator[Row]:
    """Yield the raw rows of a file in order, recording unreadable lines in ``problems``.

    ``require`` names a column a table (CSV/TSV/Parquet/datasets) must have: its absence is one error
    naming the header, instead of one problem per row. A ``.txt`` file gives ``{"text": line}`` rows,
    blank lines included (they keep the line numbering).
    """
    path = Path(path)
    if not path.exists():
        raise StanceError(f"{path}: file not found")
    fmt = file_format(path, allowed)
    if fmt == "txt":
        for number, line in _lines(path, problems):
            problems.rows_seen += 1
            if line is not None:
                yield Row(f"{path}:{number}", {"text": line.rstrip("\r\n")})
    elif fmt == "jsonl":
        yield from _iter_json(path, problems)
    elif fmt in ("csv", "tsv"):
        yield from _iter_csv(path, problems, "\t" if fmt == "tsv" else ",", require, require_hint)
    else:
        yield from _iter_table(path, fmt, problems, require, require_hint)


def _lines(path: Path, problems: Problems) -> Iterator[tuple[int, str | None]]:
    """(line number, decoded line or None when it is not UTF-8: recorded in ``problems``)."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                yield number, raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                problems.skip(f"{path}:{number}", "row", not_utf8(exc.start))
                yield number, None


def _iter_json(path: Path, problems: Problems) -> Iterator[Row]:
    if path.suffix.lower() == ".json":
        with path.open("rb") as handle:
            head = handle.read(4096).removeprefix(b"\xef\xbb\xbf").lstrip()
        if head[:1] == b"[":
            yield from _iter_json_array(path, problems)
            return
    for number, line in _lines(path, problems):
        if line is None:
            problems.rows_seen += 1
            continue
        if not line.strip():
            continue
        where = f"{path}:{number}"
        problems.rows_seen += 1
        try:
            values = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.skip(where, "row", f"invalid JSON: {exc.msg} (column {exc.colno})")
            continue
        if not isinstance(values, dict):
            problems.skip(where, "row", f"invalid JSON: expected an object {{...}}, got {type(values).__name__}")
            continue
        yield Row(where, values)


def _iter_json_array(path: Path, problems: Problems) -> Iterator[Row]:
    """A ``.json`` file holding one array of objects (not JSON Lines): rows are numbered as items."""
    data = path.read_bytes()
    try:
        items = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        start = data.rfind(b"\n", 0, exc.start) + 1
        problems.add(f"{path}:{line}", "row", not_utf8(exc.start - start))
        return
    except json.JSONDecodeError as exc:
        problems.add(f"{path}:{exc.lineno}", "row", f"invalid JSON: {exc.msg} (column {exc.colno})")
        return
    for number, values in enumerate(items, 1):
        problems.rows_seen += 1
        if not isinstance(values, dict):
            problems.skip(f"{path}:item {number}", "row", f"expected an object {{...}}, got {type(values).__name__}")
            continue
        yield Row(f"{path}:item {number}", values)


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


def _iter_csv(path: Path, problems: Problems, delimiter: str, require: str | None, hint: str) -> Iterator[Row]:
    bad: set[int] = set()  # undecodable lines (already recorded): their records are unusable

    def decoded() -> Iterator[str]:
        for number, line in _lines(path, problems):
            if line is None:
                bad.add(number)
                yield "\n"  # keep the reader's line count; the record is dropped below
            else:
                yield line

    reader = csv.reader(decoded(), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        problems.add(f"{path}:1", "header", f"invalid CSV header: {exc}")
        return
    header = [name.strip() for name in header]
    if require is not None and require not in header:
        raise StanceError(f"{path}:1: no column {require!r} (the header has: {', '.join(header)}){hint}")
    for start, line, cells in csv_records(reader):
        spoilt = any(n in bad for n in range(start, line + 1))
        if isinstance(cells, csv.Error):
            problems.rows_seen += 1
            if not spoilt:
                problems.skip(f"{path}:{start}", "row", f"invalid CSV row: {cells}")
            continue
        if not any(cell.strip() for cell in cells):
            continue
        problems.rows_seen += 1
        if spoilt:
            continue
        if len(cells) != len(header):
            problems.skip(
                f"{path}:{start}", "row", f"invalid CSV row: {len(cells)} cells, the header has {len(header)}"
            )
            continue
        yield Row(f"{path}:{start}", dict(zip(header, cells)))


def _iter_table(path: Path, fmt: str, problems: Problems, require: str | None, hint: str) -> Iterator[Row]:
    from datasets import ClassLabel, Features, load_from_disk

    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            parquet = pq.ParquetFile(path)
            features = Features.from_arrow_schema(parquet.schema_arrow)  # HF metadata: ClassLabel names
            batches = (batch.to_pylist() for batch in parquet.iter_batches(batch_size=TABLE_BATCH))
        elif (path / "dataset_dict.json").exists():
            splits = ", ".join(sorted(p.name for p in path.iterdir() if (p / "dataset_info.json").exists()))
            raise StanceError(f"{path}: a saved DatasetDict; pass one split's folder ({splits})")
        elif (path / "dataset_info.json").exists():
            table = load_from_disk(str(path))
            features = table.features
            batches = (table[i : i + TABLE_BATCH] for i in range(0, len(table), TABLE_BATCH))
            batches = ([dict(zip(b, values)) for values in zip(*b.values())] for b in batches)
        else:
            raise StanceError(f"{path}: not a folder saved with Dataset.save_to_disk (no dataset_info.json)")
    except StanceError:
        raise
    except Exception as exc:  # pyarrow / datasets raise many types for unreadable files
        raise StanceError(f"{path}: cannot read {fmt} data: {exc}") from exc
    if require is not None and require not in features:
        raise StanceError(f"{path}: no column {require!r} (the table has: {', '.join(features)}){hint}")
    # integer class ids mean the feature's own names (e.g. 0=against), not our ids
    names = {col: feature for col, feature in features.items() if isinstance(feature, ClassLabel)}
    number = 0
    for batch in batches:
        for values in batch:
            number += 1
            problems.rows_seen += 1
            for col, feature in names.items():
                if isinstance(values.get(col), int) and 0 <= values[col] < feature.num_classes:
                    values[col] = feature.int2str(values[col])
            yield Row(f"{path}:row {number}", values)


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
