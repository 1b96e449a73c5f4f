"""``stance track MODEL_DIR --input COLLECTION --output DIR [--by source|none] [--period day|week|month|quarter|year]
[--since DATE] [--until DATE] [--target T] [--engine ray [--address ADDR] [--workers N] [--cpus-per-worker C]
[--gpus-per-worker G]]``

Classifies every article of a collection (JSONL, CSV/TSV or Parquet: one article a row with id, text,
source, date and optional title and url, or sentence rows with an article id such as data/train.jsonl) and
sums the coverage up per source and period. DIR receives articles.jsonl, summary.csv, summary.json, the
figures, report.html and report.md; DIR/cache keeps per-article results, so running again on a grown or
edited collection classifies only new or changed articles. Sentence prevalence is adjusted for the
classifier's errors when the model folder holds its held-out error matrix (stance_error_matrix.json).

``--engine ray`` classifies the new or changed articles on a pool of Ray actors, as ``stance predict
--engine ray`` does (pip install 'stance[ray]'; see docs/ray.md); the rest of the run is unchanged.
"""

from __future__ import annotations

import argparse

from .options import add_backend, add_precision
from .predict_cmd import (
    add_engine_arguments,
    add_rule_arguments,
    ray_options_from_args,
    refuse_ray_only,
    rule_from_args,
)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "track",
        help="stance across outlets and over time: classify a collection and sum it up",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL_DIR", help="a `stance train` model folder (DIR/model)")
    parser.add_argument("--input", "-i", required=True, metavar="COLLECTION", help=".jsonl, .csv, .tsv or .parquet")
    parser.add_argument("--output", "-o", required=True, metavar="DIR", help="the tracking folder (reused if one)")
    parser.add_argument("--by", choices=("source", "none"), default="source", help="one summary per source, or none")
    parser.add_argument(
        "--period", choices=("day", "week", "month", "quarter", "year"), default="month", help="default: month"
    )
    parser.add_argument("--since", metavar="DATE", help="leave out articles before this ISO date")
    parser.add_argument("--until", metavar="DATE", help="leave out articles after this ISO date (inclusive)")
    parser.add_argument("--target", metavar="T", help="the claim (default: the one stored in the model)")
    columns = parser.add_argument_group("collection columns")
    for name in ("id", "text", "source", "date", "title", "url"):
        columns.add_argument(f"--{name}-column", default=name, metavar="NAME")
    columns.add_argument(
        "--article-column",
        metavar="NAME",
        help="sentence rows: the article id column (implies --sentences; default article_id)",
    )
    columns.add_argument("--position-column", default="position", metavar="NAME", help="sentence rows: the order")
    shape = columns.add_mutually_exclusive_group()
    shape.add_argument("--sentences", action="store_true", help="rows are sentences (default: detected)")
    shape.add_argument("--articles", action="store_true", help="rows are whole articles (default: detected)")
    add_rule_arguments(parser.add_argument_group("article verdicts (see stance.inference.articles.AggregationRule)"))
    run_group = parser.add_argument_group("running")
    run_group.add_argument("--batch-size", type=int, default=64, metavar="N")
    run_group.add_argument("--max-length", type=int, metavar="N", help="token limit (default: the model's)")
    add_backend(run_group, add_precision(run_group))
    run_group.add_argument("--draws", type=int, default=2000, metavar="N", help="Monte Carlo draws for intervals")
    run_group.add_argument("--seed", type=int, default=0)
    run_group.add_argument("--no-cache", action="store_true", help="classify everything; keep nothing in DIR/cache")
    run_group.add_argument("--overwrite", action="store_true", help="empty DIR first (its cache too)")
    run_group.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_engine_arguments(parser.add_argument_group("engine: where the articles are classified (see docs/ray.md)"))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..coverage.collection import CollectionColumns
    from ..coverage.tracking import track
    from ..errors import StanceError
    from ..layout import REPORT_HTML

    if args.batch_size < 1:
        raise StanceError(f"--batch-size {args.batch_size}: must be at least 1")
    if args.draws < 100:
        raise StanceError(f"--draws {args.draws}: use at least 100 for a 95% interval")
    if args.engine == "local":
        refuse_ray_only(args)
    columns = CollectionColumns(
        id=args.id_column,
        text=args.text_column,
        source=args.source_column,
        date=args.date_column,
        title=args.title_column,
        url=args.url_column,
        article=args.article_column or "article_id",
        position=args.position_column,
    )
    if args.articles and args.article_column:
        raise StanceError("--articles (one article a row) and --article-column (sentence rows) exclude each other")
    sentences = True if (args.sentences or args.article_column) else False if args.articles else None
    result = track(
        args.model,
        args.input,
        args.output,
        by=args.by,
        period=args.period,
        since=args.since,
        until=args.until,
        target=args.target,
        columns=columns,
        sentences=sentences,
        rule=rule_from_args(args),
        split_lines=not args.no_split_lines,
        batch_size=args.batch_size,
        max_length=args.max_length,
        precision=args.precision,
        backend=args.backend,
        draws=args.draws,
        seed=args.seed,
        overwrite=args.overwrite,
        use_cache=not args.no_cache,
        progress=False if args.no_progress else None,
        engine=args.engine,
        ray_options=ray_options_from_args(args) if args.engine == "ray" else None,
    )
    print(f"stance track: {result.describe()}")
    for note in result.notes:
        print(f"note: {note}")
    print(f"report: {result.output_dir / REPORT_HTML}")
    return 0
