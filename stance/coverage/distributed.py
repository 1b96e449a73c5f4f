"""``stance track --engine ray``: the article stage (classifying the sentences of every new or changed article)
on the Ray actor pool of ``stance predict --engine ray`` (:mod:`stance.inference.cluster`,
:mod:`stance.inference.actors`).

Before the usual pass over the collection (:mod:`stance.coverage.tracking`), the driver walks it once more
and streams the sentences of every article the cache lacks into Ray's object store, in blocks, each sentence
keyed by its place in the run and by its article. The pool scores them against the claim with the local
engine's scorer and backend; the driver puts the rows back in order
(:class:`~stance.inference.actors.Order`: each row once, whatever a retry delivered twice), joins each
article's sentences up again and stores their probabilities in the cache, committed as they come (an
interrupted run keeps what was done). The usual pass then finds every article in the cache, so the reading,
verdicts, sums and report are the local engine's. Ray is started only when some article needs classifying;
the collection is read on the driver only, so the nodes need the model but not the collection.
"""

from __future__ import annotations

import itertools
import logging
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import StanceError
from ..inference.actors import Order, scored_batches
from ..inference.cluster import (
    ModelOptions,
    Pool,
    RayOptions,
    check_address,
    check_options,
    ordered_quiet_data,
    ray_session,
    require_ray,
    rows_per_call,
    size_pool,
)
from ..labels import LABELS
from ..logs import progress_enabled
from .cache import ArticleCache

log = logging.getLogger(__name__)

ENGINES = ("local", "ray")
COMMIT_EVERY = 256  # articles stored in the cache between commits
BLOCK_SENTENCES = 1024  # sentences per block put into the object store (at most): a block is one actor's task


@dataclass
class RayStage:
    """What the pool classified: ``articles`` (the cache's misses) of ``sentences`` sentences."""

    articles: int = 0
    sentences: int = 0
    truncated: int = 0
    pool: Pool | None = None  # None: every article came from the cache, Ray was not started
    startup_s: float = 0.0
    seconds: float = 0.0

    def describe(self) -> str:
        if self.pool is None:
            return "ray: not started (nothing to classify)"
        return (
            f"ray: {self.sentences} sentence(s) of {self.articles} article(s) on {self.pool.describe()}, "
            f"start-up {self.startup_s:.1f} s, {self.seconds:.1f} s in all"
        )


def check_engine(
    engine: str, ray_options: RayOptions | None, options: ModelOptions, classifier: bool
) -> RayOptions | None:
    """The Ray options to run with (None for the local engine), checked before any work: Ray installed (else
    the one message saying how), the cluster at ``--address`` answering, options the actors can run."""
    if engine not in ENGINES:
        raise StanceError(f"engine {engine!r}: choose local (this process) or ray (a pool of Ray actors)")
    if engine == "local":
        if ray_options is not None:
            raise StanceError("ray_options are for engine='ray' (--address, --workers ...: only with --engine ray)")
        return None
    require_ray()
    if classifier:
        raise StanceError(
            "engine='ray' loads the model in each actor from the loading options; pass those, not a classifier"
        )
    ray_options = ray_options or RayOptions()
    if ray_options.address is not None:
        check_address(ray_options.address)
    check_options(options, ray_options.gpus_per_worker)
    return ray_options


def classify_on_ray(
    misses: Iterable[tuple[str, list[str]]],
    cache: ArticleCache,
    *,
    model: str,
    target: str,
    options: ModelOptions,
    ray_options: RayOptions,
    chunk: int = 2048,
    progress: bool | None = None,
) -> RayStage:
    """Classify the sentences of ``misses`` (``(cache key, sentences)`` per article, in collection order) on
    the pool and put each article's probabilities into ``cache`` (module docstring)."""
    from tqdm.auto import tqdm

    started = time.perf_counter()
    stage = RayStage()
    articles = iter(misses)
    first = next(articles, None)
    if first is None:
        log.info("every article is in the cache: Ray is not started")
        return stage
    joining = time.perf_counter()
    with ray_session(ray_options.address, ray_options.num_cpus) as ray, ordered_quiet_data(ray):
        stage.startup_s = time.perf_counter() - joining
        pool = stage.pool = size_pool(ray, ray_options)
        size = max(options.batch_size, min(chunk, BLOCK_SENTENCES))
        refs = [ray.put(block) for block in _blocks(itertools.chain([first], articles), stage, size)]
        per_call = rows_per_call(stage.sentences, pool, options.batch_size, chunk)
        log.info(
            "ray: %d sentence(s) of %d article(s) on %s, %d per call",
            stage.sentences,
            stage.articles,
            pool.describe(),
            per_call,
        )
        order, joined = Order([stage.sentences]), _Join(cache)
        show = progress_enabled() if progress is None else progress
        dataset = ray.data.from_arrow_refs(refs)
        batches = scored_batches(ray, dataset, model, options, target, pool, per_call)  # lazy: runs when read
        with (
            closing(batches),  # the job stops (its executor shut down) before Ray does, even after a failure
            tqdm(total=stage.sentences, unit="sentence", disable=not show, file=sys.stderr, desc="ray") as bar,
        ):
            for batch in batches:
                for rows, i in order.accept(batch):
                    joined.add(rows, i)
                bar.update(len(batch["pid"]))
        order.check()
        joined.finish()
        if joined.articles != stage.articles:
            raise RuntimeError(f"the Ray job returned {joined.articles} of {stage.articles} article(s)")
        stage.truncated = joined.truncated
    stage.seconds = time.perf_counter() - started
    return stage


def _blocks(articles: Iterable[tuple[str, list[str]]], stage: RayStage, size: int) -> Iterator[Any]:
    """Arrow blocks of up to ``size`` sentence rows in the columns the pool actors read: ``ordinal`` (the
    sentence's place in the run), ``loc`` (its article's), ``id`` (the article's cache key), ``text`` and
    ``target`` (none: the claim)."""
    import pyarrow as pa

    rows: list[tuple[int, str, str]] = []

    def block() -> Any:
        start = stage.sentences - len(rows)
        return pa.table(
            {
                "file": pa.array([0] * len(rows), pa.int32()),
                "ordinal": pa.array(range(start, stage.sentences), pa.int64()),
                "id": pa.array([r[1] for r in rows], pa.string()),
                "loc": pa.array([str(r[0]) for r in rows], pa.string()),
                "text": pa.array([r[2] for r in rows], pa.string()),
                "target": pa.array([None] * len(rows), pa.string()),
            }
        )

    for number, (key, sentences) in enumerate(articles):
        stage.articles += 1
        for text in sentences:
            rows.append((number, key, text))
            stage.sentences += 1
            if len(rows) >= size:
                yield block()
                rows = []
    if rows:
        yield block()


class _Join:
    """Scored sentence rows, in order, joined up into articles and stored in the cache."""

    def __init__(self, cache: ArticleCache) -> None:
        self.cache, self.article, self.key = cache, "", ""
        self.rows: list[np.ndarray] = []
        self.articles = self.truncated = 0

    def add(self, batch: dict[str, np.ndarray], i: int) -> None:
        if batch["loc"][i] != self.article:
            self.close()
            self.article, self.key = batch["loc"][i], str(batch["id"][i])
        self.rows.append(np.array([batch[f"p{k}"][i] for k in range(len(LABELS))], dtype=np.float32))
        self.truncated += int(batch["truncated"][i])

    def close(self) -> None:
        """Store the article joined so far; commit every :data:`COMMIT_EVERY` articles."""
        if not self.rows:
            return
        probabilities = np.stack(self.rows)
        if np.isnan(probabilities).any():
            raise RuntimeError(f"the Ray job left sentences of article {self.key} unscored")
        self.cache.put(self.key, probabilities)
        self.articles += 1
        self.rows = []
        if self.articles % COMMIT_EVERY == 0:
            self.cache.commit()

    def finish(self) -> None:
        self.close()
        self.cache.commit()
