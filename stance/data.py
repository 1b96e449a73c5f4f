"""Reading annotated (or unlabelled) examples into `datasets` objects, with every problem reported at once.

Accepted inputs: JSON Lines (``.jsonl``/``.json``), CSV (``.csv``/``.tsv``), Parquet, and a folder written by
``Dataset.save_to_disk``. Columns are mapped through :class:`~stance.config.DataConfig`; the canonical columns
of the result are ``id``, ``text``, ``target``, ``label`` (our label names) and ``group``, and every other column
of the file is kept as it is. Problems are reported as ``file:line: field: what is wrong``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datasets import Dataset, DatasetDict

from .config import DataConfig
from .errors import StanceError
from .labels import LABELS, describe_aliases, normalize_label
from .splits import grouped_split

MAX_PROBLEMS = 50  # stop listing after this many; the message says how many more there were
TEXT_SUFFIXES = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv",
                 ".parquet": "parquet", ".pq": "parquet"}


@dataclass
class Row:
    where: str  # "file:line" (or "file:row N")
    values: dict[str, Any]


class Problems:
    """Collects ``where: field: message`` lines, up to :data:`MAX_PROBLEMS`."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.count = 0

    def add(self, where: str, field: str, message: str) -> None:
        self.count += 1
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(f"{where}: {field}: {message}" if field else f"{where}: {message}")

    def raise_if_any(self, what: str) -> None:
        if not self.count:
            return
        more = self.count - len(self.items)
        items = self.items + ([f"... and {more} more"] if more else [])
        raise StanceError(f"{what}: {self.count} problem(s)", items)


def file_format(path: Path) -> str:
    if path.is_dir():
        return "datasets"
    fmt = TEXT_SUFFIXES.get(path.suffix.lower())
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
        yield from _iter_jsonl(path, problems)
    elif fmt in ("csv", "tsv"):
        yield from _iter_csv(path, problems, delimiter="\t" if fmt == "tsv" else ",")
    else:
        yield from _iter_table(path, fmt)


def _iter_jsonl(path: Path, problems: Problems) -> Iterator[Row]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            where = f"{path}:{number}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                problems.add(where, "", f"bytes that are not UTF-8 (at byte {exc.start} of the line)")
                continue
            if not line.strip():
                continue
            try:
                values = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.add(where, "", f"invalid JSON: {exc.msg} (column {exc.colno})")
                continue
            if not isinstance(values, dict):
                problems.add(where, "", f"expected a JSON object, got {type(values).__name__}")
                continue
            yield Row(where, values)


def _iter_csv(path: Path, problems: Problems, delimiter: str) -> Iterator[Row]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        problems.add(f"{path}:{line}", "", "bytes that are not UTF-8")
        return
    reader = csv.reader(text.splitlines(keepends=True), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        problems.add(f"{path}:1", "", f"invalid CSV header: {exc}")
        return
    line = reader.line_num
    while True:
        start = line + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problems.add(f"{path}:{start}", "", f"invalid CSV row: {exc}")
            line = reader.line_num
            continue
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            problems.add(f"{path}:{start}", "", f"invalid CSV row: {len(cells)} cells, the header has {len(header)}")
            continue
        yield Row(f"{path}:{start}", dict(zip(header, cells)))


def _iter_table(path: Path, fmt: str) -> Iterator[Row]:
    try:
        if fmt == "parquet":
            table = Dataset.from_parquet(str(path))
        else:
            loaded = Dataset.load_from_disk(str(path)) if (path / "dataset_info.json").exists() else None
            if loaded is None:
                raise StanceError(f"{path}: a folder must be a Dataset saved with save_to_disk "
                                  "(pass one split's folder, not a DatasetDict)")
            table = loaded
    except StanceError:
        raise
    except Exception as exc:  # pyarrow / datasets raise many types for unreadable files
        raise StanceError(f"{path}: cannot read {fmt} data: {exc}") from None
    for number, values in enumerate(table, 1):
        yield Row(f"{path}:row {number}", dict(values))


def read_examples(path: str | Path, columns: DataConfig, *, labelled: bool = True,
                  problems: Problems | None = None) -> Dataset:
    """Read one file into a validated :class:`datasets.Dataset` with the canonical columns.

    With ``labelled=False`` the label column is optional (unlabelled data for prediction). Raises
    :class:`StanceError` listing every problem in the file unless a ``problems`` collector is passed in,
    in which case the caller decides when to raise (used to report several files together).
    """
    own = problems is None
    problems = problems or Problems()
    records: list[dict[str, Any]] = []
    seen_ids: dict[str, str] = {}
    seen_pairs: dict[tuple[str, str], tuple[str, str]] = {}
    for row in iter_rows(path, problems):
        record = _canonical(row, columns, labelled, problems, len(records))
        if record is None:
            continue
        first = seen_ids.setdefault(record["id"], row.where)
        if first != row.where:
            problems.add(row.where, columns.id_column, f"duplicate id {record['id']!r} (first at {first})")
        key = (record["target"], " ".join(record["text"].split()).lower())
        if record.get("label") is not None:
            earlier = seen_pairs.setdefault(key, (row.where, record["label"]))
            if earlier[1] != record["label"]:
                problems.add(row.where, columns.label_column,
                             f"same (target, text) as {earlier[0]} but label {record['label']!r} "
                             f"conflicts with {earlier[1]!r}")
        records.append(record)
    if not records and not problems.count:
        problems.add(str(path), "", "no examples in the file")
    if own:
        problems.raise_if_any(f"{path}: invalid data")
    return _to_dataset(records)


def _canonical(row: Row, columns: DataConfig, labelled: bool, problems: Problems,
               index: int) -> dict[str, Any] | None:
    values = row.values
    ok = True
    text = values.get(columns.text_column)
    if columns.text_column not in values:
        problems.add(row.where, columns.text_column,
                     f"missing field (the row has: {', '.join(map(str, values)) or 'nothing'})")
        ok = False
    elif not isinstance(text, str) or not text.strip():
        problems.add(row.where, columns.text_column, "empty text")
        ok = False
    target = values.get(columns.target_column)
    if target is None or (isinstance(target, str) and not target.strip()):
        target = columns.default_target
    elif not isinstance(target, str):
        problems.add(row.where, columns.target_column, f"expected text, got {target!r}")
        ok = False
    label = None
    raw_label = values.get(columns.label_column)
    if raw_label is None or (isinstance(raw_label, str) and not raw_label.strip()):
        if labelled:
            problems.add(row.where, columns.label_column, "missing label")
            ok = False
    else:
        label = normalize_label(raw_label)
        if label is None:
            problems.add(row.where, columns.label_column,
                         f"unknown label {raw_label!r}; known labels: {describe_aliases()}")
            ok = False
    if not ok:
        return None
    raw_id = values.get(columns.id_column)
    group = values.get(columns.group_column)
    extras = {k: v for k, v in values.items()
              if k not in {columns.text_column, columns.target_column, columns.label_column,
                           columns.id_column} and k not in ("id", "text", "target", "label", "group")}
    return {
        "id": str(raw_id) if raw_id not in (None, "") else f"row-{index + 1}",
        "text": text.strip(),
        "target": target.strip(),
        "label": label,
        "group": str(group) if group not in (None, "") else None,
        **extras,
    }


def _to_dataset(records: list[dict[str, Any]]) -> Dataset:
    if not records:
        return Dataset.from_dict({"id": [], "text": [], "target": [], "label": [], "group": []})
    keys: list[str] = []
    for record in records:
        keys.extend(k for k in record if k not in keys)
    columns = {key: [record.get(key) for record in records] for key in keys}
    if all(v is None for v in columns["group"]):
        columns["group"] = [record["id"] for record in records]  # no groups: each row is its own
    return Dataset.from_dict(columns)


def find_leakage(splits: dict[str, Dataset]) -> list[str]:
    """Same text or same group in two splits: one line per leak (empty when clean)."""
    leaks: list[str] = []
    names = list(splits)
    for i, first in enumerate(names):
        texts = {(t, " ".join(x.split()).lower()): x_id for t, x, x_id in
                 zip(splits[first]["target"], splits[first]["text"], splits[first]["id"])}
        groups = set(splits[first]["group"])
        for second in names[i + 1:]:
            ds = splits[second]
            for target, text, row_id, group in zip(ds["target"], ds["text"], ds["id"], ds["group"]):
                other = texts.get((target, " ".join(text.split()).lower()))
                if other is not None:
                    leaks.append(f"{second}: id {row_id}: text: same text as id {other} in {first}")
                if group in groups:
                    leaks.append(f"{second}: id {row_id}: group: group {group!r} is also in {first}")
    return leaks


def load_splits(columns: DataConfig, *, with_test: bool = True) -> DatasetDict:
    """Read the configured train/dev/test files, checking all of them before raising and checking leakage."""
    problems = Problems()
    paths = {"train": columns.train, "dev": columns.dev, "test": columns.test if with_test else None}
    splits: dict[str, Dataset] = {}
    for name, path in paths.items():
        if path is None:
            continue
        if not Path(path).exists():
            raise StanceError(f"{path}: file not found (data.{name} in the config)")
        splits[name] = read_examples(path, columns, problems=problems)
    problems.raise_if_any("invalid training data")
    if "dev" not in splits:
        splits["train"], splits["dev"] = grouped_split(splits["train"], columns.dev_fraction,
                                                       seed=0)
    leaks = find_leakage(splits)
    if leaks:
        raise StanceError(f"leakage between splits: {len(leaks)} problem(s)", leaks[:MAX_PROBLEMS])
    return DatasetDict(splits)


def label_counts(ds: Dataset) -> dict[str, int]:
    counts = dict.fromkeys(LABELS, 0)
    for label in ds["label"]:
        if label is not None:
            counts[label] += 1
    return counts
