"""The inference stage: one scorer with interchangeable backends (:mod:`~stance.inference.scorer`: PyTorch at
float32, bfloat16 or int8 — :mod:`~stance.inference.quantize` — and ONNX Runtime, :mod:`~stance.inference.onnx`),
the :class:`StanceClassifier` a user holds (:mod:`~stance.inference.classifier`), whole articles
(:mod:`~stance.inference.articles`), files in and out (:mod:`~stance.inference.files`), encoder embeddings
(:mod:`~stance.inference.embeddings`) and the Ray Data engine for archives (:mod:`~stance.inference.distributed`
with :mod:`~stance.inference.cluster`; ``pip install 'stance[ray]'``)."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AggregationRule": "articles",
    "ArticleResult": "articles",
    "SentenceResult": "articles",
    "aggregate": "articles",
    "split_sentences": "articles",
    "Prediction": "classifier",
    "StanceClassifier": "classifier",
    "TruncationWarning": "classifier",
    "PairScorer": "scorer",
    "Scored": "scorer",
    "TorchBackend": "scorer",
    "score_pairs": "scorer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:  # torch and transformers load on first use, not on import
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'stance.inference' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
