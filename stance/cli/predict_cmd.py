"""``stance predict MODEL_DIR (--text T ... | --input FILE | --article FILE ...) [--output FILE]
[--format jsonl|csv|table] [--batch-size N] [--precision auto|float32|bf16|int8]
[--backend auto|torch|onnx|openvino] [--target T]
[--engine ray [--address ADDR] [--workers N] [--cpus-per-worker C] [--gpus-per-worker G] [--overwrite]
[--part-rows N]]``

``--engine ray`` classifies ``--input`` files (several, or a glob) in a pool of Ray actors and writes one file
in input order, or a folder of parts when ``--output`` ends with ``/`` (see stance.inference.distributed and
docs/ray.md).

Precision (``--precision``, default ``auto``): bfloat16 where the hardware computes it natively (CPUs with
AMX or AVX512-BF16, CUDA GPUs with bf16 support), float32 elsewhere; ``--bf16`` and ``--quantize`` are
aliases of ``--precision bf16`` and ``--precision int8``. Pairs are sorted by length into batches either way.
Backend (``--backend``, default ``auto``): OpenVINO on a CPU with AMX or AVX512-BF16 (converted once per model
and cached), PyTorch elsewhere; ``--openvino`` and ``--onnx`` are aliases (see stance.inference.backends).

An article's verdict is supportive, denying, neutral or mixed (both sides in substance; ``--mixed-share``,
``--min-side``, ``--no-mixed``); see stance.inference.articles.AggregationRule for the rule."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from .options import add_backend, add_precision

if TYPE_CHECKING:
    from ..inference.articles import AggregationRule
    from ..inference.cluster import RayOptions


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "predict", help="classify sentences, files of sentences, or whole articles", description=__doc__
    )
    parser.add_argument("model", metavar="MODEL_DIR", help="a `stance train` model folder (DIR/model) or hub id")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", nargs="+", metavar="T", help="one or more sentences")
    what.add_argument(
        "--input",
        nargs="+",
        metavar="FILE_OR_GLOB",
        help=".txt (one text a line), .jsonl, .csv/.tsv or .parquet with a text column; streamed "
        "(several files or a quoted glob: --engine ray)",
    )
    what.add_argument("--article", nargs="+", metavar="FILE", help="article text file(s): split into sentences")
    parser.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="write here instead of stdout (--engine ray: a name ending with / writes a folder of parts)",
    )
    parser.add_argument(
        "--format",
        choices=("jsonl", "csv", "table", "parquet"),
        help="default: jsonl for --input (--engine ray: from the --output suffix), table otherwise; "
        "parquet with --engine ray",
    )
    parser.add_argument("--target", metavar="T", help="the claim (default: the one stored in the model)")
    parser.add_argument("--batch-size", type=int, default=64, metavar="N")
    parser.add_argument("--max-length", type=int, metavar="N", help="token limit (default: the model's)")
    fast = add_precision(parser)
    add_backend(parser, fast)
    parser.add_argument(
        "--quantize-scope",
        choices=("encoder", "ffn", "all"),
        default="encoder",
        help="which linear layers --quantize converts (default: encoder)",
    )
    files = parser.add_argument_group("--input files")
    files.add_argument("--text-column", default="text")
    files.add_argument("--target-column", default="target")
    files.add_argument("--id-column", default="id")
    files.add_argument("--chunk-size", type=int, default=2048, metavar="N", help="rows held in memory at once")
    files.add_argument("--no-progress", action="store_true", help="no progress bar")
    engines = parser.add_argument_group("--input engines (see docs/ray.md)")
    add_engine_arguments(engines)
    engines.add_argument("--overwrite", action="store_true", help="replace an existing --output (--engine ray)")
    engines.add_argument(
        "--part-rows",
        type=int,
        metavar="N",
        help="rows per part when --output is a FOLDER/ (--engine ray; default 1000000)",
    )
    add_rule_arguments(parser.add_argument_group("--article aggregation (see stance.articles.AggregationRule)"))
    parser.set_defaults(func=run)


def add_engine_arguments(group: argparse._ArgumentGroup) -> None:
    """``--engine`` and the Ray pool's flags (shared with ``stance track``)."""
    group.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this process (default); ray: a pool of Ray actors (pip install 'stance[ray]')",
    )
    group.add_argument(
        "--address",
        metavar="ADDR",
        help="join this Ray cluster (auto, host:port or ray://host:port); default: "
        "start a local Ray instance for the run",
    )
    group.add_argument("--workers", type=int, metavar="N", help="actors (default: one per CPU, or per GPU share)")
    group.add_argument("--cpus-per-worker", type=float, metavar="C", help="CPUs each actor reserves (and threads)")
    group.add_argument("--gpus-per-worker", type=float, default=0.0, metavar="G", help="GPUs each actor reserves")


RAY_FLAGS = ("address", "workers", "cpus_per_worker", "gpus_per_worker")
RAY_ONLY = (*RAY_FLAGS, "overwrite", "part_rows")


def refuse_ray_only(args: argparse.Namespace, names: tuple[str, ...] = RAY_FLAGS) -> None:
    """One error naming the Ray-only flags given with ``--engine local``."""
    from ..errors import StanceError

    given = [f"--{name.replace('_', '-')}" for name in names if getattr(args, name) not in (None, False, 0.0)]
    if given:
        raise StanceError(f"{', '.join(given)}: only with --engine ray")


def ray_options_from_args(args: argparse.Namespace) -> RayOptions:
    from ..inference.cluster import RayOptions

    return RayOptions(args.address, args.workers, args.cpus_per_worker, args.gpus_per_worker)


def run_ray(args: argparse.Namespace) -> int:
    """``--engine ray``: the model is loaded by each actor, not here."""
    from ..errors import StanceError
    from ..inference.distributed import ModelOptions, classify_files_ray
    from ..inference.files import Columns

    if not args.input:
        raise StanceError("--engine ray classifies --input files; use --engine local for --text or --article")
    options = ModelOptions(
        quantize=args.quantize_scope if args.precision == "int8" else False,
        precision=args.precision,
        backend=args.backend,
        batch_size=args.batch_size,
        max_length=args.max_length,
    )
    summary = classify_files_ray(
        args.model,
        args.input,
        args.output,
        fmt=args.format,
        target=args.target,
        columns=Columns(args.text_column, args.target_column, args.id_column),
        options=options,
        address=args.address,
        workers=args.workers,
        cpus_per_worker=args.cpus_per_worker,
        gpus_per_worker=args.gpus_per_worker,
        overwrite=args.overwrite,
        chunk_size=args.chunk_size,
        part_rows=args.part_rows,
        progress=False if args.no_progress else None,
    )
    print(f"stance predict: {summary.describe()}", file=sys.stderr)
    return 0


def add_rule_arguments(group: argparse._ArgumentGroup) -> None:
    """The sentence → article aggregation flags (shared with ``stance track``)."""
    group.add_argument("--aggregation", choices=("share", "soft_share", "majority", "headline"), default="share")
    group.add_argument("--min-share", type=float, default=0.4, help="a side's (or both sides') share of sentences")
    group.add_argument("--min-margin", type=float, default=1.0, help="the winning side's lead, in sentences")
    group.add_argument("--evidence", type=int, default=3, help="deciding sentences to report")
    group.add_argument(
        "--mixed-share",
        type=float,
        default=0.4,
        help="mixed when the smaller side holds at least this share of the side-taking sentences (default 0.4)",
    )
    group.add_argument(
        "--min-side", type=float, default=2.0, help="mixed needs at least this many sentences on each side"
    )
    group.add_argument("--no-mixed", action="store_true", help="never call an article mixed (the older rule)")
    group.add_argument(
        "--no-split-lines", action="store_true", help="only blank lines end a block (for hard-wrapped text)"
    )


def rule_from_args(args: argparse.Namespace) -> AggregationRule:
    from ..inference.articles import AggregationRule  # imported late: the CLI starts fast

    return AggregationRule(
        args.aggregation,
        args.min_share,
        args.min_margin,
        args.evidence,
        mixed_share=args.mixed_share,
        min_side=args.min_side,
        mixed=not args.no_mixed,
    )


def run(args: argparse.Namespace) -> int:
    from ..errors import StanceError
    from ..inference.classifier import StanceClassifier
    from ..inference.files import (
        Columns,
        classify_articles,
        classify_file,
        classify_texts,
    )

    if args.chunk_size < 1:
        raise StanceError(f"--chunk-size must be at least 1, got {args.chunk_size}")
    if args.engine == "ray":
        return run_ray(args)
    refuse_ray_only(args, RAY_ONLY)
    if args.format == "parquet":
        raise StanceError("--format parquet is written by --engine ray; the local engine writes jsonl, csv or table")
    if args.input and len(args.input) > 1:
        raise StanceError(f"--input: the local engine reads one file, got {len(args.input)}; use --engine ray")
    classifier = StanceClassifier.from_pretrained(
        args.model,
        batch_size=args.batch_size,
        max_length=args.max_length,
        precision=args.precision,
        quantize=args.quantize_scope if args.precision == "int8" else False,
        backend=args.backend,
    )
    if args.article:
        rule = rule_from_args(args)
        results = classify_articles(
            classifier,
            args.article,
            args.output,
            fmt=args.format or "table",
            target=args.target,
            rule=rule,
            split_lines=not args.no_split_lines,
        )
        truncated = sum(r.truncated for r in results)
        if truncated:
            print(
                f"stance predict: warning: {truncated} sentence(s) truncated to {classifier.max_length} tokens",
                file=sys.stderr,
            )
        return 0
    if args.text:
        summary = classify_texts(classifier, args.text, args.output, fmt=args.format or "table", target=args.target)
    else:
        columns = Columns(args.text_column, args.target_column, args.id_column)
        summary = classify_file(
            classifier,
            args.input[0],
            args.output,
            fmt=args.format or "jsonl",
            target=args.target,
            columns=columns,
            chunk_size=args.chunk_size,
            progress=False if args.no_progress else None,
        )
    print(f"stance predict: {summary.describe()}", file=sys.stderr)
    return 0
