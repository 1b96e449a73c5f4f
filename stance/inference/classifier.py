"""Classify new coverage with a trained model: sentences, streams of sentences and whole articles.

>>> clf = StanceClassifier.from_pretrained("runs/default/model")
>>> clf.predict(["Moscow will not sell tanks to Pakistan."])[0].label
'denying'

Every call goes through one :class:`~stance.inference.scorer.PairScorer`: pairs tokenised once, sorted by
length (length-bucketed batches), dynamically padded per batch, results returned in input order. Loading goes
through :func:`stance.modeling.load_trained` (safetensors only, no remote code). The backend is chosen once,
at load (``backend="auto"``, the default, is OpenVINO on a CPU with AMX or AVX512-BF16 where it is installed,
else PyTorch; :mod:`stance.inference.backends`): PyTorch at ``precision="auto"`` (the default: bfloat16 where
the CPU has AMX or AVX512-BF16 or the GPU supports it, float32 elsewhere; :mod:`stance.inference.precision`),
``float32``, ``bf16`` (matrix products in bfloat16 under ``torch.autocast``) or ``int8``
(:mod:`stance.inference.quantize`), or ONNX Runtime at float32 (``backend="onnx"``, an optional extra: ``pip
install 'stance[onnx]'``), or OpenVINO (``backend="openvino"``); when an export fails, the PyTorch backend
runs instead, with one warning.
"""

from __future__ import annotations

import itertools
import logging
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import StanceError
from ..labels import LABELS, label_counts
from ..modeling.loading import TrainedModel, load_trained
from .articles import (
    AggregationRule,
    ArticleResult,
    SentenceResult,
    aggregate,
    split_sentences,
)
from .backends import make_backend, resolve_backend
from .precision import requested as requested_precision
from .scorer import DEFAULT_BATCH_SIZE, Backend, PairScorer

log = logging.getLogger(__name__)
DEFAULT_CHUNK_SIZE = 2048  # rows held in memory at once when streaming


class TruncationWarning(UserWarning):
    """Some texts were longer than the model reads; their tail was ignored."""


@dataclass(frozen=True)
class Prediction:
    """The stance of one text: its label and the probability of every label (in :data:`LABELS` order)."""

    label: str
    scores: dict[str, float]

    @property
    def score(self) -> float:
        """The probability of the predicted label."""
        return self.scores[self.label]

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "scores": dict(self.scores)}


@dataclass
class StreamStats:
    """Running totals of a stream, for the one summary line at its end."""

    texts: int = 0
    truncated: int = 0


def to_predictions(probabilities: np.ndarray) -> list[Prediction]:
    best = probabilities.argmax(axis=1)
    return [
        Prediction(LABELS[int(b)], {label: round(float(p), 6) for label, p in zip(LABELS, row)})
        for b, row in zip(best, probabilities)
    ]


def truncation_message(count: int, total: int, max_length: int) -> str:
    return (
        f"{count} of {total} text(s) exceed the model's limit of {max_length} tokens (target and text "
        "together); only their beginning was classified"
    )


class StanceClassifier:
    """A trained stance model ready for inference (see the module docstring)."""

    def __init__(
        self, trained: TrainedModel, backend: Backend | None = None, *, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> None:
        self.scorer = PairScorer(trained, backend, batch_size)

    @classmethod
    def from_pretrained(
        cls,
        path_or_hub_id: str | Path,
        *,
        precision: str = "auto",
        quantize: bool | str = False,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_length: int | None = None,
        bf16: bool = False,
        backend: str = "auto",
    ) -> StanceClassifier:
        """Load a ``stance train`` model folder (``DIR/model``) or a compatible hub model.

        ``precision``: ``"auto"`` (bfloat16 where the hardware computes it natively, else float32; see
        :mod:`stance.inference.precision`), ``"float32"``, ``"bf16"`` or ``"int8"`` (dynamic quantization
        of the encoder's linear layers). ``bf16=True`` and ``quantize=True`` (or a scope name of
        :data:`stance.inference.quantize.SCOPES`) are aliases of ``"bf16"`` and ``"int8"``. ``max_length``
        overrides the token limit the model was trained with. ``backend``: ``"auto"`` (the default: OpenVINO
        on a CPU with native bfloat16 where it is installed, PyTorch elsewhere; :mod:`stance.inference.backends`),
        ``"torch"``, ``"onnx"`` for ONNX Runtime at full precision, or ``"openvino"`` (the fastest path
        measured on an AMX CPU); exports and conversions are cached once per model
        (:mod:`stance.inference.artifacts`).
        """
        precision = requested_precision(precision, quantize=quantize, bf16=bf16)
        if batch_size < 1:
            raise StanceError(f"batch size must be at least 1, got {batch_size}")
        backend = resolve_backend(backend, precision)  # auto decided, and bad choices refused, before loading
        trained = load_trained(path_or_hub_id, max_length=max_length)
        scope = quantize if isinstance(quantize, str) else None
        return cls(
            trained,
            make_backend(trained, backend=backend, precision=precision, quantize_scope=scope),
            batch_size=batch_size,
        )

    @property
    def trained(self) -> TrainedModel:
        return self.scorer.trained

    @property
    def backend(self) -> str:
        return self.scorer.backend.name

    @property
    def runtime(self) -> str:
        """What the backend computes with: ``float32``, ``bf16``, ``int8 (encoder)``, ``openvino-bf16`` ..."""
        return self.scorer.backend.describe()

    @property
    def batch_size(self) -> int:
        return self.scorer.batch_size

    @property
    def labels(self) -> tuple[str, ...]:
        return LABELS

    @property
    def default_target(self) -> str | None:
        return self.trained.default_target

    @property
    def max_length(self) -> int:
        return self.trained.max_length

    def target_for(self, target: str | None) -> str:
        """``target``, or the model's stored default; an error when there is neither."""
        chosen = target if target is not None and target.strip() else self.default_target
        if not chosen:
            raise StanceError(
                f"{self.trained.source}: the model stores no default target; pass a target (--target in the CLI)"
            )
        return chosen.strip()

    def _targets(self, target: str | Sequence[str | None] | None, n: int) -> list[str]:
        if target is None or isinstance(target, str):
            return [self.target_for(target)] * n
        if len(target) != n:
            raise StanceError(f"got {len(target)} targets for {n} texts; pass one target or one per text")
        return [self.target_for(t) for t in target]

    def _score(
        self, texts: Sequence[str], target: str | Sequence[str | None] | None, batch_size: int | None
    ) -> tuple[np.ndarray, int]:
        """Probabilities (input order) and how many pairs were truncated."""
        texts = list(texts)
        empty = [i for i, text in enumerate(texts) if not isinstance(text, str) or not text.strip()]
        if empty:
            shown = ", ".join(map(str, empty[:10])) + (" ..." if len(empty) > 10 else "")
            raise StanceError(f"{len(empty)} empty or non-text input(s) at index {shown}; nothing to classify")
        scored = self.scorer.score(self._targets(target, len(texts)), texts, batch_size=batch_size)
        return scored.probabilities, scored.truncated

    def _warn(self, truncated: int, total: int) -> None:
        if truncated:
            warnings.warn(truncation_message(truncated, total, self.max_length), TruncationWarning, stacklevel=3)

    def predict_proba(
        self,
        texts: str | Sequence[str],
        target: str | Sequence[str | None] | None = None,
        *,
        batch_size: int | None = None,
    ) -> np.ndarray:
        """Probabilities of :data:`LABELS` for each text, shape (len(texts), 3), in input order."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        probabilities, truncated = self._score(texts, target, batch_size)
        self._warn(truncated, len(texts))
        return probabilities

    def predict(
        self,
        texts: str | Sequence[str],
        target: str | Sequence[str | None] | None = None,
        *,
        batch_size: int | None = None,
    ) -> list[Prediction]:
        """One :class:`Prediction` per text (a single string counts as a list of one), in input order.

        ``target`` is one claim for all texts, one per text, or ``None`` for the model's default target.
        Texts beyond the model's length are truncated, with one :class:`TruncationWarning` counting them.
        """
        return to_predictions(self.predict_proba(texts, target, batch_size=batch_size))

    def predict_stream(
        self,
        pairs: Iterable[tuple[str, str | None]],
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        stats: StreamStats | None = None,
    ) -> Iterator[Prediction]:
        """Predictions for a stream of ``(text, target or None)`` pairs, in order, in bounded memory.

        Pairs are read ``chunk_size`` at a time (each chunk sorted by length internally). Truncations are
        counted in ``stats`` instead of warned about chunk by chunk.
        """
        stats = stats if stats is not None else StreamStats()
        iterator = iter(pairs)
        while chunk := list(itertools.islice(iterator, chunk_size)):
            probabilities, truncated = self._score([text for text, _ in chunk], [t for _, t in chunk], None)
            stats.texts += len(chunk)
            stats.truncated += truncated
            yield from to_predictions(probabilities)

    def predict_article(
        self,
        text: str,
        target: str | None = None,
        *,
        rule: AggregationRule | None = None,
        split_lines: bool = True,
        warn: bool = True,
    ) -> ArticleResult:
        """Split ``text`` into sentences, classify each, and sum them up with ``rule``.

        The result holds the article's label, the deciding sentences, per-label sentence counts and every
        sentence with its span, label and scores. See :class:`stance.inference.articles.AggregationRule`.
        """
        rule = rule or AggregationRule()
        claim = self.target_for(target)
        sentences = split_sentences(text, split_lines=split_lines)
        if not sentences:
            return ArticleResult(
                label="neutral",
                target=claim,
                counts=label_counts([]),
                deciding=[],
                rule=rule.describe(),
                reason="no sentences",
            )
        probabilities, truncated = self._score([s.text for s in sentences], claim, None)
        if warn:
            self._warn(truncated, len(sentences))
        predictions = to_predictions(probabilities)
        verdict = aggregate(probabilities, rule)
        results = [
            SentenceResult(i, s.text, s.start, s.end, p.label, p.scores)
            for i, (s, p) in enumerate(zip(sentences, predictions))
        ]
        return ArticleResult(
            label=verdict.label,
            target=claim,
            counts=label_counts(p.label for p in predictions),
            deciding=verdict.deciding,
            sentences=results,
            rule=rule.describe(),
            reason=verdict.reason,
            truncated=truncated,
        )

    def __repr__(self) -> str:
        return f"StanceClassifier({self.trained.source!r}, {self.runtime}, batch_size={self.batch_size})"
