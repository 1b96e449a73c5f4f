"""``stance`` command line: argument parsing only; every command calls one library function.

Each sub-command lives in its own small module with ``register(subparsers)``; user errors
(:class:`~stance.errors.StanceError`) are printed as one message with exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import StanceError
from . import cv_cmd, data_cmd, evaluate_cmd, predict_cmd, publish_cmd, train_cmd

COMMANDS = (train_cmd, data_cmd, predict_cmd, evaluate_cmd, cv_cmd, publish_cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stance", description="Stance detection for news coverage.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except StanceError as exc:
        print(f"stance {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"stance {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
