"""``stance data validate PATH...`` and ``stance data stats PATH...``"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("data", help="check and describe annotated data files", description=__doc__)
    data_sub = parser.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    validate = data_sub.add_parser("validate", help="report every problem in the files; exit 0 only when clean")
    validate.add_argument("paths", nargs="+")
    validate.add_argument("--config", help="YAML config whose data section gives the column mapping")
    validate.set_defaults(func=run_validate)


def run_validate(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..data import Problems, find_leakage, read_examples

    columns = load_config(args.config).data
    problems = Problems()
    splits = {path: read_examples(path, columns, problems=problems) for path in args.paths}
    problems.raise_if_any("invalid data")
    leaks = find_leakage(splits) if len(splits) > 1 else []
    if leaks:
        from ..errors import StanceError

        raise StanceError(f"leakage between files: {len(leaks)} problem(s)", leaks[:50])
    total = sum(len(ds) for ds in splits.values())
    print(f"ok: {total} examples in {len(splits)} file(s), no problems found")
    return 0
