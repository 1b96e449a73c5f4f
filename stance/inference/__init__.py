"""The inference stage: one scorer with interchangeable backends (:mod:`~stance.inference.scorer`: PyTorch at
float32, bfloat16 or int8 — :mod:`~stance.inference.quantize` — and ONNX Runtime, :mod:`~stance.inference.onnx`),
the :class:`StanceClassifier` a user holds (:mod:`~stance.inference.classifier`), whole articles
(:mod:`~stance.inference.articles`) and files in and out (:mod:`~stance.inference.files`)."""

from .articles import (
    AggregationRule,
    ArticleResult,
    SentenceResult,
    aggregate,
    split_sentences,
)
from .classifier import Prediction, StanceClassifier, TruncationWarning
from .scorer import PairScorer, Scored, TorchBackend, score_pairs

__all__ = [
    "AggregationRule",
    "ArticleResult",
    "PairScorer",
    "Prediction",
    "Scored",
    "SentenceResult",
    "StanceClassifier",
    "TorchBackend",
    "TruncationWarning",
    "aggregate",
    "score_pairs",
    "split_sentences",
]
