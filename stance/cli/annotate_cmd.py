"""``stance annotate select|config|import``: the annotation loop (select → Label Studio → import → retrain).

- ``select MODEL_DIR (--pool FILE | --articles FILE...) --n N --output FILE``: the N sentences (or pairs)
  most worth labelling, as JSON Lines or a Label Studio tasks file with the model's label as pre-annotation
- ``config``: the Label Studio labeling config (XML) matching those tasks
- ``import EXPORT.json --output FILE [--append TRAIN_FILE]``: a Label Studio JSON export back into
  training rows (majority labels; ties listed as conflicts), with the batch's agreement figures
"""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("annotate", help="pick sentences to label, Label Studio tasks, import labels")
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    actions = parser.add_subparsers(dest="annotate_command", required=True, metavar="ACTION")

    select = actions.add_parser("select", help="pick the sentences most worth labelling from a pool")
    select.add_argument("model", metavar="MODEL_DIR", help="a `stance train` model folder (DIR/model)")
    source = select.add_mutually_exclusive_group(required=True)
    source.add_argument("--pool", metavar="FILE", help="what `stance predict --input` reads: .txt, .jsonl, .csv ...")
    source.add_argument("--articles", nargs="+", metavar="FILE", help="article text files, split into sentences")
    select.add_argument("--n", type=int, required=True, metavar="N", help="how many to pick")
    select.add_argument("--output", "-o", required=True, metavar="FILE")
    select.add_argument(
        "--strategy",
        choices=("uncertainty", "diverse", "clusters", "random"),
        default="clusters",
        help="default clusters: the fewest labels in scripts/bench_annotate.py (README)",
    )
    select.add_argument("--measure", choices=("margin", "entropy"), default="margin", help="of uncertainty")
    select.add_argument("--per-article", type=int, metavar="K", help="at most K picks from one article")
    select.add_argument("--article-column", default="article_id", metavar="COLUMN", help="default: article_id")
    select.add_argument("--target", metavar="T", help="the claim for rows without one (default: the model's)")
    select.add_argument(
        "--exclude", nargs="+", default=[], metavar="LABELLED", help="labelled files (or earlier batches): never picked"
    )
    select.add_argument("--format", choices=("jsonl", "label-studio"), default="jsonl")
    select.add_argument("--seed", type=int, default=0)
    select.add_argument("--context", type=int, default=2, metavar="K", help="sentences shown on each side")
    select.add_argument(
        "--shortlist", type=int, default=10, metavar="F", help="diverse, clusters: spread over the F*N least sure"
    )
    select.add_argument(
        "--duplicate-threshold",
        type=float,
        default=0.8,
        metavar="S",
        help="diverse, clusters: word similarity (cosine of uni- and bigrams) from which one is a near-duplicate",
    )
    select.add_argument("--model-version", metavar="NAME", help="names the pre-annotations (default: MODEL_DIR)")
    select.add_argument("--batch-size", type=int, default=64, metavar="N")
    select.add_argument("--text-column", default="text")
    select.add_argument("--target-column", default="target")
    select.add_argument("--id-column", default="id")
    select.set_defaults(func=run_select)

    config = actions.add_parser("config", help="print the Label Studio labeling config (XML)")
    config.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    config.set_defaults(func=run_config)

    imp = actions.add_parser("import", help="a Label Studio JSON export into training rows, with agreement")
    imp.add_argument("export", metavar="EXPORT.json", help="Label Studio: Export → JSON")
    imp.add_argument("--output", "-o", required=True, metavar="FILE", help="the labelled rows (.jsonl)")
    imp.add_argument("--append", metavar="TRAIN_FILE", help="also add the new rows to this .jsonl training file")
    imp.add_argument("--on-conflict", choices=("error", "first", "last"), default="error", help="with --append")
    imp.add_argument("--conflicts", metavar="FILE", help="write the tied tasks here (.jsonl), to adjudicate")
    imp.add_argument("--report", metavar="FILE", help="counts and agreement as JSON")
    imp.add_argument("--from-name", metavar="NAME", help="the <Choices> control to read (default: the only one)")
    imp.add_argument("--target", metavar="T", help="the claim for tasks whose data has none")
    imp.set_defaults(func=run_import)


def run_select(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..annotation.labelstudio import write_tasks
    from ..annotation.pool import build_pool, read_articles, read_labelled, read_pool
    from ..annotation.select import select, write_selection
    from ..errors import StanceError
    from ..inference.classifier import StanceClassifier
    from ..inference.files import Columns

    output = Path(args.output)
    if not output.parent.is_dir():
        raise StanceError(f"{output}: the output folder {output.parent} does not exist")
    if args.context < 0:
        raise StanceError(f"--context must not be negative, got {args.context}")
    classifier = StanceClassifier.from_pretrained(args.model, batch_size=args.batch_size)
    target = args.target or classifier.default_target
    columns = Columns(args.text_column, args.target_column, args.id_column)
    if args.pool:
        rows = read_pool(args.pool, columns, target=target, article_column=args.article_column, context=args.context)
    else:
        rows = read_articles(args.articles, target=classifier.target_for(args.target), context=args.context)
    labelled = read_labelled(args.exclude, columns, target=target)
    pool = build_pool(rows, labelled)
    selection = select(
        classifier,
        pool,
        args.n,
        strategy=args.strategy,
        measure=args.measure,
        per_article=args.per_article,
        seed=args.seed,
        labelled=list(labelled.values()),
        duplicate_threshold=args.duplicate_threshold,
        shortlist=args.shortlist,
    )
    if args.format == "label-studio":
        write_tasks(selection.picked, output, args.model_version or str(args.model))
    else:
        write_selection(selection.picked, output)
    print(f"stance annotate: {selection.describe()} -> {output}", file=sys.stderr)
    return 0


def run_config(args: argparse.Namespace) -> int:
    from ..annotation.labelstudio import labeling_config
    from ..layout import atomic_write_text

    if args.output:
        atomic_write_text(args.output, labeling_config())
        print(f"stance annotate: labeling config -> {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(labeling_config())
    return 0


def run_import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..annotation.importer import conflict_rows, import_export
    from ..config import DataConfig
    from ..data.examples import write_jsonl
    from ..data.merge import append_rows
    from ..errors import StanceError
    from ..layout import atomic_write_text

    for name in ("output", "conflicts", "report"):
        value = getattr(args, name)
        if value and not Path(value).parent.is_dir():
            raise StanceError(f"{value}: the folder {Path(value).parent} does not exist (--{name})")
    result = import_export(args.export, from_name=args.from_name, target=args.target)
    appended = None
    if args.append:  # checked (duplicates, conflicts) before the output is written
        appended = append_rows(
            args.append, result.rows, DataConfig(), name=f"import of {args.export}", on_conflict=args.on_conflict
        )
    write_jsonl(result.rows, args.output)
    if args.conflicts:
        write_jsonl(conflict_rows(result), args.conflicts)
    if args.report:
        atomic_write_text(args.report, json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n")
    for line in result.describe():
        print(line)
    print(f"wrote {len(result.rows)} labelled row(s) to {args.output}")
    if appended is not None:
        relabelled = f", {appended.relabelled} relabelled" if appended.relabelled else ""
        print(
            f"appended {appended.added} new row(s) to {args.append} ({appended.duplicates} already there{relabelled})"
        )
    return 0
