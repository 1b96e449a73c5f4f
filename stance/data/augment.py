"""Training-time augmentation for claim-general models.

Target swap: a sentence paired with a *different* claim's target says nothing about that claim, so the
pair is ``neutral``. Adding such pairs teaches the model to read the target instead of the sentence
alone; it needs training data with at least two targets and does nothing otherwise.
"""

from __future__ import annotations

import numpy as np
from datasets import Dataset, concatenate_datasets


def target_swap(ds: Dataset, fraction: float, seed: int) -> Dataset:
    """``ds`` plus ``round(fraction * len(ds))`` copies of its rows paired with another target, as neutral."""
    targets = sorted(set(ds["target"]))
    if fraction <= 0 or len(targets) < 2:
        return ds
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(ds), size=min(len(ds), round(fraction * len(ds))), replace=False)
    rows = ds.select(np.sort(picked)).to_dict()
    position = {target: i for i, target in enumerate(targets)}
    swapped = []
    for own in rows["target"]:  # a uniform pick among the other targets: skip over the row's own
        pick = int(rng.integers(len(targets) - 1))
        swapped.append(targets[pick + (pick >= position[own])])
    rows["target"] = swapped
    rows["label"] = ["neutral"] * len(swapped)
    rows["id"] = [f"{row_id}#swap" for row_id in rows["id"]]
    extra = Dataset.from_dict(rows, features=ds.features)
    return concatenate_datasets([ds, extra])


def adjacent_spans(ds: Dataset) -> tuple[list[str], list[str]]:
    """(targets, texts) of every two neighbouring sentences of one article joined into one text, unlabelled.

    Neighbours are consecutive rows of the same ``group`` (article) and target, in file order (the order the
    corpus keeps its sentences in). Real coverage often carries background and the claim in one long
    sentence; a teacher can label such spans for a student (``stance distill --spans``), gold labels cannot.
    """
    targets: list[str] = []
    texts: list[str] = []
    rows = zip(ds["group"], ds["target"], ds["text"])
    previous = next(rows, None)
    for current in rows:
        if previous is not None and current[:2] == previous[:2]:
            targets.append(current[1])
            texts.append(f"{previous[2]} {current[2]}")
        previous = current
    return targets, texts
