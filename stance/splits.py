"""Seeded splits that keep a group (an article, a claim) inside one part and keep label proportions."""

from __future__ import annotations

import numpy as np
from datasets import Dataset
from sklearn.model_selection import StratifiedGroupKFold

from .errors import StanceError


def group_folds(labels: list[str], groups: list[str], n_folds: int, seed: int) -> list[np.ndarray]:
    """Indices of each fold's held-out part: grouped by ``groups``, stratified by ``labels``."""
    n_groups = len(set(groups))
    if n_groups < n_folds:
        raise StanceError(f"cannot make {n_folds} folds from {n_groups} group(s); use fewer folds")
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return [held for _, held in splitter.split(np.zeros(len(labels)), labels, groups)]


def grouped_split(ds: Dataset, fraction: float, seed: int = 0,
                  group_column: str = "group") -> tuple[Dataset, Dataset]:
    """Split off about ``fraction`` of ``ds`` as a second part, grouped and stratified by label."""
    n_folds = max(2, round(1 / fraction))
    held = group_folds(list(ds["label"]), list(ds[group_column]), n_folds, seed)[0]
    keep = np.setdiff1d(np.arange(len(ds)), held)
    return ds.select(keep), ds.select(np.sort(held))


def train_dev_test_split(ds: Dataset, dev: float = 0.1, test: float = 0.2, seed: int = 0,
                         group_column: str = "group") -> dict[str, Dataset]:
    """Three parts of one unsplit dataset, no group in two parts, label proportions kept."""
    rest, test_part = grouped_split(ds, test, seed, group_column)
    train_part, dev_part = grouped_split(rest, dev / (1 - test), seed, group_column)
    return {"train": train_part, "dev": dev_part, "test": test_part}
