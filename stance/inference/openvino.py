"""Optional OpenVINO backend of :class:`~stance.inference.scorer.PairScorer` (``pip install 'stance[openvino]'``).

``StanceClassifier.from_pretrained(path, backend="openvino")`` (``stance predict ... --openvino``) converts the
loaded PyTorch classifier in memory with ``openvino.convert_model`` (dynamic batch and sequence axes; a few
seconds for MiniLM or mpnet) and compiles it for the CPU; batches are the PyTorch path's (length-sorted,
padded per batch). Precision: ``auto`` leaves it to OpenVINO, whose CPU plugin itself computes in bfloat16
where the CPU has AMX or AVX512-BF16 and in float32 elsewhere (the same rule as
:mod:`stance.inference.precision`); ``float32`` and ``bf16`` set ``INFERENCE_PRECISION_HINT``; int8 is not
offered. Measured on the 2-core AMX CPU of this project (``scripts/bench_predict.py``, 2,699 corpus pairs):
the mpnet default ran 175 pairs/s against 118 for the PyTorch bf16 path (1.48x; labels 99.96% the same
as float32, test macro-F1 0.922 against 0.925), the MiniLM student 755 against 540 (1.40x). Nothing is
written to disk or downloaded. When the conversion fails (:class:`ConversionError`), ``from_pretrained``
runs the PyTorch backend instead, with one warning; a missing ``openvino`` is an error naming the extra.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..errors import StanceError
from ..modeling.loading import TrainedModel
from .onnx import input_names, logits_module

INSTALL_HINT = "pip install 'stance[openvino]'"
HINTS = {"float32": "f32", "bf16": "bf16"}  # our precision names -> INFERENCE_PRECISION_HINT


class ConversionError(StanceError):
    """OpenVINO could not convert or compile the model (``from_pretrained`` then falls back to PyTorch)."""


def require_openvino() -> Any:
    """The ``openvino`` module, or a :class:`StanceError` that says how to install it."""
    try:
        import openvino
    except ImportError as exc:
        raise StanceError(
            f"the OpenVINO backend (--openvino) needs OpenVINO, which is not installed: {INSTALL_HINT}"
        ) from exc
    return openvino


def _threads() -> int:
    import torch

    return torch.get_num_threads()


class OpenVinoBackend:
    """A compiled OpenVINO model over the classifier: a backend of :class:`~stance.inference.scorer.PairScorer`."""

    name = "openvino"

    def __init__(self, trained: TrainedModel, precision: str = "auto", threads: int | None = None) -> None:
        if precision not in ("auto", *HINTS):
            raise StanceError(f"the OpenVINO backend runs at float32 or bf16 (or auto), not {precision!r}")
        ov = require_openvino()
        import torch

        self.input_names = input_names(trained)
        example = trained.tokenizer(["a claim", "another, longer claim"], ["a text", "a text too"], padding=True)
        args = tuple(torch.tensor(example[name]) for name in self.input_names)
        config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads or _threads()}
        if precision in HINTS:
            config["INFERENCE_PRECISION_HINT"] = HINTS[precision]
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                graph = ov.convert_model(
                    logits_module(trained.model.to("cpu").float(), self.input_names),
                    example_input=args,
                    input=[(ov.PartialShape([-1, -1]), ov.Type.i64)] * len(args),
                )
                self.compiled = ov.Core().compile_model(graph, "CPU", config)
        except Exception as exc:  # the converter's errors are many and deep; the user needs the gist
            first = (str(exc).strip().splitlines() or [""])[0][:300]
            raise ConversionError(
                f"{trained.source}: OpenVINO could not convert the model ({type(exc).__name__}: {first})"
            ) from exc
        self.precision = precision
        self.version = ov.__version__.split("-")[0]

    def logits(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(self.compiled([np.asarray(inputs[name], dtype=np.int64) for name in self.input_names])[0])

    def describe(self) -> str:
        """``openvino-<precision it computes in>``, e.g. ``openvino-bf16`` (part of track's cache key)."""
        hint = self.compiled.get_property("INFERENCE_PRECISION_HINT")
        return f"openvino-{getattr(hint, 'get_type_name', lambda: str(hint))()}"
