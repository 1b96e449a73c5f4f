"""The evaluation stage: metrics as an `evaluate` module (:mod:`~stance.evaluation.metrics`), the one typed
``metrics.json`` schema (:mod:`~stance.evaluation.schema`), the statistics (:mod:`~stance.evaluation.statistics`),
evaluating a model on labelled data (:mod:`~stance.evaluation.evaluate`), and the report with its plots
(:mod:`~stance.evaluation.report`, :mod:`~stance.evaluation.plots`)."""

from .evaluate import (
    Evaluation,
    evaluate_dataset,
    evaluate_model,
    evaluate_predictions,
    predict_probs,
)
from .metrics import StanceMetrics, compute_metrics
from .report import write_report
from .schema import SCHEMA_VERSION, MetricsFile

__all__ = [
    "SCHEMA_VERSION",
    "Evaluation",
    "MetricsFile",
    "StanceMetrics",
    "compute_metrics",
    "evaluate_dataset",
    "evaluate_model",
    "evaluate_predictions",
    "predict_probs",
    "write_report",
]
