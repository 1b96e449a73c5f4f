"""The data stage: reading annotated or unlabelled examples into `datasets` objects, splitting them by
group, augmenting them, and describing them.

- :mod:`~stance.data.formats` — the one reader of files (text lines, JSONL, CSV/TSV, Parquet, datasets folders)
- :mod:`~stance.data.fields` — what a cell means (missing values, text identity, phenomena tags)
- :mod:`~stance.data.examples` — validated examples with canonical columns, leakage checks, split files
- :mod:`~stance.data.splits` — grouped, stratified, seeded splits and folds
- :mod:`~stance.data.augment` — target-swap augmentation
- :mod:`~stance.data.stats` — counts and token lengths (``stance data stats``, the dataset card)
"""

from .examples import (
    CANONICAL,
    SPLIT_NAMES,
    find_leakage,
    load_splits,
    read_examples,
    read_files,
    split_file,
    write_jsonl,
)
from .fields import is_missing, normalize_text, parse_tags
from .formats import MAX_PROBLEMS, Problems, Row, expand_paths, file_format, iter_rows
from .splits import group_folds, grouped_split, train_dev_test_split

__all__ = [
    "CANONICAL",
    "MAX_PROBLEMS",
    "SPLIT_NAMES",
    "Problems",
    "Row",
    "expand_paths",
    "file_format",
    "find_leakage",
    "group_folds",
    "grouped_split",
    "is_missing",
    "iter_rows",
    "load_splits",
    "normalize_text",
    "parse_tags",
    "read_examples",
    "read_files",
    "split_file",
    "train_dev_test_split",
    "write_jsonl",
]
