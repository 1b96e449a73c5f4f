"""Seeded splits that keep a group (an article, a claim) inside one part and keep label proportions.

Built on scikit-learn's :class:`~sklearn.model_selection.StratifiedGroupKFold`: splitting off a fraction
``f`` takes the first of ``round(1 / f)`` shuffled folds, so the fraction is approximate (whole groups
move together) and the result depends only on the data, the labels and the seed. The shipped corpus was
split with ``train_dev_test_split(ds, dev=0.12, test=0.2, seed=0)`` grouped by ``article_id``.
"""

from __future__ import annotations

import warnings

import numpy as np
from datasets import Dataset
from sklearn.model_selection import StratifiedGroupKFold

from ..errors import StanceError


def group_folds(labels: list[str], groups: list[str], n_folds: int, seed: int) -> list[np.ndarray]:
    """Indices of each fold's held-out part: grouped by ``groups``, stratified by ``labels``."""
    if n_folds < 2:
        raise StanceError(f"cross-validation needs at least 2 folds, got {n_folds}")
    n_groups = len(set(groups))
    if n_groups < n_folds:
        raise StanceError(
            f"cannot make {n_folds} folds from {n_groups} group(s); use fewer folds "
            "(or a larger fraction per part), or more groups"
        )
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():  # "least populated class has only N members": expected on small data
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        return [held for _, held in splitter.split(np.zeros(len(labels)), labels, groups)]


def grouped_split(ds: Dataset, fraction: float, seed: int = 0, group_column: str = "group") -> tuple[Dataset, Dataset]:
    """Split off about ``fraction`` of ``ds`` as a second part, grouped and stratified by label."""
    if not 0 < fraction < 1:
        raise StanceError(f"a split fraction must lie between 0 and 1, got {fraction}")
    n_folds = max(2, round(1 / fraction))
    n_groups = len(set(ds[group_column]))
    if n_groups < n_folds:
        raise StanceError(
            f"cannot split off {fraction:.0%} of {len(ds)} rows by {group_column!r}: that needs "
            f"at least {n_folds} groups and there are {n_groups}; use a larger fraction "
            "or more groups"
        )
    held = group_folds(list(ds["label"]), list(ds[group_column]), n_folds, seed)[0]
    keep = np.setdiff1d(np.arange(len(ds)), held)
    return ds.select(keep), ds.select(np.sort(held))


def train_dev_test_split(
    ds: Dataset, dev: float = 0.1, test: float = 0.2, seed: int = 0, group_column: str = "group"
) -> dict[str, Dataset]:
    """Three parts of one unsplit dataset, no group in two parts, label proportions kept.

    A fraction of 0 leaves that part out (``dev=0`` gives only train and test).
    """
    parts: dict[str, Dataset] = {}
    rest = ds
    if test > 0:
        rest, parts["test"] = grouped_split(ds, test, seed, group_column)
    if dev > 0:
        rest, parts["dev"] = grouped_split(rest, dev / (1 - test), seed, group_column)
    return {"train": rest, **{name: parts[name] for name in ("dev", "test") if name in parts}}
