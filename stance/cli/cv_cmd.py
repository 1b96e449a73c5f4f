"""``stance cv CONFIG --folds K --output DIR [--group-by COLUMN] [--set k=v]... [--overwrite] [--keep-models]``

Pools the config's train, dev and test files and runs K-fold cross-validation: folds grouped by COLUMN
(default: data.group_column, e.g. article_id; ``target`` keeps each claim in one fold) and stratified by
label; one training run per fold. DIR receives cv_metrics.json (mean ± std of each metric, pooled
out-of-fold figures and each fold's figures), cv_report.md, out-of-fold predictions.jsonl and fold-K/.
"""

from __future__ import annotations

import argparse

from .options import add_overrides


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "cv",
        help="K-fold cross-validation, grouped and stratified",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("config", help="YAML training config, e.g. configs/default.yaml")
    parser.add_argument("--folds", "-k", type=int, required=True, metavar="K", help="number of folds (>= 2)")
    parser.add_argument(
        "--group-by", metavar="COLUMN", help="column whose values stay inside one fold (default: data.group_column)"
    )
    parser.add_argument("--output", "-o", required=True, metavar="DIR", help="output folder (refused if it exists)")
    add_overrides(parser)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output folder")
    parser.add_argument("--keep-models", action="store_true", help="keep each fold's model folder")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..layout import CV_REPORT_FILE
    from ..training.cv import cross_validate

    config = load_config(args.config, args.overrides)
    result = cross_validate(
        config, args.output, args.folds, args.group_by, overwrite=args.overwrite, keep_models=args.keep_models
    )
    for name in ("accuracy", "macro_f1"):
        s = result.summary["summary"][name]
        print(f"{name}: {s['mean']:.4f} ± {s['std']:.4f} over {args.folds} folds")
    print(f"cross-validation report: {result.output_dir / CV_REPORT_FILE}")
    return 0
