"""The one scorer of (target, text) pairs, with interchangeable backends.

:class:`PairScorer` tokenises every pair once, sorts by length, pads per batch and hands each batch to a
backend that turns padded inputs into logits: :class:`TorchBackend` (float32, bfloat16 autocast, int8
dynamic quantization, or ``auto``: see :mod:`stance.inference.precision`) or
:class:`stance.inference.onnx.OnnxBackend` (ONNX Runtime). Softmax and the mapping of the model's logit
columns onto :data:`~stance.labels.LABELS` happen here, once, for all. Pairs longer than the model reads are
truncated (``longest_first``) and counted from the same tokenisation: only the few long pairs are tokenised
a second time, to cut them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..errors import StanceError
from ..labels import LABELS
from ..modeling.loading import TrainedModel
from .precision import CHOICES, resolve

DEFAULT_BATCH_SIZE = 64


class Backend(Protocol):
    """Padded integer inputs (numpy arrays by input name) in, logits (batch, n_labels) out."""

    name: str
    input_names: list[str]

    def logits(self, inputs: dict[str, np.ndarray]) -> np.ndarray: ...

    def describe(self) -> str:
        """What it computes with, e.g. ``bf16``, ``openvino-bf16`` (shown to users, part of track's cache key)."""
        ...


class TorchBackend:
    """The PyTorch model at float32, under bfloat16 autocast (``bf16``), or int8-quantized (``int8``);
    ``auto`` is bf16 where the device computes it natively, else float32 (:mod:`stance.inference.precision`),
    decided for the device the model is on when it first runs (or is described)."""

    def __init__(
        self,
        trained: TrainedModel,
        precision: str = "float32",
        quantize_scope: str | None = None,
        per_channel: bool = True,
    ) -> None:
        if precision not in CHOICES:
            raise StanceError(f"unknown precision {precision!r}; choose one of {', '.join(CHOICES)}")
        model = trained.model
        if precision == "int8":
            from .quantize import DEFAULT_SCOPE, quantize_model

            quantize_scope = quantize_scope or DEFAULT_SCOPE
            model = quantize_model(model, quantize_scope, per_channel=per_channel)
        self.model = model
        self.requested = precision
        self.scope = quantize_scope if precision == "int8" else None
        self.name = "torch"
        self.input_names = list(
            getattr(trained.tokenizer, "model_input_names", None) or ["input_ids", "attention_mask"]
        )
        self.device = next(model.parameters()).device

    @property
    def precision(self) -> str:
        """What the model computes in on its current device: float32, bf16 or int8 (never ``auto``)."""
        return resolve(self.requested, self.device)

    def _context(self) -> contextlib.AbstractContextManager:
        if self.precision != "bf16":
            return contextlib.nullcontext()
        import torch

        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def logits(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        import torch

        tensors = {name: torch.as_tensor(value).to(self.device) for name, value in inputs.items()}
        with torch.inference_mode(), self._context():
            return self.model(**tensors).logits.float().cpu().numpy()

    def describe(self) -> str:
        return f"int8 ({self.scope})" if self.scope else "bfloat16" if self.precision == "bf16" else "float32"


@dataclass
class Scored:
    probabilities: np.ndarray  # (n, len(LABELS)), columns in LABELS order, rows in input order
    truncated: int  # pairs longer than the model reads (their tail was ignored)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


class PairScorer:
    """Probabilities of :data:`LABELS` for (target, text) pairs through one backend."""

    def __init__(
        self, trained: TrainedModel, backend: Backend | None = None, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> None:
        if batch_size < 1:
            raise StanceError(f"batch size must be at least 1, got {batch_size}")
        self.trained = trained
        self.backend = backend if backend is not None else TorchBackend(trained)
        self.batch_size = batch_size

    def encode(self, targets: Sequence[str], texts: Sequence[str]) -> tuple[list[dict[str, list[int]]], int]:
        """Token ids of each pair, cut to the model's limit, and how many had to be cut."""
        tokenizer, limit = self.trained.tokenizer, self.trained.max_length
        names = self.backend.input_names
        encoded = tokenizer(list(targets), list(texts), truncation=False, verbose=False)
        lengths = [len(ids) for ids in encoded["input_ids"]]
        features = [{name: encoded[name][i] for name in names if name in encoded} for i in range(len(texts))]
        long = [i for i, n in enumerate(lengths) if n > limit]
        if long:
            cut = tokenizer(
                [targets[i] for i in long], [texts[i] for i in long], truncation="longest_first", max_length=limit
            )
            for k, i in enumerate(long):
                features[i] = {name: cut[name][k] for name in names if name in cut}
        return features, len(long)

    def score(
        self,
        targets: Sequence[str],
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        sort_by_length: bool = True,
    ) -> Scored:
        if len(targets) != len(texts):
            raise ValueError("targets and texts must have the same length")
        out = np.zeros((len(texts), len(LABELS)), dtype=np.float32)
        if not texts:
            return Scored(out, 0)
        features, truncated = self.encode(targets, texts)
        columns = self.trained.label_columns
        for index, logits in self._logit_batches(features, batch_size, sort_by_length):
            out[index] = softmax(logits.astype(np.float64))[:, columns]
        return Scored(out, truncated)

    def logits(
        self,
        targets: Sequence[str],
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        sort_by_length: bool = True,
    ) -> np.ndarray:
        """The raw logits (n, len(LABELS)) behind :meth:`score`, columns in LABELS order, rows in input order:
        a softmax at any temperature turns them into probabilities (``stance distill`` keeps them as the
        teacher's soft labels)."""
        if len(targets) != len(texts):
            raise ValueError("targets and texts must have the same length")
        out = np.zeros((len(texts), len(LABELS)), dtype=np.float32)
        if not texts:
            return out
        features, _ = self.encode(targets, texts)
        columns = self.trained.label_columns
        for index, logits in self._logit_batches(features, batch_size, sort_by_length):
            out[index] = logits[:, columns]
        return out

    def _logit_batches(
        self, features: list[dict[str, list[int]]], batch_size: int | None, sort_by_length: bool
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(row indices, their logits in the model's own column order), one padded batch at a time."""
        size = batch_size or self.batch_size
        order = (
            np.argsort([len(f["input_ids"]) for f in features], kind="stable")
            if sort_by_length
            else np.arange(len(features))
        )
        pad = self.trained.tokenizer.pad
        for start in range(0, len(order), size):
            index = order[start : start + size]
            batch = pad([features[i] for i in index], return_tensors="np")
            yield index, self.backend.logits({name: batch[name].astype(np.int64) for name in batch})


def score_pairs(
    trained: TrainedModel,
    targets: Sequence[str],
    texts: Sequence[str],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    backend: Any = None,
) -> np.ndarray:
    """Probabilities of :data:`LABELS` for each pair, in input order (float32 PyTorch unless ``backend``)."""
    return PairScorer(trained, backend, batch_size).score(targets, texts).probabilities
