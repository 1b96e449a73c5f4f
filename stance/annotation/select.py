"""Which sentences to annotate next: by the model's uncertainty, spread over its embedding space, or at random.

Strategies (:func:`choose` works on arrays, so the benchmark and the CLI share it):

- ``uncertainty`` — the least sure predictions first: smallest *margin* between the two most probable
  labels (``measure="margin"``, the default) or highest *entropy* of the three probabilities (normalised
  to [0, 1]). Ties are broken at random (seeded).
- ``diverse`` — uncertainty and coverage: of the ``shortlist`` × N least sure candidates, k-center greedy
  on the encoder's embeddings (:func:`stance.inference.embeddings.embed_pairs`, cosine distance) picks
  each time the candidate farthest from everything picked or already labelled, starting from the least
  sure one (or the farthest from the labelled set). A candidate whose words (uni- and bigrams, cosine)
  are ``duplicate_threshold`` alike with those of a pick, or of a labelled sentence of the same claim, is
  a near-duplicate and is dropped: a wire story reprinted with a new dateline is labelled once. (Words,
  not the encoder: a fine-tuned encoder puts whole classes close together, so no fixed cosine threshold
  on its embeddings tells a reprint from a paraphrase.) When the shortlist runs out, the rest of the
  pool is added.
- ``random`` — a seeded uniform sample (the baseline every strategy is measured against).

``per_article`` caps the picks from one article (candidates without an article are their own).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.examples import write_jsonl
from ..data.fields import normalize_text
from ..errors import StanceError
from ..inference.classifier import StanceClassifier
from ..inference.embeddings import embed_pairs
from ..labels import LABELS
from .pool import Candidate, Pool

log = logging.getLogger(__name__)

STRATEGIES = ("uncertainty", "diverse", "random")
MEASURES = ("margin", "entropy")
DUPLICATE_THRESHOLD = 0.8
SHORTLIST = 10
_CHUNK = 4096


def uncertainty(probabilities: np.ndarray, measure: str = "margin") -> np.ndarray:
    """How unsure each prediction is, in [0, 1], higher = less sure: 1 - margin, or normalised entropy."""
    if measure not in MEASURES:
        raise StanceError(f"unknown uncertainty measure {measure!r}; choose one of {', '.join(MEASURES)}")
    p = np.asarray(probabilities, dtype=np.float64)
    if measure == "margin":
        top = np.sort(p, axis=1)
        return 1.0 - (top[:, -1] - top[:, -2])
    safe = np.clip(p, 1e-12, 1.0)
    return -(p * np.log(safe)).sum(axis=1) / np.log(p.shape[1])


@dataclass
class Choice:
    indices: list[int]  # into the candidates, in the order picked
    capped: int = 0  # passed over because their article had reached --per-article
    near_duplicates: int = 0  # dropped by the diverse strategy


class _Cap:
    def __init__(self, articles: Sequence[str | None] | None, limit: int | None) -> None:
        self.articles, self.limit, self.counts = articles, limit, Counter()

    def full(self, i: int) -> bool:
        article = self.articles[i] if self.articles is not None else None
        return self.limit is not None and article is not None and self.counts[article] >= self.limit

    def take(self, i: int) -> None:
        if self.articles is not None and self.articles[i] is not None:
            self.counts[self.articles[i]] += 1


def choose(
    n: int,
    strategy: str,
    *,
    size: int | None = None,
    probabilities: np.ndarray | None = None,
    embed: Callable[[np.ndarray], np.ndarray] | None = None,
    pairs: Sequence[tuple[str, str]] | None = None,
    labelled: np.ndarray | None = None,
    labelled_pairs: Sequence[tuple[str, str]] = (),
    articles: Sequence[str | None] | None = None,
    per_article: int | None = None,
    measure: str = "margin",
    seed: int = 0,
    duplicate_threshold: float = DUPLICATE_THRESHOLD,
    shortlist: int = SHORTLIST,
) -> Choice:
    """Pick up to ``n`` of the candidates (see the module docstring).

    ``probabilities`` (candidates, 3) is needed by ``uncertainty`` and ``diverse``; ``size`` is the number of
    candidates when there are none (``random``). ``diverse`` also needs ``embed(indices)``, the
    L2-normalised encoder embeddings of those candidates, and ``pairs``, their (text, target); ``labelled``
    and ``labelled_pairs`` are the same for the already labelled sentences.
    """
    if strategy not in STRATEGIES:
        raise StanceError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if per_article is not None and per_article < 1:
        raise StanceError(f"--per-article must be at least 1, got {per_article}")
    if not 0.0 < duplicate_threshold <= 1.0:
        raise StanceError(f"the near-duplicate threshold must lie in (0, 1], got {duplicate_threshold}")
    rng = np.random.default_rng(seed)
    m = len(probabilities) if probabilities is not None else int(size or 0)
    cap = _Cap(articles, per_article)
    if strategy == "random":
        order = rng.permutation(m)
    else:
        if probabilities is None:
            raise ValueError(f"strategy {strategy!r} needs the model's probabilities")
        order = np.lexsort((rng.random(m), -uncertainty(probabilities, measure)))
    if strategy != "diverse":
        choice = Choice([])
        for i in order:
            if len(choice.indices) >= n:
                break
            if cap.full(int(i)):
                choice.capped += 1
                continue
            cap.take(int(i))
            choice.indices.append(int(i))
        return choice
    if embed is None or pairs is None:
        raise ValueError("strategy 'diverse' needs embeddings and the candidates' (text, target)")
    length = min(m, max(n, shortlist * n))
    words = _Words(pairs, labelled_pairs)
    return _k_center(n, [order[:length], order[length:]], embed, labelled, words, cap, duplicate_threshold)


class _Words:
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


def _k_center(
    n: int,
    stages: list[np.ndarray],
    embed: Callable[[np.ndarray], np.ndarray],
    labelled: np.ndarray | None,
    words: _Words,
    cap: _Cap,
    threshold: float,
) -> Choice:
    choice = Choice([])
    picked: list[np.ndarray] = []
    for stage in stages:
        if len(choice.indices) >= n or not len(stage):
            break
        alive = words.similar_to_labelled(stage) < threshold
        for i in choice.indices:
            alive &= words.similar_to(stage, i) < threshold
        choice.near_duplicates += int((~alive).sum())
        vectors = np.asarray(embed(stage), dtype=np.float32)
        dist = np.minimum(_nearest(vectors, labelled), _nearest(vectors, np.stack(picked) if picked else None))
        while len(choice.indices) < n and alive.any():
            j = int(np.argmax(np.where(alive, dist, -np.inf)))  # all inf: the first, i.e. the least sure
            i = int(stage[j])
            alive[j] = False
            if cap.full(i):
                choice.capped += 1
                continue
            cap.take(i)
            choice.indices.append(i)
            picked.append(vectors[j])
            dist = np.minimum(dist, 1.0 - vectors @ vectors[j])
            duplicate = alive & (words.similar_to(stage, i) >= threshold)
            choice.near_duplicates += int(duplicate.sum())
            alive &= ~duplicate
    return choice


# ------------------------------------------------------------------------------------------- with a model


@dataclass
class Picked:
    candidate: Candidate
    label: str  # the model's prediction (the pre-annotation)
    scores: dict[str, float]
    uncertainty: float
    rank: int  # 1 = picked first


@dataclass
class Selection:
    picked: list[Picked]
    pool: Pool
    strategy: str
    measure: str
    requested: int
    capped: int = 0
    near_duplicates: int = 0
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        pool = self.pool
        how = f"{self.strategy} ({self.measure})" if self.strategy != "random" else "random"
        parts = [f"selected {len(self.picked)} of {len(pool.candidates)} candidate(s) by {how}"]
        left = [
            f"{pool.excluded} already labelled" if pool.excluded else "",
            f"{pool.duplicates} repeated" if pool.duplicates else "",
            f"{pool.empty} empty" if pool.empty else "",
        ]
        if any(left):
            parts.append(f"left out of {pool.rows} row(s): {', '.join(x for x in left if x)}")
        if self.capped:
            parts.append(f"{self.capped} passed over by --per-article")
        if self.near_duplicates:
            parts.append(f"{self.near_duplicates} near-duplicate(s) dropped")
        return "; ".join(parts + self.notes)


def select(
    classifier: StanceClassifier,
    pool: Pool,
    n: int,
    *,
    strategy: str = "uncertainty",
    measure: str = "margin",
    per_article: int | None = None,
    seed: int = 0,
    labelled: Sequence[tuple[str, str]] = (),
    duplicate_threshold: float = DUPLICATE_THRESHOLD,
    shortlist: int = SHORTLIST,
) -> Selection:
    """Score the pool with ``classifier`` and pick ``n`` candidates; ``labelled`` holds (text, target) of
    the already labelled rows (the diverse strategy keeps away from them)."""
    if n < 1:
        raise StanceError(f"--n must be at least 1, got {n}")
    if shortlist < 1:
        raise StanceError(f"--shortlist must be at least 1, got {shortlist}")
    candidates = pool.candidates
    notes = []
    if n > len(candidates):
        notes.append(f"--n {n} is more than the {len(candidates)} candidate(s) left: taking all of them")
        log.info("--n %d is more than the %d candidate(s) in the pool: taking all of them", n, len(candidates))
    texts, targets = [c.text for c in candidates], [c.target for c in candidates]
    log.info("scoring %d candidate(s)", len(candidates))
    probabilities = classifier.predict_proba(texts, targets)
    trained, batch = classifier.trained, classifier.batch_size

    def embed(indices: np.ndarray) -> np.ndarray:
        log.info("embedding %d candidate(s)", len(indices))
        return embed_pairs(trained, [targets[i] for i in indices], [texts[i] for i in indices], batch_size=batch)

    labelled_vectors = None
    if strategy == "diverse" and labelled:
        log.info("embedding %d labelled sentence(s)", len(labelled))
        labelled_vectors = embed_pairs(trained, [t for _, t in labelled], [x for x, _ in labelled], batch_size=batch)
    choice = choose(
        min(n, len(candidates)),
        strategy,
        probabilities=probabilities,
        embed=embed,
        pairs=list(zip(texts, targets)),
        labelled=labelled_vectors,
        labelled_pairs=list(labelled),
        articles=[c.article for c in candidates],
        per_article=per_article,
        measure=measure,
        seed=seed,
        duplicate_threshold=duplicate_threshold,
        shortlist=shortlist,
    )
    unsure = uncertainty(probabilities, measure)
    picked = [
        Picked(
            candidates[i],
            LABELS[int(probabilities[i].argmax())],
            {label: round(float(p), 6) for label, p in zip(LABELS, probabilities[i])},
            round(float(unsure[i]), 6),
            rank,
        )
        for rank, i in enumerate(choice.indices, 1)
    ]
    if len(picked) < min(n, len(candidates)):
        notes.append(f"only {len(picked)} could be taken under --per-article and the near-duplicate rule")
    return Selection(picked, pool, strategy, measure, n, choice.capped, choice.near_duplicates, notes)


def selection_rows(picked: Sequence[Picked]) -> list[dict]:
    """The picks as unlabelled rows (JSON Lines): the sentence, its claim and context, the model's label."""
    return [
        {
            "id": p.candidate.id,
            "text": p.candidate.text,
            "target": p.candidate.target,
            **{k: v for k, v in p.candidate.extras.items() if k not in ("id", "text", "target")},
            "context_before": " ".join(p.candidate.before),
            "context_after": " ".join(p.candidate.after),
            "predicted": p.label,
            "score": p.scores[p.label],
            "uncertainty": p.uncertainty,
            "rank": p.rank,
        }
        for p in picked
    ]


def write_selection(picked: Sequence[Picked], path: str | Path) -> None:
    write_jsonl(selection_rows(picked), path)
