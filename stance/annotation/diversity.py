"""Spreading a batch of picks over the encoder's embedding space, without near-duplicates.

Two pickers over a shortlist of unsure candidates (ordered least sure first), used by
:func:`stance.annotation.select.choose`:

- :func:`k_center` — greedy farthest-first: each pick is the candidate farthest (cosine) from everything
  picked or already labelled. It covers the space evenly, outliers included.
- :func:`k_means` — *diverse mini-batch* selection (Zhdanov 2019): weighted k-means (weights = each
  candidate's uncertainty) into N clusters, and from each cluster the candidate nearest its centre. It
  takes the typical member of each unsure region rather than its edge, so small, unrepresentative
  outliers are not what a young model's labels are spent on.

Both drop near-duplicates by words (:class:`Words`) and honour the per-article cap (:class:`Cap`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..data.fields import normalize_text

_CHUNK = 4096


@dataclass
class Choice:
    indices: list[int]  # into the candidates, in the order picked
    capped: int = 0  # passed over because their article had reached --per-article
    near_duplicates: int = 0  # dropped by a diverse strategy


class Cap:
    """At most ``limit`` picks per article (candidates without an article are their own)."""

    def __init__(self, articles: Sequence[str | None] | None, limit: int | None) -> None:
        self.articles, self.limit, self.counts = articles, limit, Counter()

    def full(self, i: int) -> bool:
        article = self.articles[i] if self.articles is not None else None
        return self.limit is not None and article is not None and self.counts[article] >= self.limit

    def take(self, i: int) -> None:
        if self.articles is not None and self.articles[i] is not None:
            self.counts[self.articles[i]] += 1


class Words:
    """Word uni- and bigram vectors (hashed, binary, L2-normalised) of the texts, and their targets' ids:
    two texts are near-duplicates when they share a target and their word vectors' cosine is high."""

    def __init__(self, pairs: Sequence[tuple[str, str]], labelled: Sequence[tuple[str, str]]) -> None:
        from sklearn.feature_extraction.text import HashingVectorizer

        vectorizer = HashingVectorizer(
            n_features=2**20, ngram_range=(1, 2), binary=True, norm="l2", alternate_sign=False
        )
        ids: dict[str, int] = {}
        self.vectors = vectorizer.transform([normalize_text(text) for text, _ in pairs])
        self.targets = np.array([ids.setdefault(normalize_text(t), len(ids)) for _, t in pairs])
        self.labelled = vectorizer.transform([normalize_text(text) for text, _ in labelled]) if labelled else None
        self.labelled_targets = np.array([ids.setdefault(normalize_text(t), len(ids)) for _, t in labelled])

    def similar_to_labelled(self, index: np.ndarray) -> np.ndarray:
        """Each candidate's highest word similarity to a labelled text of its target (0 when none)."""
        out = np.zeros(len(index))
        if self.labelled is None:
            return out
        for start in range(0, len(index), _CHUNK):
            part = index[start : start + _CHUNK]
            sims = (self.vectors[part] @ self.labelled.T).toarray()
            sims *= self.targets[part][:, None] == self.labelled_targets[None, :]
            out[start : start + _CHUNK] = sims.max(axis=1)
        return out

    def similar_to(self, index: np.ndarray, i: int) -> np.ndarray:
        sims = (self.vectors[index] @ self.vectors[i].T).toarray().ravel()
        return sims * (self.targets[index] == self.targets[i])


def _nearest(vectors: np.ndarray, others: np.ndarray | None) -> np.ndarray:
    """Cosine distance of each vector to its nearest in ``others`` (inf when there are none)."""
    out = np.full(len(vectors), np.inf)
    if others is None or not len(others):
        return out
    for start in range(0, len(vectors), _CHUNK):
        sims = vectors[start : start + _CHUNK] @ others.T
        out[start : start + _CHUNK] = 1.0 - sims.max(axis=1)
    return out


class _Batch:
    """The picks so far, with the bookkeeping both pickers share."""

    def __init__(self, n: int, words: Words, cap: Cap, threshold: float) -> None:
        self.n, self.words, self.cap, self.threshold = n, words, cap, threshold
        self.choice = Choice([])

    @property
    def full(self) -> bool:
        return len(self.choice.indices) >= self.n

    def alive(self, stage: np.ndarray) -> np.ndarray:
        """Which of ``stage`` are no near-duplicate of a labelled text or of a pick so far."""
        alive = self.words.similar_to_labelled(stage) < self.threshold
        for i in self.choice.indices:
            alive &= self.words.similar_to(stage, i) < self.threshold
        self.choice.near_duplicates += int((~alive).sum())
        return alive

    def take(self, stage: np.ndarray, j: int, alive: np.ndarray) -> bool:
        """Pick ``stage[j]`` unless its article is full; either way it leaves ``alive``, and so do the
        near-duplicates of a pick."""
        i = int(stage[j])
        alive[j] = False
        if self.cap.full(i):
            self.choice.capped += 1
            return False
        self.cap.take(i)
        self.choice.indices.append(i)
        duplicate = alive & (self.words.similar_to(stage, i) >= self.threshold)
        self.choice.near_duplicates += int(duplicate.sum())
        alive &= ~duplicate
        return True


def k_center(
    n: int,
    stages: list[np.ndarray],
    embed: Callable[[np.ndarray], np.ndarray],
    labelled: np.ndarray | None,
    words: Words,
    cap: Cap,
    threshold: float,
) -> Choice:
    """Farthest-first over each stage in turn (the shortlist, then the rest of the pool)."""
    batch = _Batch(n, words, cap, threshold)
    picked: list[np.ndarray] = []
    for stage in stages:
        if batch.full or not len(stage):
            break
        alive = batch.alive(stage)
        vectors = np.asarray(embed(stage), dtype=np.float32)
        dist = np.minimum(_nearest(vectors, labelled), _nearest(vectors, np.stack(picked) if picked else None))
        while not batch.full and alive.any():
            j = int(np.argmax(np.where(alive, dist, -np.inf)))  # all inf: the first, i.e. the least sure
            if batch.take(stage, j, alive):
                picked.append(vectors[j])
                dist = np.minimum(dist, 1.0 - vectors @ vectors[j])
    return batch.choice


def k_means(
    n: int,
    stages: list[np.ndarray],
    embed: Callable[[np.ndarray], np.ndarray],
    weights: np.ndarray,
    words: Words,
    cap: Cap,
    threshold: float,
    seed: int = 0,
) -> Choice:
    """Weighted k-means of the shortlist (``stages[0]``, weights = uncertainty of those candidates) into
    ``n`` clusters, the most uncertain cluster first; from each, the live candidate nearest its centre.
    Clusters emptied by the cap or the near-duplicate rule are made up from the shortlist and then the
    rest of the pool, least sure first."""
    from sklearn.cluster import KMeans

    batch = _Batch(n, words, cap, threshold)
    shortlist = stages[0]
    alive = batch.alive(shortlist)
    live = np.flatnonzero(alive)
    if len(live):
        vectors = np.asarray(embed(shortlist[live]), dtype=np.float32)
        w = np.maximum(np.asarray(weights, dtype=np.float64)[live], 1e-6)  # a sure candidate still counts a little
        k = min(n, len(live))
        km = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(vectors, sample_weight=w)
        mass = np.bincount(km.labels_, weights=w, minlength=k)
        distance = ((vectors - km.cluster_centers_[km.labels_]) ** 2).sum(axis=1)
        for cluster in np.argsort(-mass, kind="stable"):
            for j in live[km.labels_ == cluster][np.argsort(distance[km.labels_ == cluster], kind="stable")]:
                if batch.full or (alive[j] and batch.take(shortlist, int(j), alive)):
                    break
    # made up from the rest of the shortlist, then from the rest of the pool, least sure first
    for stage, keep in ((shortlist, alive), (stages[1], None)):
        if batch.full or not len(stage):
            break
        keep = batch.alive(stage) if keep is None else keep
        for j in range(len(stage)):
            if batch.full:
                break
            if keep[j]:  # a pick's near-duplicates leave ``keep`` as it goes
                batch.take(stage, j, keep)
    return batch.choice
