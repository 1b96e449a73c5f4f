"""``stance track``: classify every article of a collection and sum the coverage up per source and period.

>>> from stance.coverage import track
>>> result = track("runs/default/model", "coverage.jsonl", "tracking/", period="quarter")
>>> result.rows[0]["verdicts"]["denying"]["share"]

The collection is read twice, streaming (:mod:`stance.coverage.collection`): a first pass validates every
row and stops on any problem before anything is written; the second classifies ``chunk_sentences``
sentences at a time across articles, reuses what ``DIR/cache`` already holds (:mod:`stance.coverage.cache`),
writes each article's line as it goes and adds it to the per-cell sums (:mod:`stance.coverage.aggregate`).
Every output file is written under a temporary folder inside ``DIR`` and moved into place only when all are
complete, so a failed run leaves the previous outputs (or none) — never half of them. The cache keeps
what was classified, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..data.formats import Problems
from ..errors import StanceError
from ..inference.articles import AggregationRule, aggregate, split_sentences
from ..inference.classifier import StanceClassifier, truncation_message
from ..labels import LABELS
from ..layout import (
    TRACK_ARTICLES_FILE,
    TRACK_CACHE_DIR,
    TRACK_SUMMARY_JSON,
    claim_output_dir,
)
from ..logs import progress_enabled
from .aggregate import DEFAULT_DRAWS, MIN_ARTICLES, Accumulator, Adjuster, clean, matrix_problem, summarise
from .cache import ArticleCache, article_key, model_fingerprint
from .collection import (
    Article,
    CollectionColumns,
    check_period,
    detect_sentence_rows,
    in_range,
    iter_articles,
    parse_bound,
    period_key,
    scan_collection,
)
from .matrix import ErrorMatrix, read_error_matrix

log = logging.getLogger(__name__)

BY = ("source", "none")
SHOWN = 10  # empty articles named in the summary
SCHEMA_VERSION = 1


@dataclass
class TrackResult:
    """What a run read, reused and wrote; ``summary`` is the content of summary.json."""

    output_dir: Path
    summary: dict[str, Any]
    files: list[Path] = field(default_factory=list)

    @property
    def rows(self) -> list[dict[str, Any]]:
        return self.summary["rows"]

    @property
    def notes(self) -> list[str]:
        return self.summary["notes"]

    def describe(self) -> str:
        counts, run = self.summary["articles"], self.summary["run"]
        parts = [
            f"tracked {counts['tracked']} article(s) -> {self.output_dir}",
            f"{run['classified']} classified, {run['reused']} reused from the cache",
        ]
        if counts["empty"]:
            parts.append(f"{counts['empty']} empty skipped")
        if counts["outside_range"]:
            parts.append(f"{counts['outside_range']} outside the date range")
        return "; ".join(parts)


@dataclass
class _Pending:
    article: Article
    sentences: list[str]
    key: str
    probabilities: np.ndarray | None  # None until classified


def track(
    model_dir: str | Path,
    collection: str | Path,
    output_dir: str | Path,
    *,
    by: str = "source",
    period: str = "month",
    since: str | dt.date | None = None,
    until: str | dt.date | None = None,
    target: str | None = None,
    columns: CollectionColumns | None = None,
    sentences: bool | None = None,
    rule: AggregationRule | None = None,
    split_lines: bool = True,
    batch_size: int = 64,
    max_length: int | None = None,
    quantize: bool | str = False,
    bf16: bool = False,
    backend: str = "torch",
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    overwrite: bool = False,
    use_cache: bool = True,
    chunk_sentences: int = 2048,
    progress: bool | None = None,
    classifier: StanceClassifier | None = None,
) -> TrackResult:
    """Classify and summarise a collection into ``output_dir`` (see the module docstring and ``stance track``).

    ``classifier``: an already loaded :class:`StanceClassifier` of ``model_dir`` (then the loading options
    are not used).
    """
    started = time.monotonic()
    check_period(period)
    if by not in BY:
        raise StanceError(f"--by {by!r}: choose source (one summary per outlet) or none (everything together)")
    first, last = parse_bound(since, "--since"), parse_bound(until, "--until")
    if first and last and first > last:
        raise StanceError(f"--since {first} is after --until {last}: nothing can fall in between")
    if chunk_sentences < 1 or draws < 100:
        raise StanceError("chunk_sentences must be at least 1 and draws at least 100")
    model_dir, collection, out = Path(model_dir), Path(collection), Path(output_dir)
    if not model_dir.is_dir():
        raise StanceError(f"{model_dir}: not a model folder (stance track needs a local `stance train` model)")
    if not collection.is_file():
        raise StanceError(f"{collection}: collection file not found")
    rule, columns = rule or AggregationRule(), columns or CollectionColumns()
    matrix = read_error_matrix(model_dir)  # a malformed file stops the run before any work
    mode = sentences if sentences is not None else detect_sentence_rows(collection, columns)
    scan = scan_collection(collection, columns, sentences=mode, by_source=by == "source", since=first, until=last)
    log.info(
        "%s: %d article(s) (%s), %d in the date range",
        collection,
        scan.articles,
        "sentence rows" if mode else "one a row",
        scan.in_range,
    )

    if classifier is None:
        classifier = StanceClassifier.from_pretrained(
            model_dir, batch_size=batch_size, max_length=max_length, quantize=quantize, bf16=bf16, backend=backend
        )
    claim = classifier.target_for(target)
    done = out.is_dir() and ((out / TRACK_SUMMARY_JSON).is_file() or (out / TRACK_CACHE_DIR).is_dir())
    claim_output_dir(out, overwrite=overwrite, resume=done and not overwrite, hint="pass --overwrite to replace it")
    scorer = classifier.scorer
    description = scorer.backend.describe() if hasattr(scorer.backend, "describe") else scorer.backend.name
    fingerprint = model_fingerprint(model_dir, backend=description, max_length=classifier.max_length)
    cache = ArticleCache(out, enabled=use_cache)
    staging = Path(tempfile.mkdtemp(prefix=".track-", dir=out))
    try:
        state = _Run(classifier, claim, rule, fingerprint, cache, period, chunk_sentences, split_lines, mode)
        with (staging / TRACK_ARTICLES_FILE).open("w", encoding="utf-8", newline="") as handle:
            state.stream(collection, columns, by == "source", first, last, handle, scan.in_range, progress)
        notes = _notes(state, matrix, claim, first, last)
        adjuster = Adjuster(matrix, draws, seed) if matrix is not None and not matrix_problem(matrix) else None
        rows = summarise(state.accumulator, adjuster)
        thin = sum(1 for row in rows if row["articles"] < MIN_ARTICLES)
        if thin:
            notes.append(
                f"{thin} cell(s) hold fewer than {MIN_ARTICLES} articles: no sentence-level interval there "
                "(its spread across articles cannot be estimated from one)"
            )
        summary = {
            "schema_version": SCHEMA_VERSION,
            "model": str(model_dir),
            "fingerprint": fingerprint,
            "input": str(collection),
            "input_form": "sentence rows" if mode else "one article a row",
            "target": claim,
            "by": by,
            "period": period,
            "since": first.isoformat() if first else None,
            "until": last.isoformat() if last else None,
            "rule": rule.describe(),
            "rule_settings": asdict(rule),
            "labels": list(LABELS),
            "error_matrix": matrix.to_dict() if matrix is not None else None,
            "adjusted": adjuster is not None,
            "interval": {"level": 0.95, "draws": draws, "seed": seed},
            "articles": {
                "read": scan.articles,
                "tracked": state.tracked,
                "empty": state.empty,
                "empty_articles": state.empty_where,
                "outside_range": state.outside,
            },
            "run": {
                "classified": state.classified,
                "reused": state.reused,
                "sentences_classified": state.sentences_classified,
                "truncated": state.truncated,
                "seconds": round(time.monotonic() - started, 3),
            },
            "notes": notes,
            "rows": clean(rows),
        }
        from .report import write_outputs

        write_outputs(summary, staging)
        files = _publish(staging, out)
    finally:
        cache.close()
        shutil.rmtree(staging, ignore_errors=True)
    log.info("%d article(s) reused from the cache, %d classified", state.reused, state.classified)
    return TrackResult(out, summary, files)


def _notes(
    state: _Run, matrix: ErrorMatrix | None, claim: str, first: dt.date | None, last: dt.date | None
) -> list[str]:
    notes: list[str] = []
    if matrix is None:
        notes.append(
            "No held-out error matrix is stored with the model, so sentence prevalence is raw classify-and-count "
            "only, not adjusted for the classifier's errors. Store one with `stance evaluate MODEL_DIR DATA "
            "--store-error-matrix` on held-out data (`stance train` does so after its test evaluation)."
        )
    elif problem := matrix_problem(matrix):
        notes.append(f"The error matrix {matrix.file or ''} cannot adjust: {problem}. Raw figures only.")
    else:
        notes.append(
            f"Adjusted prevalence corrects for the classifier's errors measured on {matrix.describe()}; its "
            "interval includes the uncertainty of that measurement."
        )
        if matrix.targets and claim not in matrix.targets:
            notes.append(
                "The error matrix was measured on another target than this run's; the adjustment assumes the "
                "classifier errs alike on both."
            )
    if state.empty:
        more = " ..." if state.empty > len(state.empty_where) else ""
        notes.append(f"{state.empty} empty article(s) skipped: {', '.join(state.empty_where)}{more}")
    if state.outside:
        window = f"{first or 'the start'} to {last or 'the end'}"
        notes.append(f"{state.outside} article(s) dated outside {window} left out")
    if state.truncated:
        notes.append(truncation_message(state.truncated, state.sentences_total, state.classifier.max_length))
    return notes


class _Run:
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
        self.pending: list[_Pending] = []
        self.waiting = 0  # sentences in pending still to classify

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

    def _sentences(self, article: Article) -> tuple[list[str], str, list[str]]:
        """The article's sentences, and what its cache key is made of."""
        if self.sentence_rows:
            return list(article.sentences or []), "rows", list(article.sentences or [])
        text, title = article.text, article.title or ""
        whole = f"{title}\n\n{text}" if title and not text.lstrip().startswith(title) else text
        found = [s.text for s in split_sentences(whole, split_lines=self.split_lines)]
        return found, f"text:{int(self.split_lines)}", [whole]

    def add(self, article: Article, handle: IO[str]) -> None:
        sentences, kind, parts = self._sentences(article)
        if not sentences:
            self.empty += 1
            if len(self.empty_where) < SHOWN:
                self.empty_where.append(f"{article.id} ({article.where})")
            return
        key = article_key(self.fingerprint, self.target, kind, parts)
        cached = self.cache.get(key)
        if cached is not None and len(cached) != len(sentences):
            cached = None  # split differently than when cached (another pysbd): classify again
        self.pending.append(_Pending(article, sentences, key, cached))
        if cached is None:
            self.waiting += len(sentences)
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

    def _finish(self, p: _Pending, handle: IO[str]) -> None:
        probabilities = np.asarray(p.probabilities, dtype=np.float32)
        verdict = aggregate(probabilities, self.rule)
        predicted = probabilities.argmax(axis=1)
        counts = np.bincount(predicted, minlength=len(LABELS))
        article = p.article
        key = period_key(article.date, self.period)
        self.accumulator.add(article.source, key, verdict.label, counts)
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


def _publish(staging: Path, out: Path) -> list[Path]:
    """Move every finished file from ``staging`` into ``out`` (replacing earlier ones)."""
    moved = []
    for path in sorted(staging.iterdir()):
        target = out / path.name
        os.replace(path, target)
        moved.append(target)
    return moved
