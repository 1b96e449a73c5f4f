"""``stance track``: classify every article of a collection and sum the coverage up per source and period.

>>> from stance.coverage import track
>>> result = track("runs/default/model", "coverage.jsonl", "tracking/", period="quarter")
>>> result.rows[0]["verdicts"]["denying"]["share"]

The collection is read twice, streaming (:mod:`stance.coverage.collection`): a first pass validates every
row and stops on any problem before anything is written; the second (:mod:`stance.coverage.article_stage`)
classifies ``chunk_sentences`` sentences at a time across articles, reuses what ``DIR/cache`` already holds
(:mod:`stance.coverage.cache`), writes each article's line as it goes and adds it to the per-cell sums
(:mod:`stance.coverage.aggregate`).
Every output file is written under a temporary folder inside ``DIR`` and moved into place only when all are
complete, so a failed run leaves the previous outputs (or none) — never half of them. The cache keeps
what was classified, so an interrupted run resumes where it stopped. With ``engine="ray"`` the articles the
cache lacks are classified first, on a pool of Ray actors (:mod:`stance.coverage.distributed`); the rest of
the run is the same.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import StanceError
from ..evaluation.error_matrix import ErrorMatrix, read_error_matrix
from ..inference.articles import AggregationRule
from ..inference.classifier import StanceClassifier, truncation_message
from ..inference.cluster import ModelOptions, RayOptions, worker_options
from ..labels import LABELS
from ..layout import (
    TRACK_ARTICLES_FILE,
    TRACK_CACHE_DIR,
    TRACK_SUMMARY_JSON,
    claim_output_dir,
)
from .aggregate import DEFAULT_DRAWS, MIN_ARTICLES, Adjuster, clean, matrix_problem, summarise
from .article_stage import ArticleStage
from .cache import ArticleCache, model_fingerprint
from .collection import (
    CollectionColumns,
    check_period,
    detect_sentence_rows,
    parse_bound,
    scan_collection,
)
from .distributed import check_engine, classify_on_ray

log = logging.getLogger(__name__)

BY = ("source", "none")
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
        if run.get("ray"):
            parts.append(run["ray"])
        return "; ".join(parts)


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
    backend: str = "auto",
    precision: str = "auto",
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    overwrite: bool = False,
    use_cache: bool = True,
    chunk_sentences: int = 2048,
    progress: bool | None = None,
    classifier: StanceClassifier | None = None,
    engine: str = "local",
    ray_options: RayOptions | None = None,
) -> TrackResult:
    """Classify and summarise a collection into ``output_dir`` (see the module docstring and ``stance track``).

    ``classifier``: an already loaded :class:`StanceClassifier` of ``model_dir`` (then the loading options
    are not used; local engine only). ``engine="ray"``: the articles the cache lacks are classified by a
    pool of Ray actors, each loading the model with the loading options, where ``ray_options`` say
    (default: a local Ray instance on every CPU); the model is loaded here too, for the cache's fingerprint.
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
    options = ModelOptions(quantize, bf16, backend, batch_size, max_length, precision)
    ray_options = check_engine(engine, ray_options, options, classifier is not None)  # None: the local engine
    if ray_options is not None:  # loaded here too (the cache's fingerprint): the same backend as the actors
        options = worker_options(options, ray_options.gpus_per_worker)
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
        classifier = StanceClassifier.from_pretrained(model_dir, **asdict(options))
    claim = classifier.target_for(target)
    done = out.is_dir() and ((out / TRACK_SUMMARY_JSON).is_file() or (out / TRACK_CACHE_DIR).is_dir())
    claim_output_dir(out, overwrite=overwrite, resume=done and not overwrite, hint="pass --overwrite to replace it")
    fingerprint = model_fingerprint(model_dir, backend=classifier.runtime, max_length=classifier.max_length)
    cache = ArticleCache(out, enabled=use_cache)
    staging = Path(tempfile.mkdtemp(prefix=".track-", dir=out))
    try:
        if ray_options is not None and not use_cache:  # the pool's answers wait for the pass in a scratch cache
            cache = ArticleCache(staging / ".ray")
        state = ArticleStage(classifier, claim, rule, fingerprint, cache, period, chunk_sentences, split_lines, mode)
        if ray_options is not None:
            state.ray = classify_on_ray(
                state.misses(collection, columns, by == "source", first, last),
                cache,
                model=str(model_dir),
                target=claim,
                options=options,
                ray_options=ray_options,
                chunk=chunk_sentences,
                progress=progress,
            )
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
            "error_matrix": matrix.to_dict(examples=False) if matrix is not None else None,
            "adjusted": adjuster is not None,
            "adjustment": adjuster.method if adjuster is not None else None,
            "interval": {"level": 0.95, "draws": draws, "seed": seed},
            "articles": {
                "read": scan.articles,
                "tracked": state.tracked,
                "empty": state.empty,
                "empty_articles": state.empty_where,
                "outside_range": state.outside,
            },
            "run": {
                "engine": engine,
                "ray": state.ray.describe() if state.ray else None,
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
    state: ArticleStage, matrix: ErrorMatrix | None, claim: str, first: dt.date | None, last: dt.date | None
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
        how = (
            "PACC, from the probabilities the model gave each held-out sentence"
            if matrix.method == "PACC"
            else "ACC, from the held-out confusion counts (store the matrix again for the probabilistic PACC)"
        )
        notes.append(
            f"Adjusted prevalence corrects for the classifier's errors measured on {matrix.describe()}, by {how}; "
            "its interval includes the uncertainty of that measurement."
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


def _publish(staging: Path, out: Path) -> list[Path]:
    """Move every finished file from ``staging`` into ``out`` (replacing earlier ones)."""
    moved = []
    for path in sorted(staging.iterdir()):
        if path.name.startswith("."):  # scratch space (the Ray engine's cache with use_cache=False)
            continue
        target = out / path.name
        os.replace(path, target)
        moved.append(target)
    return moved
