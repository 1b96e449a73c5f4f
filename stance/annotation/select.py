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
- ``clusters`` (the default of :func:`select` and ``stance annotate select``) — uncertainty and
  typicality: of the same shortlist, weighted k-means on the embeddings (weights = uncertainty) into N
  clusters and the candidate nearest each centre (:func:`stance.annotation.diversity.k_means`),
  near-duplicates dropped as for ``diverse``; it spends the labels on the typical member of each unsure
  region, not on its outliers.
- ``random`` — a seeded uniform sample (the baseline every strategy is measured against).

``per_article`` caps the picks from one article (candidates without an article are their own).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.examples import write_jsonl
from ..errors import StanceError
from ..inference.classifier import StanceClassifier
from ..inference.embeddings import embed_pairs
from ..labels import LABELS
from .diversity import Cap, Choice, Words, k_center, k_means
from .pool import Candidate, Pool

log = logging.getLogger(__name__)

STRATEGIES = ("uncertainty", "diverse", "clusters", "random")
MEASURES = ("margin", "entropy")
DUPLICATE_THRESHOLD = 0.8
SHORTLIST = 10


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

    ``probabilities`` (candidates, 3) is needed by all but ``random``; ``size`` is the number of candidates
    when there are none (``random``). ``diverse`` and ``clusters`` also need ``embed(indices)``, the
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
    cap = Cap(articles, per_article)
    if strategy == "random":
        order = rng.permutation(m)
    else:
        if probabilities is None:
            raise ValueError(f"strategy {strategy!r} needs the model's probabilities")
        order = np.lexsort((rng.random(m), -uncertainty(probabilities, measure)))
    if strategy in ("uncertainty", "random"):
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
        raise ValueError(f"strategy {strategy!r} needs embeddings and the candidates' (text, target)")
    length = min(m, max(n, shortlist * n))
    words, stages = Words(pairs, labelled_pairs), [order[:length], order[length:]]
    if strategy == "clusters":
        weights = uncertainty(probabilities, measure)[stages[0]]
        return k_means(n, stages, embed, weights, words, cap, duplicate_threshold, seed)
    return k_center(n, stages, embed, labelled, words, cap, duplicate_threshold)


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
    strategy: str = "clusters",
    measure: str = "margin",
    per_article: int | None = None,
    seed: int = 0,
    labelled: Sequence[tuple[str, str]] = (),
    duplicate_threshold: float = DUPLICATE_THRESHOLD,
    shortlist: int = SHORTLIST,
) -> Selection:
    """Score the pool with ``classifier`` and pick ``n`` candidates; ``labelled`` holds (text, target) of
    the already labelled rows (diverse keeps away from them; both diverse strategies skip their near-duplicates)."""
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
