"""The OpenVINO backend of :class:`~stance.inference.scorer.PairScorer` (``openvino`` is a dependency of ``stance``).

``StanceClassifier.from_pretrained(path, backend="openvino")`` (``stance predict ... --openvino``; also what
``backend="auto"``, the default, picks on a CPU with AMX or AVX512-BF16, see :mod:`stance.inference.backends`)
converts the loaded PyTorch classifier with ``openvino.convert_model`` (dynamic batch and sequence axes) once
per model into ``<cache>/openvino/<key>/model.xml`` (:mod:`stance.inference.artifacts`; mpnet: about 10 s to
convert, 0.4 s to read and compile afterwards) and compiles it for the CPU; batches are the PyTorch path's
(length-sorted, padded per batch). Precision: ``auto`` is :mod:`stance.inference.precision`'s rule (bfloat16
where the CPU has AMX or AVX512-BF16, else float32; ``STANCE_PRECISION`` pins it), passed to OpenVINO as
``INFERENCE_PRECISION_HINT`` like an explicit ``float32`` or ``bf16``; int8 is not offered. Measured on the
2-core AMX CPU of this project (``scripts/bench_predict.py``, 2,699 corpus pairs): the mpnet default ran 175
pairs/s against 118 for the PyTorch bf16 path (1.48x; labels 99.96% the same as float32, test macro-F1 0.922
against 0.925), the MiniLM student 755 against 540 (1.40x). Nothing is downloaded, nothing is written into the
model folder. When the conversion fails (:class:`ConversionError`), ``from_pretrained`` runs the PyTorch
backend instead, with one warning; a missing ``openvino`` is an error naming the extra.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import StanceError
from ..modeling.loading import TrainedModel
from .artifacts import cached_artifact, weights_key
from .onnx import input_names, logits_module
from .precision import resolve

INSTALL_HINT = "pip install 'stance[openvino]'"
HINTS = {"float32": "f32", "bf16": "bf16"}  # our precision names -> INFERENCE_PRECISION_HINT
CONVERSION_FORMAT = 1  # part of the cache key: bump it when the conversion below changes


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


def model_key(trained: TrainedModel) -> str:
    """The cache key of ``trained``'s converted graph (:func:`stance.inference.artifacts.weights_key`)."""
    return weights_key(trained, f"stance-openvino-{CONVERSION_FORMAT}")


def convert(trained: TrainedModel, folder: Path) -> dict[str, Any]:
    """Convert the classifier (float32, dynamic batch and sequence axes) into ``folder/model.xml`` (+ ``.bin``)."""
    ov = require_openvino()
    import torch

    names = input_names(trained)
    example = trained.tokenizer(["a claim", "another, longer claim"], ["a text", "a text too"], padding=True)
    args = tuple(torch.tensor(example[name]) for name in names)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph = ov.convert_model(
                logits_module(trained.model.to("cpu").float(), names),
                example_input=args,
                input=[(ov.PartialShape([-1, -1]), ov.Type.i64)] * len(args),
            )
            ov.save_model(graph, folder / "model.xml", compress_to_fp16=False)
    except Exception as exc:  # the converter's errors are many and deep; the user needs the gist
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        raise ConversionError(
            f"{trained.source}: OpenVINO could not convert the model ({type(exc).__name__}: {first})"
        ) from exc
    return {
        "source": trained.source,
        "conversion_format": CONVERSION_FORMAT,
        "inputs": names,
        "openvino": ov.__version__,
    }


class OpenVinoBackend:
    """A compiled OpenVINO model over the classifier: a backend of :class:`~stance.inference.scorer.PairScorer`."""

    name = "openvino"

    def __init__(
        self, trained: TrainedModel, precision: str = "auto", threads: int | None = None, cache: Path | None = None
    ) -> None:
        if precision not in ("auto", *HINTS):
            raise StanceError(f"the OpenVINO backend runs at float32 or bf16 (or auto), not {precision!r}")
        ov = require_openvino()
        self.input_names = input_names(trained)
        build = functools.partial(convert, trained)
        path = cached_artifact("openvino", model_key(trained), "model.xml", build, cache, label="OpenVINO")
        config: dict[str, Any] = {
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_NUM_THREADS": threads or _threads(),
            "INFERENCE_PRECISION_HINT": HINTS[resolve(precision, "cpu")],  # auto: the package's one rule
        }
        try:
            core = ov.Core()
            self.compiled = core.compile_model(core.read_model(path), "CPU", config)
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [""])[0][:300]
            raise ConversionError(
                f"{path}: OpenVINO could not compile the converted model ({type(exc).__name__}: {first}); "
                "delete its folder to convert it again"
            ) from exc
        self.path = path
        self.precision = precision
        self.version = ov.__version__.split("-")[0]

    def logits(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(self.compiled([np.asarray(inputs[name], dtype=np.int64) for name in self.input_names])[0])

    def describe(self) -> str:
        """``openvino-<precision it computes in>``, e.g. ``openvino-bf16`` (part of track's cache key)."""
        hint = self.compiled.get_property("INFERENCE_PRECISION_HINT")
        return f"openvino-{getattr(hint, 'get_type_name', lambda: str(hint))()}"
