"""Which runtime scores the pairs: ``backend="auto"`` (the default) and the names a user may give.

``auto`` is the fastest path measured to be exact enough on the machine at hand, and PyTorch elsewhere:

* **OpenVINO** when the CPU computes bfloat16 natively (AMX-BF16 or AVX512-BF16), the precision is ``auto``
  or ``bf16``, and the ``openvino`` package is installed (a dependency of ``stance``): on the 2-core AMX CPU
  of this project it ran the mpnet default 1.48x and the MiniLM student 1.40x faster than the PyTorch bf16
  path, with 99.96% of float32's labels and test macro-F1 0.922 against 0.925 (``scripts/bench_predict.py``;
  README, speed section). The graph is converted once per model and cached (:mod:`stance.inference.openvino`).
* **PyTorch** everywhere else: CPUs without native bfloat16 (float32 there; OpenVINO's float32 path was not
  measured to pay), ``float32`` or ``int8`` asked for, GPUs (the Ray engine's GPU workers), OpenVINO not
  installed.

``STANCE_BACKEND=torch`` (or ``onnx``, ``openvino``) in the environment fixes what ``auto`` means, for every
process it starts. The choice is logged once per process; when OpenVINO cannot convert a model, the PyTorch
backend runs instead with one warning (:func:`make_backend`).
"""

from __future__ import annotations

import importlib.util
import logging
import os

from ..errors import StanceError
from ..modeling.loading import TrainedModel
from . import precision as precisions
from .scorer import Backend, TorchBackend

log = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx", "openvino")  # what can run
CHOICES = ("auto", *BACKENDS)  # what a user may ask for
ENVIRONMENT = "STANCE_BACKEND"  # what auto means on this machine, when set
_announced: set[str] = set()  # the automatic choice, once logged


def openvino_installed() -> bool:
    return importlib.util.find_spec("openvino") is not None


def auto_backend(precision: str = "auto") -> tuple[str, str]:
    """``(backend, why)`` that ``auto`` means for a model run on the CPU at ``precision``."""
    pinned = os.environ.get(ENVIRONMENT, "").strip()
    if pinned:
        if pinned not in BACKENDS:
            raise StanceError(f"{ENVIRONMENT}={pinned!r}: choose one of {', '.join(BACKENDS)} (or unset it)")
        return pinned, f"{ENVIRONMENT}={pinned}"
    if precision == "int8":
        return "torch", "int8 quantization runs on PyTorch"
    chosen = precisions.resolve(precision, "cpu")
    if chosen != "bf16":
        return "torch", f"precision {chosen}"
    if not precisions.cpu_has_fast_bf16():  # bf16 asked for on a CPU that emulates it: OpenVINO would run float32
        return "torch", "bf16 asked for on a CPU without AMX-BF16 or AVX512-BF16"
    if not openvino_installed():
        return "torch", "OpenVINO is not installed (pip install 'stance[openvino]')"
    return "openvino", "the CPU computes bfloat16 natively and OpenVINO is installed"


def check_backend(backend: str, precision: str) -> None:
    """Refuse a backend that does not exist, cannot run at ``precision`` or is not installed, before any work."""
    precisions.check(precision)
    if backend not in CHOICES:
        raise StanceError(f"unknown backend {backend!r}; choose one of {', '.join(CHOICES)}")
    if backend == "onnx":
        if precision not in ("auto", "float32"):
            raise StanceError("the ONNX backend runs at full precision; drop int8 quantization or bfloat16")
        from .onnx import require_onnxruntime

        require_onnxruntime()
    if backend == "openvino":
        if precision == "int8":
            raise StanceError("the OpenVINO backend runs at float32 or bf16; drop int8 quantization")
        from .openvino import require_openvino

        require_openvino()


def resolve_backend(backend: str, precision: str = "auto") -> str:
    """The backend that runs: ``backend`` itself (checked), or what ``auto`` means (logged once)."""
    check_backend(backend, precision)
    if backend != "auto":
        return backend
    chosen, why = auto_backend(precision)
    check_backend(chosen, precision)
    if not _announced:
        _announced.add(chosen)
        log.info("backend auto: %s (%s)", {"torch": "PyTorch", "onnx": "ONNX Runtime"}.get(chosen, "OpenVINO"), why)
    return chosen


def make_backend(
    trained: TrainedModel, *, backend: str = "auto", precision: str = "auto", quantize_scope: str | None = None
) -> Backend:
    """The scoring backend for a loaded model: what ``auto`` picks, PyTorch at a precision, ONNX Runtime
    (float32 only) or OpenVINO (auto, float32 or bf16); when an export or conversion fails, the PyTorch
    backend, with one warning."""
    backend = resolve_backend(backend, precision)
    if backend == "onnx":
        from .onnx import ExportError, OnnxBackend

        try:
            return OnnxBackend.for_model(trained)
        except ExportError as exc:
            log.warning("%s; running the PyTorch backend at float32 instead", exc)
            return TorchBackend(trained, "float32")
    if backend == "openvino":
        from .openvino import ConversionError, OpenVinoBackend

        try:
            return OpenVinoBackend(trained, precision)
        except ConversionError as exc:
            log.warning("%s; running the PyTorch backend (precision %s) instead", exc, precision)
    return TorchBackend(trained, precision, quantize_scope)
