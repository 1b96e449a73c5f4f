"""``stance`` command line: argument parsing only; every command calls one library function.

Each sub-command lives in its own small module with ``register(subparsers)``; user errors
(:class:`~stance.errors.StanceError`) are printed as one message with exit status 2, never a traceback —
``--debug`` (or ``STANCE_DEBUG=1``) adds the original traceback of the error it wraps. ``--quiet`` shows
warnings only, ``--verbose`` adds detail (and the libraries' own logs).
"""

from __future__ import annotations

import argparse
import sys
import traceback

from ..errors import StanceError, debug_enabled
from . import (
    annotate_cmd,
    cv_cmd,
    data_cmd,
    distill_cmd,
    evaluate_cmd,
    models_cmd,
    predict_cmd,
    publish_cmd,
    track_cmd,
    train_cmd,
)

COMMANDS = (
    train_cmd,
    data_cmd,
    predict_cmd,
    evaluate_cmd,
    cv_cmd,
    publish_cmd,
    models_cmd,
    annotate_cmd,
    track_cmd,
    distill_cmd,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stance", description="Stance detection for news coverage.")
    noise = parser.add_mutually_exclusive_group()
    noise.add_argument("-v", "--verbose", action="store_true", help="more detail, and the libraries' own logs")
    noise.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only, no progress bars")
    parser.add_argument(
        "--debug", action="store_true", help="on an error, also show the original traceback (or set STANCE_DEBUG=1)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ..logs import configure

    configure(1 if args.verbose else -1 if args.quiet else 0)
    try:
        return int(args.func(args) or 0)
    except StanceError as exc:
        if args.debug or debug_enabled():
            traceback.print_exception(exc, file=sys.stderr)
        print(f"stance {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"stance {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
