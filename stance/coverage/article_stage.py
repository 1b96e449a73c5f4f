"""The article stage of ``stance track``: the second pass over a collection, article by article.

For each article in the date range: its sentences (split from its text, or its sentence rows), its cache key
(:func:`~stance.coverage.cache.article_key`) and what the cache holds; the misses are classified
``chunk`` sentences at a time across articles, stored in the cache, and every article's line is written to
``articles.jsonl`` and its verdict and sentence labels added to the per-cell sums
(:class:`~stance.coverage.aggregate.Accumulator`). With ``engine="ray"`` the misses are classified before
the pass (:meth:`ArticleStage.misses`, :mod:`stance.coverage.distributed`), so the pass finds them cached.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from ..data.formats import Problems
from ..inference.articles import AggregationRule, aggregate, split_sentences
from ..inference.classifier import StanceClassifier
from ..labels import LABELS
from ..logs import progress_enabled
from .aggregate import Accumulator
from .cache import ArticleCache, article_key
from .collection import Article, CollectionColumns, in_range, iter_articles, period_key
from .distributed import RayStage

SHOWN = 10  # empty articles named in the summary


@dataclass
class Pending:
    article: Article
    sentences: list[str]
    key: str
    probabilities: np.ndarray | None  # None until classified


class ArticleStage:
    """The second pass: cache look-ups, chunked classification, article lines and cell sums."""

    def __init__(
        self,
        classifier: StanceClassifier,
        target: str,
        rule: AggregationRule,
        fingerprint: str,
        cache: ArticleCache,
        period: str,
        chunk: int,
        split_lines: bool,
        sentence_rows: bool,
    ) -> None:
        self.classifier, self.target, self.rule = classifier, target, rule
        self.fingerprint, self.cache, self.period, self.chunk = fingerprint, cache, period, chunk
        self.split_lines, self.sentence_rows = split_lines, sentence_rows
        self.accumulator = Accumulator()
        self.tracked = self.empty = self.outside = self.classified = self.reused = 0
        self.sentences_classified = self.sentences_total = self.truncated = 0
        self.empty_where: list[str] = []
        self.pending: list[Pending] = []
        self.waiting = 0  # sentences in pending still to classify
        self.ray: RayStage | None = None  # what the Ray pool classified before the pass (engine="ray")

    def stream(
        self,
        path: Path,
        columns: CollectionColumns,
        by_source: bool,
        first: dt.date | None,
        last: dt.date | None,
        handle: IO[str],
        total: int,
        progress: bool | None,
    ) -> None:
        from tqdm.auto import tqdm

        show = progress_enabled() if progress is None else progress
        problems = Problems()
        with tqdm(total=total, unit="article", disable=not show, file=sys.stderr, desc="tracking") as bar:
            for article in iter_articles(path, columns, problems, sentences=self.sentence_rows, by_source=by_source):
                if not in_range(article.date, first, last):
                    self.outside += 1
                    continue
                bar.update(1)
                self.add(article, handle)
            self.flush(handle)
        problems.raise_if_any(f"{path}: changed while it was being tracked")
        if self.ray is not None:  # the pass found the pool's articles in the cache: they were classified
            self.classified, self.reused = self.classified + self.ray.articles, self.reused - self.ray.articles
            self.sentences_classified += self.ray.sentences
            self.truncated += self.ray.truncated

    def misses(
        self, path: Path, columns: CollectionColumns, by_source: bool, first: dt.date | None, last: dt.date | None
    ) -> Iterator[tuple[str, list[str]]]:
        """``(cache key, sentences)`` of each article in the date range that the cache lacks (engine="ray")."""
        for article in iter_articles(path, columns, Problems(), sentences=self.sentence_rows, by_source=by_source):
            if in_range(article.date, first, last) and (found := self._lookup(article)) is not None:
                if found.probabilities is None:
                    yield found.key, found.sentences

    def _sentences(self, article: Article) -> tuple[list[str], str, list[str]]:
        """The article's sentences, and what its cache key is made of."""
        if self.sentence_rows:
            return list(article.sentences or []), "rows", list(article.sentences or [])
        text, title = article.text, article.title or ""
        whole = f"{title}\n\n{text}" if title and not text.lstrip().startswith(title) else text
        found = [s.text for s in split_sentences(whole, split_lines=self.split_lines)]
        return found, f"text:{int(self.split_lines)}", [whole]

    def _lookup(self, article: Article) -> Pending | None:
        """The article's sentences, key and cached probabilities (None: not cached); None if it is empty."""
        sentences, kind, parts = self._sentences(article)
        if not sentences:
            return None
        key = article_key(self.fingerprint, self.target, kind, parts)
        cached = self.cache.get(key)
        if cached is not None and len(cached) != len(sentences):
            cached = None  # split differently than when cached (another pysbd): classify again
        return Pending(article, sentences, key, cached)

    def add(self, article: Article, handle: IO[str]) -> None:
        found = self._lookup(article)
        if found is None:
            self.empty += 1
            if len(self.empty_where) < SHOWN:
                self.empty_where.append(f"{article.id} ({article.where})")
            return
        self.pending.append(found)
        if found.probabilities is None:
            self.waiting += len(found.sentences)
        if self.waiting >= self.chunk or len(self.pending) >= 4 * self.chunk:
            self.flush(handle)

    def flush(self, handle: IO[str]) -> None:
        misses = [p for p in self.pending if p.probabilities is None]
        if misses:
            texts = [s for p in misses for s in p.sentences]
            scored = self.classifier.scorer.score([self.target] * len(texts), texts)
            self.truncated += scored.truncated
            self.sentences_classified += len(texts)
            start = 0
            for p in misses:
                p.probabilities = scored.probabilities[start : start + len(p.sentences)]
                start += len(p.sentences)
                self.cache.put(p.key, p.probabilities)
        for p in self.pending:
            self._finish(p, handle)
        self.classified += len(misses)
        self.reused += len(self.pending) - len(misses)
        self.cache.commit()
        self.pending, self.waiting = [], 0

    def _finish(self, p: Pending, handle: IO[str]) -> None:
        probabilities = np.asarray(p.probabilities, dtype=np.float32)
        verdict = aggregate(probabilities, self.rule)
        predicted = probabilities.argmax(axis=1)
        counts = np.bincount(predicted, minlength=len(LABELS))
        article = p.article
        key = period_key(article.date, self.period)
        self.accumulator.add(article.source, key, verdict.label, counts, probabilities.sum(axis=0, dtype=np.float64))
        self.tracked += 1
        self.sentences_total += len(p.sentences)
        record = {
            "id": article.id,
            "source": article.source,
            "date": article.date.isoformat(),
            "period": key,
            "title": article.title,
            "url": article.url,
            "verdict": verdict.label,
            "reason": verdict.reason,
            "sentences": len(p.sentences),
            "counts": {label: int(c) for label, c in zip(LABELS, counts)},
            "deciding": [
                {
                    "number": i + 1,
                    "text": p.sentences[i],
                    "label": LABELS[int(predicted[i])],
                    "score": round(float(probabilities[i, predicted[i]]), 6),
                }
                for i in verdict.deciding
            ],
        }
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
