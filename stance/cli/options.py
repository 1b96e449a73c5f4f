"""Options several commands share, defined once: ``--set SECTION.KEY=VALUE`` config overrides and the
inference precision (``--precision`` with its aliases ``--bf16`` and ``--quantize``) and backend (``--backend``
with its aliases ``--openvino`` and ``--onnx``)."""

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
BACKEND_CHOICES = ("auto", "torch", "onnx", "openvino")  # stance.inference.backends.CHOICES


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
    _aliases(fast, "precision", quantize="int8", bf16="bf16")
    return fast


def add_backend(group: argparse._ActionsContainer, fast: argparse._MutuallyExclusiveGroup) -> None:
    """``--backend auto|torch|onnx|openvino`` (default auto) into ``args.backend``, and its aliases ``--openvino``
    and ``--onnx`` in ``fast`` (:func:`add_precision`'s group: they take no precision flag beside them)."""
    group.add_argument(
        "--backend",
        choices=BACKEND_CHOICES,
        default="auto",
        help="auto (default): OpenVINO on a CPU with AMX or AVX512-BF16 at precision auto or bf16 (1.4-1.5x "
        "the PyTorch bf16 path there; converted once per model into $STANCE_HOME, default ~/.cache/stance), "
        "PyTorch everywhere else; the choice is logged and STANCE_BACKEND pins it. torch: PyTorch at "
        "--precision. onnx: ONNX Runtime at float32 (pip install 'stance[onnx]'). openvino: OpenVINO at "
        "float32 or bf16. A failed export or conversion runs PyTorch instead, with a warning",
    )
    _aliases(fast, "backend", openvino="openvino", onnx="onnx")


def _aliases(group: argparse._ActionsContainer, dest: str, **flags: str) -> None:
    """``--FLAG`` for each keyword: the same as ``--DEST VALUE``."""
    for flag, value in flags.items():
        group.add_argument(f"--{flag}", action="store_const", const=value, dest=dest, help=f"alias of --{dest} {value}")
