"""Which floating-point precision a training run uses: ``training.bf16`` (true, false or ``auto``) and ``fp16``.

``auto`` means bfloat16 autocast where the hardware runs it fast — a CUDA GPU that supports bf16, or a CPU
with AMX-BF16 or AVX512-BF16 (the probe of :mod:`stance.inference.precision`) — and float32 elsewhere. An
explicit ``fp16: true`` wins over ``auto``. :func:`resolve_precision` is the one place this is decided.
"""

from __future__ import annotations

import logging

import torch

from ..config import TrainingConfig
from ..inference import precision as hardware

log = logging.getLogger(__name__)


def bf16_supported(cuda: bool | None = None) -> bool:
    """Whether this machine trains fast in bfloat16: the GPU when CUDA is used, else the CPU (AMX-BF16 or
    AVX512-BF16, probed once by :mod:`stance.inference.precision`, the one place that reads the CPU)."""
    if torch.cuda.is_available() if cuda is None else cuda:
        return bool(torch.cuda.is_bf16_supported())
    return hardware.cpu_has_fast_bf16()


def resolve_precision(training: TrainingConfig, cuda: bool | None = None) -> str:
    """``"bf16"``, ``"fp16"`` or ``"fp32"``: what a run with these settings computes in on this machine."""
    if training.bf16 is True:
        return "bf16"
    if training.fp16:
        return "fp16"
    if training.bf16 == "auto" and bf16_supported(cuda):
        return "bf16"
    return "fp32"
