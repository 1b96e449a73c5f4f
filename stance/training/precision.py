"""Which floating-point precision a training run uses: ``training.bf16`` (true, false or ``auto``) and ``fp16``.

``auto`` means bfloat16 autocast where the hardware runs it fast — a CUDA GPU that supports bf16, or a CPU
with the ``avx512_bf16`` or ``amx_bf16`` flags (read from ``/proc/cpuinfo``) — and float32 elsewhere. An
explicit ``fp16: true`` wins over ``auto``. :func:`resolve_precision` is the one place this is decided.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from ..config import TrainingConfig

log = logging.getLogger(__name__)

CPUINFO = Path("/proc/cpuinfo")
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def cpu_flags() -> set[str]:
    """The CPU feature flags the kernel reports (empty where there is no /proc/cpuinfo)."""
    try:
        text = CPUINFO.read_text("utf-8", errors="replace")
    except OSError:
        return set()
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return flags


def bf16_supported(cuda: bool | None = None) -> bool:
    """Whether this machine trains fast in bfloat16: the GPU when CUDA is used, else the CPU's flags."""
    if torch.cuda.is_available() if cuda is None else cuda:
        return bool(torch.cuda.is_bf16_supported())
    return bool(BF16_CPU_FLAGS & cpu_flags())


def resolve_precision(training: TrainingConfig, cuda: bool | None = None) -> str:
    """``"bf16"``, ``"fp16"`` or ``"fp32"``: what a run with these settings computes in on this machine."""
    if training.bf16 is True:
        return "bf16"
    if training.fp16:
        return "fp16"
    if training.bf16 == "auto" and bf16_supported(cuda):
        return "bf16"
    return "fp32"
