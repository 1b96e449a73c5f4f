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


def perturbed_copies(
    ds: Dataset, copies: int, seed: int, drop: float = 0.1, window: float = 0.5
) -> tuple[list[str], list[str]]:
    """(targets, texts) of ``copies`` perturbed versions of every sentence, unlabelled (for a teacher to label).

    The transfer-set augmentation of Tang et al. (2019, "Distilling task-specific knowledge from BERT into
    simple neural networks"), without mask tokens, which teacher and student spell differently: with
    probability ``window`` keep a random run of 60-100% of the words (a clause, a truncated quote), then
    drop each word with probability ``drop``. A copy equal to its sentence or to an earlier copy is left out.
    """
    if copies < 0:
        raise ValueError(f"copies must be >= 0, got {copies}")
    rng = np.random.default_rng(seed)
    targets: list[str] = []
    texts: list[str] = []
    for target, text in zip(ds["target"], ds["text"]):
        words = text.split()
        seen = {text}
        for _ in range(copies):
            kept = words
            if len(words) > 4 and rng.random() < window:
                size = int(rng.integers(max(3, int(np.ceil(0.6 * len(words)))), len(words) + 1))
                start = int(rng.integers(0, len(words) - size + 1))
                kept = words[start : start + size]
            survivors = [w for w in kept if rng.random() >= drop]
            copy = " ".join(survivors if len(survivors) >= 3 else kept)
            if copy not in seen:
                seen.add(copy)
                targets.append(target)
                texts.append(copy)
    return targets, texts
