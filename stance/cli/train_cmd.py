"""``stance train CONFIG --output DIR [--set k=v]... [--resume] [--overwrite]``"""

from __future__ import annotations

import argparse

from .options import add_overrides


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="YAML training config, e.g. configs/default.yaml")
    parser.add_argument("--output", "-o", required=True, help="output folder (refused if it exists)")
    add_overrides(parser)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--resume", action="store_true", help="continue the last checkpoint in --output")
    group.add_argument("--overwrite", action="store_true", help="replace an existing --output folder")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("train", help="fine-tune a stance model from a YAML config", description=__doc__)
    add_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..training.workflow import train_and_report

    config = load_config(args.config, args.overrides)
    result = train_and_report(config, args.output, resume=args.resume, overwrite=args.overwrite)
    print(f"model saved to {result.model_dir}")
    return 0
