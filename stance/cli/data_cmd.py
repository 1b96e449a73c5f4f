"""``stance data validate|stats|split|merge``: check, describe, split and merge annotated data files.

The column mapping (text, target, label, id and group columns, default target) comes from ``--config``'s
``data`` section; without ``--config`` the defaults fit the shipped corpus.
"""

from __future__ import annotations

import argparse
import json

from .options import add_overrides


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("data", help="validate, describe and split annotated data files", description=__doc__)
    data_sub = parser.add_subparsers(dest="data_command", required=True, metavar="ACTION")

    validate = data_sub.add_parser(
        "validate", help="report every problem in the files (and leakage between them); exit 0 only when clean"
    )
    validate.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help=".jsonl, .csv, .tsv, .parquet or a save_to_disk folder; several = splits",
    )
    validate.add_argument("--unlabelled", action="store_true", help="the label column is optional")
    _config_option(validate)
    validate.set_defaults(func=run_validate)

    stats = data_sub.add_parser("stats", help="counts per file, label, source and phenomenon; token lengths")
    stats.add_argument("paths", nargs="+", metavar="PATH")
    stats.add_argument("--format", choices=("markdown", "json"), default="markdown")
    stats.add_argument("--no-tokens", action="store_true", help="skip token lengths (no tokenizer needed)")
    _config_option(stats, "; model.base gives the tokenizer (default: the embedded MiniLM)")
    stats.set_defaults(func=run_stats)

    split = data_sub.add_parser(
        "split", help="split one file into train/dev/test.jsonl: seeded, grouped, stratified by label"
    )
    split.add_argument("path", metavar="FILE")
    split.add_argument("--output", required=True, metavar="DIR", help="folder for train/dev/test.jsonl")
    split.add_argument(
        "--by", metavar="COLUMN", help="rows sharing a value stay in one part (default: data.group_column, article_id)"
    )
    split.add_argument("--dev", type=float, default=0.1, help="fraction for dev (0: no dev file)")
    split.add_argument("--test", type=float, default=0.2, help="fraction for test (0: no test file)")
    split.add_argument("--seed", type=int, default=0)
    split.add_argument("--overwrite", action="store_true", help="replace existing split files in DIR")
    _config_option(split)
    split.set_defaults(func=run_split)

    merge = data_sub.add_parser(
        "merge", help="merge labelled files into one .jsonl without duplicates (same target and text)"
    )
    merge.add_argument("paths", nargs="+", metavar="FILE", help="labelled files; of duplicates the first is kept")
    merge.add_argument("--output", required=True, metavar="FILE", help="the merged .jsonl")
    merge.add_argument(
        "--on-conflict",
        choices=("error", "first", "last"),
        default="error",
        help="the same example with two labels: an error (default), or keep the first / the last file's label",
    )
    merge.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    _config_option(merge)
    merge.set_defaults(func=run_merge)


def _config_option(parser: argparse.ArgumentParser, extra: str = "") -> None:
    parser.add_argument("--config", help="YAML config whose data section gives the column mapping" + extra)
    add_overrides(parser, example="data.text_column=sentence")


def _config(args: argparse.Namespace):
    from ..config import load_config

    return load_config(args.config, args.overrides)


def run_validate(args: argparse.Namespace) -> int:
    from ..data import expand_paths, read_files

    paths = expand_paths(args.paths)
    names = {str(path): path for path in paths}
    splits = read_files(names, _config(args).data, labelled=not args.unlabelled)
    total = sum(len(ds) for ds in splits.values())
    print(
        f"ok: {total} examples in {len(splits)} file(s), no problems found"
        + (", no leakage between them" if len(splits) > 1 else "")
    )
    return 0


def run_stats(args: argparse.Namespace) -> int:
    from ..data.stats import describe_files, to_markdown
    from ..modeling.bases import display_name, load_tokenizer

    config = _config(args)
    tokenizer = None if args.no_tokens else load_tokenizer(config.model.base)
    stats = describe_files(args.paths, config, tokenizer=tokenizer, tokenizer_name=display_name(config.model.base))
    print(json.dumps(stats.to_dict(), indent=2) if args.format == "json" else to_markdown(stats))
    return 0


def run_split(args: argparse.Namespace) -> int:
    from ..data import split_file
    from ..labels import label_counts

    parts, grouping = split_file(
        args.path,
        args.output,
        _config(args).data,
        by=args.by,
        dev=args.dev,
        test=args.test,
        seed=args.seed,
        overwrite=args.overwrite,
    )
    print(f"{args.path}: {sum(len(p) for p in parts.values())} examples, {grouping}, seed {args.seed}")
    for name, part in parts.items():
        counts = ", ".join(f"{label} {n}" for label, n in label_counts(part["label"]).items())
        print(f"  {args.output}/{name}.jsonl: {len(part)} examples ({counts})")
    return 0


def run_merge(args: argparse.Namespace) -> int:
    from ..data.merge import merge_files

    result = merge_files(
        args.paths, args.output, _config(args).data, on_conflict=args.on_conflict, overwrite=args.overwrite
    )
    print(f"{args.output}: {result.describe()}")
    return 0
