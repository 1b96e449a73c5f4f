"""Which precision inference runs at: ``precision="auto"`` (the default) and the names a user may give.

``auto`` is bfloat16 where the hardware computes it natively and float32 everywhere else:

* **CPU**: bfloat16 (matrix products under ``torch.autocast``, layer norms and softmax in float32) when the
  CPU has AMX-BF16 or AVX512-BF16 (Intel Xeon since Cooper Lake and Sapphire Rapids, AMD since Zen 4); on
  the mpnet default with AMX it runs 3.1x faster than float32 with identical labels (README, speed
  section). Other CPUs (older x86, ARM) emulate bfloat16 slower than float32, so they stay at float32.
* **CUDA**: bfloat16 when ``torch.cuda.is_bf16_supported()`` (Ampere and later), else float32.
* anything else: float32.

``STANCE_PRECISION=float32`` (or ``bf16``) in the environment fixes what ``auto`` means on a machine, for
every process it starts (the test suite sets float32, so that results do not depend on the CPU they run on).
int8 is never chosen automatically: dynamic quantization cost the mpnet default 11.7 points of test
macro-F1 (see :mod:`stance.inference.quantize`). The CPU is probed once per process with
``torch.cpu.get_capabilities()`` (the instruction sets torch itself detected), or the flags of
``/proc/cpuinfo`` on a torch too old to have it; the choice is logged once per device type.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Any

from ..errors import StanceError

log = logging.getLogger(__name__)

PRECISIONS = ("float32", "bf16", "int8")  # what a backend computes in
CHOICES = ("auto", *PRECISIONS)  # what a user may ask for
BF16_CPU_FEATURES = ("amx_bf16", "avx512_bf16")
CPUINFO = Path("/proc/cpuinfo")
ENVIRONMENT = "STANCE_PRECISION"  # what auto means on this machine, when set
_announced: set[str] = set()  # device types whose automatic choice was logged


def cpuinfo_flags(path: Path | None = None) -> set[str]:
    """The CPU feature flags the Linux kernel reports (empty where there is no ``/proc/cpuinfo``)."""
    try:
        text = (path or CPUINFO).read_text("utf-8", errors="replace")
    except OSError:
        return set()
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return flags


@functools.lru_cache(maxsize=1)
def cpu_bf16_features() -> tuple[str, ...]:
    """Those of :data:`BF16_CPU_FEATURES` this CPU has (``()`` when it has none)."""
    import torch

    probe = getattr(getattr(torch, "cpu", None), "get_capabilities", None)
    if probe is not None:
        try:
            capabilities = probe()
            return tuple(name for name in BF16_CPU_FEATURES if capabilities.get(name) is True)
        except Exception:  # noqa: BLE001 - a failing probe means "unknown", which is float32
            log.debug("torch.cpu.get_capabilities() failed; reading /proc/cpuinfo", exc_info=True)
    flags = cpuinfo_flags()
    return tuple(name for name in BF16_CPU_FEATURES if name in flags)


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AMX-BF16 or AVX512-BF16): the CPU half of the rule."""
    return bool(cpu_bf16_features())


def auto_precision(device: Any = "cpu") -> tuple[str, str]:
    """``(precision, why)`` that ``auto`` means on ``device`` (a ``torch.device`` or its type name)."""
    kind = getattr(device, "type", None) or str(device).split(":")[0]
    pinned = os.environ.get(ENVIRONMENT, "").strip()
    if pinned:
        if pinned not in ("float32", "bf16"):
            raise StanceError(f"{ENVIRONMENT}={pinned!r}: choose float32 or bf16 (or unset it for the automatic rule)")
        return pinned, f"{ENVIRONMENT}={pinned}"
    if kind == "cpu":
        if cpu_has_fast_bf16():
            features = ", ".join(name.upper().replace("_", "-") for name in cpu_bf16_features()) or "native bf16"
            return "bf16", f"the CPU has {features}"
        return "float32", "the CPU has neither AMX-BF16 nor AVX512-BF16"
    if kind == "cuda":
        import torch

        if torch.cuda.is_bf16_supported():
            return "bf16", "the GPU supports bfloat16"
        return "float32", "the GPU does not support bfloat16"
    return "float32", f"no bfloat16 rule for {kind} devices"


def resolve(precision: str, device: Any = "cpu") -> str:
    """The precision a backend computes in: ``precision`` itself, or what ``auto`` means on ``device``
    (logged once per device type)."""
    check(precision)
    if precision != "auto":
        return precision
    chosen, why = auto_precision(device)
    kind = getattr(device, "type", None) or str(device).split(":")[0]
    if kind not in _announced:
        _announced.add(kind)
        log.info("precision auto: %s on %s (%s)", "bfloat16" if chosen == "bf16" else chosen, kind, why)
    return chosen


def check(precision: str) -> str:
    if precision not in CHOICES:
        raise StanceError(f"unknown precision {precision!r}; choose one of {', '.join(CHOICES)}")
    return precision


def requested(precision: str = "auto", *, quantize: bool | str = False, bf16: bool = False) -> str:
    """One precision from ``from_pretrained``'s keywords: ``precision``, or its aliases ``quantize`` (int8)
    and ``bf16``; contradictions are errors."""
    check(precision)
    if quantize and bf16:
        raise StanceError("choose int8 quantization or bfloat16, not both")
    alias = "int8" if quantize else "bf16" if bf16 else None
    if alias is None:
        return precision
    if precision not in ("auto", alias):
        keyword = "quantize" if quantize else "bf16"
        raise StanceError(f"precision={precision!r} contradicts {keyword}=True; pass one of them")
    return alias
