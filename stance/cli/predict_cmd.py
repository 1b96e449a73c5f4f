"""``stance predict MODEL_DIR (--text T ... | --input FILE | --article FILE ...) [--output FILE]
[--format jsonl|csv|table] [--batch-size N] [--quantize | --bf16 | --onnx] [--target T]``"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "predict", help="classify sentences, files of sentences, or whole articles", description=__doc__
    )
    parser.add_argument("model", metavar="MODEL_DIR", help="a `stance train` model folder (DIR/model) or hub id")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", nargs="+", metavar="T", help="one or more sentences")
    what.add_argument(
        "--input", metavar="FILE", help=".txt (one text a line), .jsonl or .csv/.tsv with a text column; streamed"
    )
    what.add_argument("--article", nargs="+", metavar="FILE", help="article text file(s): split into sentences")
    parser.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    parser.add_argument(
        "--format", choices=("jsonl", "csv", "table"), help="default: jsonl for --input, table otherwise"
    )
    parser.add_argument("--target", metavar="T", help="the claim (default: the one stored in the model)")
    parser.add_argument("--batch-size", type=int, default=64, metavar="N")
    parser.add_argument("--max-length", type=int, metavar="N", help="token limit (default: the model's)")
    fast = parser.add_mutually_exclusive_group()
    fast.add_argument(
        "--quantize",
        action="store_true",
        help="int8 dynamic quantization of the encoder's linear layers (CPU; about 3x faster)",
    )
    fast.add_argument(
        "--bf16", action="store_true", help="bfloat16 matrix products (fast on CPUs with AVX512-BF16 or AMX)"
    )
    fast.add_argument(
        "--onnx",
        action="store_true",
        help="run with ONNX Runtime at full precision (pip install 'stance[onnx]'); the model is "
        "exported once into $STANCE_CACHE (default ~/.cache/stance)",
    )
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
    articles = parser.add_argument_group("--article aggregation (see stance.articles.AggregationRule)")
    articles.add_argument("--aggregation", choices=("share", "soft_share", "majority", "headline"), default="share")
    articles.add_argument("--min-share", type=float, default=0.4)
    articles.add_argument("--min-margin", type=float, default=1.0)
    articles.add_argument("--evidence", type=int, default=3, help="deciding sentences to report")
    articles.add_argument(
        "--no-split-lines", action="store_true", help="only blank lines end a block (for hard-wrapped text)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import StanceError
    from ..inference.articles import AggregationRule
    from ..inference.classifier import StanceClassifier
    from ..inference.files import (
        Columns,
        classify_articles,
        classify_file,
        classify_texts,
    )

    if args.chunk_size < 1:
        raise StanceError(f"--chunk-size must be at least 1, got {args.chunk_size}")
    classifier = StanceClassifier.from_pretrained(
        args.model,
        batch_size=args.batch_size,
        max_length=args.max_length,
        quantize=args.quantize_scope if args.quantize else False,
        bf16=args.bf16,
        backend="onnx" if args.onnx else "torch",
    )
    if args.article:
        rule = AggregationRule(args.aggregation, args.min_share, args.min_margin, args.evidence)
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
            args.input,
            args.output,
            fmt=args.format or "jsonl",
            target=args.target,
            columns=columns,
            chunk_size=args.chunk_size,
            progress=False if args.no_progress else None,
        )
    print(f"stance predict: {summary.describe()}", file=sys.stderr)
    return 0
