"""Options several commands share, defined once: ``--set SECTION.KEY=VALUE`` config overrides and the
inference precision (``--precision`` with its aliases ``--bf16`` and ``--quantize``)."""

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


PRECISION_CHOICES = ("auto", "float32", "bf16", "int8")  # stance.inference.precision.CHOICES (the CLI starts fast)


def add_precision(group: argparse._ActionsContainer) -> argparse._MutuallyExclusiveGroup:
    """``--precision auto|float32|bf16|int8`` (default auto) and its aliases, into ``args.precision``; the
    returned exclusive group takes further mutually exclusive choices (``--onnx``)."""
    fast = group.add_mutually_exclusive_group()
    fast.add_argument(
        "--precision",
        choices=PRECISION_CHOICES,
        default="auto",
        help="auto (default): bf16 where the hardware computes bfloat16 natively (a CPU with AMX or "
        "AVX512-BF16, a CUDA GPU with bf16), float32 elsewhere; the choice is logged. float32: full "
        "precision; bf16: bfloat16 matrix products (autocast); int8: dynamic quantization of the encoder's "
        "linear layers (about 3x faster on CPU; fine on MiniLM, but costs the mpnet default about 12 points "
        "of macro-F1: use bf16 there)",
    )
    fast.add_argument(
        "--quantize", action="store_const", const="int8", dest="precision", help="alias of --precision int8"
    )
    fast.add_argument("--bf16", action="store_const", const="bf16", dest="precision", help="alias of --precision bf16")
    return fast
