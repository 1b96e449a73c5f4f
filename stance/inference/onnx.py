"""Optional ONNX Runtime backend of :class:`~stance.inference.scorer.PairScorer` (``pip install 'stance[onnx]'``).

``StanceClassifier.from_pretrained(path, backend="onnx")`` (``stance predict ... --onnx``) exports the loaded
classifier once with ``torch.onnx.export`` (the ``torch.export``-based exporter, dynamic batch and sequence
axes) and runs it with ONNX Runtime on the CPU at full float32 precision, with the same length-sorted,
dynamically padded batches as the PyTorch path. Labels are the same; scores agree to about 1e-6. When the
export fails (:class:`ExportError`), ``from_pretrained`` runs the PyTorch backend at float32 instead, with one
warning that says why; a missing ``onnxruntime``, ``onnx`` or ``onnxscript`` is an error naming the extra.

The exported graph is cached under ``<cache>/onnx/<key>/model.onnx`` (:mod:`stance.inference.artifacts`:
``$STANCE_HOME``, default ``~/.cache/stance``; ``key`` is a SHA-256 of the loaded weights and config):
retraining a model into the same folder exports it afresh, and nothing is ever written into the model
folder or downloaded. ONNX Runtime
applies its graph optimisations when the session opens (so they always suit the CPU it runs on): the
basic ones (constant folding, redundant nodes) by default, because on the 2-core AVX-512 CPU we measured,
the extended fusions (SkipLayerNormalization, BiasGelu, FusedMatMul; ``ORT_ENABLE_ALL``) made this graph
5-10% slower. How it compares with the naive pipeline and the PyTorch path:
``scripts/bench_predict.py --onnx``.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import StanceError
from ..modeling.loading import TrainedModel
from .artifacts import cached_artifact, weights_key

EXPORT_FORMAT = 1  # part of the cache key: bump it when the export below changes
INSTALL_HINT = "pip install 'stance[onnx]'"
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")  # those the tokenizer produces are used
EXTERNAL_DATA_BYTES = 1_500_000_000  # larger weights go to a side file (an ONNX file holds at most 2 GB)
OPTIMIZATION_LEVELS = {"basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}
DEFAULT_OPTIMIZATION = "basic"  # see the module docstring


class ExportError(StanceError):
    """The exporter could not turn the model into an ONNX graph (``from_pretrained`` then falls back to the
    PyTorch backend with one warning; a missing package or an unwritable cache stays an error)."""


def require_onnxruntime() -> Any:
    """The ``onnxruntime`` module, or a :class:`StanceError` that says how to install it."""
    try:
        import onnxruntime
    except ImportError as exc:
        raise StanceError(
            f"the ONNX backend (--onnx) needs ONNX Runtime, which is not installed: {INSTALL_HINT}"
        ) from exc
    return onnxruntime


def model_key(trained: TrainedModel) -> str:
    """The cache key of ``trained``'s export (:func:`stance.inference.artifacts.weights_key`)."""
    return weights_key(trained, f"stance-onnx-{EXPORT_FORMAT}")


def input_names(trained: TrainedModel) -> list[str]:
    """The graph's inputs: those of :data:`INPUT_NAMES` that the tokenizer produces (RoBERTa has no token types)."""
    produced = set(getattr(trained.tokenizer, "model_input_names", None) or INPUT_NAMES[:2])
    return [name for name in INPUT_NAMES if name in produced]


def logits_module(model: Any, names: Sequence[str]) -> Any:
    import torch

    class Logits(torch.nn.Module):
        """Positional tensors in, logits out: what the exporter traces."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.model(**dict(zip(names, inputs))).logits

    return Logits().eval()


def export_onnx(trained: TrainedModel, path: Path) -> None:
    """Write ``trained.model`` as an ONNX graph with dynamic batch and sequence axes (CPU, float32)."""
    import torch

    names = input_names(trained)
    example = trained.tokenizer(
        ["a claim", "another, longer claim about something"],
        ["a text", "a text too"],
        padding=True,
        return_tensors="pt",
    )
    args = tuple(example[name] for name in names)
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    large = sum(p.numel() * p.element_size() for p in trained.model.parameters()) > EXTERNAL_DATA_BYTES
    model = trained.model.to("cpu").float()
    try:
        with warnings.catch_warnings(), _quiet_logger("torch.onnx"), torch.no_grad():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                logits_module(model, names),
                args,
                dynamo=True,
                verbose=False,
                input_names=names,
                output_names=["logits"],
                dynamic_shapes=(tuple({0: batch, 1: sequence} for _ in names),),
            )
            program.save(str(path), external_data=large)
    except ImportError as exc:  # the exporter needs onnx and onnxscript
        raise StanceError(f"exporting to ONNX needs {exc.name or 'onnx and onnxscript'}: {INSTALL_HINT}") from exc
    except Exception as exc:  # the exporter's errors are many and deep; the user needs the gist
        root = exc
        while root.__cause__ is not None or root.__context__ is not None:
            root = root.__cause__ or root.__context__
        first = (str(root).strip().splitlines() or [""])[0][:300]
        raise ExportError(
            f"{trained.source}: could not export the model to ONNX ({type(root).__name__}: {first})"
        ) from exc


@contextlib.contextmanager
def _quiet_logger(name: str) -> Any:
    """The exporter logs notes such as 'torchvision is not installed'; they mean nothing to a stance user."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def cached_export(trained: TrainedModel, root: Path | None = None) -> Path:
    """The cached ONNX file of ``trained``, exported first when missing (atomically, so concurrent runs are safe)."""

    def build(folder: Path) -> dict[str, Any]:
        export_onnx(trained, folder / "model.onnx")
        return {"source": trained.source, "export_format": EXPORT_FORMAT, "inputs": input_names(trained)}

    return cached_artifact("onnx", model_key(trained), "model.onnx", build, root, label="ONNX")


class OnnxBackend:
    """An ONNX Runtime session over the exported classifier: a backend of
    :class:`~stance.inference.scorer.PairScorer`."""

    def __init__(self, path: Path, threads: int | None = None, optimization: str = DEFAULT_OPTIMIZATION) -> None:
        ort = require_onnxruntime()
        if optimization not in OPTIMIZATION_LEVELS:
            raise StanceError(
                f"unknown ONNX Runtime optimization level {optimization!r}; choose one of "
                f"{', '.join(OPTIMIZATION_LEVELS)}"
            )
        options = ort.SessionOptions()
        options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, OPTIMIZATION_LEVELS[optimization])
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = threads or _torch_threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise StanceError(
                f"{path}: ONNX Runtime cannot open the exported model ({exc}); delete the file to export it again"
            ) from exc
        self.path = path
        self.name = "onnx"
        self.input_names = [i.name for i in self.session.get_inputs()]

    @classmethod
    def for_model(
        cls,
        trained: TrainedModel,
        *,
        cache: Path | None = None,
        threads: int | None = None,
        optimization: str = DEFAULT_OPTIMIZATION,
    ) -> OnnxBackend:
        """Export ``trained`` (or reuse the cached export) and open a session over it."""
        require_onnxruntime()  # before any export work
        return cls(cached_export(trained, cache), threads, optimization)

    def logits(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run(["logits"], {name: inputs[name].astype(np.int64) for name in self.input_names})[0]

    def describe(self) -> str:
        return "float32, onnxruntime"


def _torch_threads() -> int:
    """The thread count torch uses (physical cores, or OMP_NUM_THREADS / torch.set_num_threads)."""
    import torch

    return torch.get_num_threads()
