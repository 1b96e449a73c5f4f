"""Reading annotated (or unlabelled) examples into `datasets` objects, with every problem reported at once.

Accepted inputs: JSON Lines (``.jsonl``/``.json``/``.ndjson``; a ``.json`` array too), CSV (``.csv``), TSV
(``.tsv``), Parquet, and a folder written by ``Dataset.save_to_disk``. Columns are mapped through
:class:`~stance.config.DataConfig`; the canonical columns of the result are ``id``, ``text``, ``target``
(``data.default_target`` where the file has none), ``label`` (our label names, through the one alias table
in :mod:`stance.labels`) and ``group`` (the article or claim that must stay inside one split), and every
other column of the file is kept as it is.

Every problem is reported as ``file:line: field: what is wrong``, all of them together (up to a cap), and
rows that cannot be used are counted in the message: nothing is dropped silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets import Dataset, DatasetDict

from ..config import DataConfig
from ..errors import StanceError
from ..labels import describe_aliases, normalize_label
from .fields import is_missing, normalize_text
from .formats import Problems, Row, iter_rows
from .splits import grouped_split, train_dev_test_split

DATA_FORMATS = ("jsonl", "csv", "tsv", "parquet", "datasets")  # .txt has no columns to annotate
CANONICAL = ("id", "text", "target", "label", "group")
SPLIT_NAMES = ("train", "dev", "test")


@dataclass
class _Part:
    """One file's usable records, with where each came from and whether its group was given."""

    name: str
    records: list[dict[str, Any]] = field(default_factory=list)
    wheres: list[str] = field(default_factory=list)
    grouped: list[bool] = field(default_factory=list)


def read_examples(
    path: str | Path, columns: DataConfig, *, labelled: bool = True, problems: Problems | None = None
) -> Dataset:
    """Read one file into a validated :class:`datasets.Dataset` with the canonical columns.

    With ``labelled=False`` the label column is optional (unlabelled data for prediction). Raises
    :class:`StanceError` listing every problem in the file unless a ``problems`` collector is passed in,
    in which case the caller decides when to raise (used to report several files together).
    """
    own = problems is None
    problems = problems or Problems()
    part = _read(path, columns, labelled, problems)
    if own:
        problems.raise_if_any(f"{path}: invalid data")
    return _to_dataset(part)


def read_files(
    paths: dict[str, str | Path], columns: DataConfig, *, labelled: bool = True, leakage: bool = True
) -> dict[str, Dataset]:
    """Read and validate several files (``{name: path}``), then check leakage between them.

    All problems of all files, leakage included, are raised together in one :class:`StanceError`.
    """
    if not paths:
        raise StanceError("no data files given")
    problems = Problems()
    parts = [_read(path, columns, labelled, problems) for path in paths.values()]
    for part, name in zip(parts, paths):
        part.name = name
    if leakage and len(parts) > 1:
        _check_leakage(parts, columns, problems)
    what = "invalid data" if len(paths) > 1 else f"{next(iter(paths.values()))}: invalid data"
    problems.raise_if_any(what)
    return {part.name: _to_dataset(part) for part in parts}


def _read(path: str | Path, columns: DataConfig, labelled: bool, problems: Problems) -> _Part:
    part = _Part(str(path))
    seen_ids: dict[str, str] = {}
    seen_pairs: dict[tuple[str, str], tuple[str, str]] = {}
    types: dict[str, tuple[str, str]] = {}  # extra column -> (type name, where first seen)
    skipped_before, problems_before, rows = problems.rows_skipped, problems.count, 0
    for row in iter_rows(path, problems, allowed=DATA_FORMATS):
        rows += 1
        record = _canonical(row, columns, labelled, problems, rows)
        if record is None or not _same_types(row, record, types, problems):
            problems.rows_skipped += 1
            continue
        if not is_missing(row.values.get(columns.id_column)):
            first = seen_ids.setdefault(record["id"], row.where)
            if first != row.where:
                problems.add(row.where, columns.id_column, f"duplicate id {record['id']!r} (first at {first})")
        if record["label"] is not None:
            key = (record["target"], normalize_text(record["text"]))
            earlier = seen_pairs.setdefault(key, (row.where, record["label"]))
            if earlier[1] != record["label"]:
                problems.add(
                    row.where,
                    columns.label_column,
                    f"same (target, text) as {earlier[0]} but label {record['label']!r} "
                    f"conflicts with {earlier[1]!r} there",
                )
        part.records.append(record)
        part.wheres.append(row.where)
        part.grouped.append(not is_missing(row.values.get(columns.group_column)))
    if not part.records and problems.rows_skipped == skipped_before and problems.count == problems_before:
        problems.add(str(path), "", "no examples in the file")
    return part


def _canonical(row: Row, columns: DataConfig, labelled: bool, problems: Problems, number: int) -> dict[str, Any] | None:
    """The row with canonical columns, or None (problems recorded) when it cannot be used."""
    values = row.values
    ok = True
    text = values.get(columns.text_column)
    if columns.text_column not in values:
        problems.add(
            row.where, columns.text_column, f"missing field (the row has: {', '.join(map(str, values)) or 'nothing'})"
        )
        ok = False
    elif is_missing(text):
        problems.add(row.where, columns.text_column, "empty text")
        ok = False
    elif not isinstance(text, str):
        problems.add(row.where, columns.text_column, f"expected text, got {text!r}")
        ok = False
    target = values.get(columns.target_column)
    if is_missing(target):
        target = columns.default_target  # files (or rows) without a claim are about the default one
    elif not isinstance(target, str):
        problems.add(row.where, columns.target_column, f"expected text, got {target!r}")
        ok = False
    label = None
    raw_label = values.get(columns.label_column)
    if is_missing(raw_label):
        if labelled:
            problems.add(
                row.where,
                columns.label_column,
                "missing field" if columns.label_column not in values else "empty label",
            )
            ok = False
    else:
        label = normalize_label(raw_label)
        if label is None:
            problems.add(row.where, columns.label_column, f"unknown label {raw_label!r}")
            problems.hint(f"known labels (stance.labels.ALIASES): {describe_aliases()}")
            ok = False
    if not ok:
        return None
    raw_id, group = values.get(columns.id_column), values.get(columns.group_column)
    mapped = {columns.text_column, columns.target_column, columns.label_column, columns.id_column}
    extras = {k: v for k, v in values.items() if k not in mapped and k not in CANONICAL}
    row_id = f"row-{number}" if is_missing(raw_id) else str(raw_id)
    return {
        "id": row_id,
        "text": text.strip(),
        "target": target.strip(),
        "label": label,
        "group": row_id if is_missing(group) else str(group),  # no group: the row is its own
        **extras,
    }


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def _same_types(row: Row, record: dict[str, Any], types: dict[str, tuple[str, str]], problems: Problems) -> bool:
    """Extra columns must hold one type per file (a table column has one type); report the first misfit."""
    ok = True
    for key, value in record.items():
        if key in CANONICAL or value is None:
            continue
        name = _type_name(value)
        first = types.setdefault(key, (name, row.where))
        if first[0] != name:
            problems.add(row.where, key, f"expected {first[0]} as at {first[1]}, got {name} {value!r}")
            ok = False
    return ok


def _to_dataset(part: _Part) -> Dataset:
    if not part.records:
        return Dataset.from_dict({name: [] for name in CANONICAL})
    keys: list[str] = []
    for record in part.records:
        keys.extend(k for k in record if k not in keys)
    table = {key: [record.get(key) for record in part.records] for key in keys}
    try:
        return Dataset.from_dict(table)
    except Exception as exc:  # pyarrow type errors not caught by _same_types (e.g. nested lists)
        raise StanceError(f"{part.name}: cannot build a table from the rows: {exc}") from exc


def _check_leakage(parts: list[_Part], columns: DataConfig, problems: Problems) -> None:
    """Same text, or same group (article), in two splits: one problem per leaking row / group."""
    first_text: dict[str, tuple[str, str]] = {}
    first_group: dict[str, tuple[str, str]] = {}
    reported: set[tuple[str, str]] = set()
    for part in parts:
        for record, where, grouped in zip(part.records, part.wheres, part.grouped):
            name, seen = part.name, first_text.setdefault(normalize_text(record["text"]), (part.name, where))
            if seen[0] != name:
                problems.add(where, columns.text_column, f"same text as {_at(*seen)}: leakage between splits")
            if not grouped:
                continue
            seen = first_group.setdefault(record["group"], (name, where))
            if seen[0] != name and (record["group"], name) not in reported:
                reported.add((record["group"], name))
                problems.add(
                    where, columns.group_column, f"{record['group']!r} is also in {_at(*seen)}: leakage between splits"
                )


def _at(name: str, where: str) -> str:
    return where if where.startswith(name) else f"{where} ({name})"


def find_leakage(splits: dict[str, Dataset], columns: DataConfig | None = None) -> list[str]:
    """Same text or same group in two splits of already-loaded datasets: one line per leak (empty when clean).

    Rows are located as ``split: id X`` (datasets have no lines); :func:`read_files` gives ``file:line``.
    """
    columns = columns or DataConfig()
    parts = [
        _Part(name, list(ds), [f"{name}: id {i}" for i in ds["id"]], [g != i for g, i in zip(ds["group"], ds["id"])])
        for name, ds in splits.items()
    ]
    problems = Problems(limit=10**9)
    _check_leakage(parts, columns, problems)
    return problems.items


def load_splits(columns: DataConfig, *, with_test: bool = True) -> DatasetDict:
    """Read the configured train/dev/test files, checking all of them (and leakage) before raising."""
    paths = {"train": columns.train, "dev": columns.dev, "test": columns.test if with_test else None}
    for name, path in paths.items():
        if path is not None and not Path(path).exists():
            raise StanceError(f"{path}: file not found (data.{name} in the config)")
    splits = read_files({name: path for name, path in paths.items() if path is not None}, columns)
    if "dev" not in splits and columns.dev_fraction > 0:
        splits["train"], splits["dev"] = grouped_split(splits["train"], columns.dev_fraction, seed=0)
    return DatasetDict({name: splits[name] for name in SPLIT_NAMES if name in splits})


def write_jsonl(rows: Dataset | list[dict[str, Any]], path: str | Path) -> None:
    """One JSON object per row, UTF-8, without the internal ``group`` column; written to a temporary name
    and renamed when complete."""
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(
                    json.dumps({k: v for k, v in row.items() if k != "group"}, ensure_ascii=False, default=str) + "\n"
                )
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def split_file(
    path: str | Path,
    output: str | Path,
    columns: DataConfig,
    *,
    by: str | None = None,
    dev: float = 0.1,
    test: float = 0.2,
    seed: int = 0,
    overwrite: bool = False,
) -> tuple[dict[str, Dataset], str]:
    """Split one labelled file into ``output/{train,dev,test}.jsonl``: seeded, grouped, stratified by label.

    ``by`` names the column whose values stay inside one part (an article id, or the target column to
    keep each claim in one part); by default ``data.group_column``, or each row on its own when the file
    has no such column. Returns the parts and a one-line description of the grouping used.
    """
    if not (0 <= dev < 1 and 0 <= test < 1 and dev + test < 1):
        raise StanceError(f"--dev {dev} and --test {test}: each must lie in [0, 1) and together below 1")
    out = Path(output)
    existing = [out / f"{name}.jsonl" for name in SPLIT_NAMES if (out / f"{name}.jsonl").exists()]
    if existing and not overwrite:  # files, not the folder: the output may be the input's own folder
        raise StanceError(f"{existing[0]}: already exists; pass --overwrite to replace it")
    ds = read_examples(path, columns)
    ds, grouping = _with_split_group(ds, columns, by)
    parts = train_dev_test_split(ds, dev=dev, test=test, seed=seed, group_column="_split_group")
    out.mkdir(parents=True, exist_ok=True)
    for name in SPLIT_NAMES:
        (out / f"{name}.jsonl").unlink(missing_ok=True)
    for name, part in parts.items():
        part = part.remove_columns("_split_group")
        write_jsonl(part, out / f"{name}.jsonl")
        parts[name] = part
    return parts, grouping


def _with_split_group(ds: Dataset, columns: DataConfig, by: str | None) -> tuple[Dataset, str]:
    if by is None:
        grouped = any(g != i for g, i in zip(ds["group"], ds["id"]))
        if not grouped:
            return ds.add_column(
                "_split_group", list(ds["id"])
            ), f"no {columns.group_column!r} column: each row is its own group"
        return ds.add_column("_split_group", list(ds["group"])), f"grouped by {columns.group_column!r}"
    source = {
        columns.group_column: "group",
        columns.target_column: "target",
        columns.id_column: "id",
        "target": "target",
        "id": "id",
    }.get(by, by)
    absent = source == "group" and all(g == i for g, i in zip(ds["group"], ds["id"]))
    if absent or source not in ds.column_names or source in ("text", "label"):
        valid = [c for c in ds.column_names if c not in ("text", "label", "group")]
        raise StanceError(f"--by {by!r}: no such column in the file; columns: {', '.join(sorted(set(valid)))}")
    values = [i if is_missing(v) else str(v) for v, i in zip(ds[source], ds["id"])]
    return ds.add_column("_split_group", values), f"grouped by {by!r}"
