"""Options several commands share, defined once: ``--set SECTION.KEY=VALUE`` config overrides."""

from __future__ import annotations

import argparse


def add_overrides(parser: argparse.ArgumentParser, example: str = "training.epochs=3") -> None:
    """``--set SECTION.KEY=VALUE`` (repeatable) into ``args.overrides``, for :func:`stance.config.load_config`."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help=f"override one config field, e.g. --set {example} (repeatable)",
    )
