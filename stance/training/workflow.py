"""The main job as one function: train a config, then (on the main process) report on its test split."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..config import StanceConfig
from ..errors import StanceError
from ..evaluation.error_matrix import ErrorMatrix
from ..evaluation.evaluate import evaluate_dataset
from ..evaluation.report import write_report
from ..evaluation.schema import MetricsFile
from ..labels import LABEL2ID, LABELS
from ..layout import ERROR_MATRIX_FILE, REPORT_DIR, atomic_write_text
from ..modeling.loading import load_trained
from .trainer import TrainResult, is_main_process, train

log = logging.getLogger(__name__)


def train_and_report(
    config: StanceConfig, output_dir: str | Path, *, resume: bool = False, overwrite: bool = False
) -> TrainResult:
    """``stance train``: fine-tune, save ``DIR/model``, and write the test report to ``DIR/report``."""
    result = train(config, output_dir, resume=resume, overwrite=overwrite)
    if is_main_process() and config.output.report:
        if "test" not in result.splits:
            log.info("no test split (data.test is not set): no evaluation report written")
        else:
            page = report_on_test(config, result)
            log.info("evaluation report: %s", page)
    return result


def report_on_test(config: StanceConfig, result: TrainResult) -> Path:
    """Evaluate the saved model on the run's test split into ``DIR/report``; baselines use its train split.
    The test confusion matrix is stored with the model (``DIR/model/stance_error_matrix.json``)."""
    train_split = result.splits["train"]
    note = f"baselines trained on {config.data.train} ({len(train_split)} examples, this run's training split)"
    evaluation = evaluate_dataset(
        load_trained(result.model_dir),
        result.splits["test"],
        path=str(config.data.test),
        split="test",
        train=train_split,
        train_note=note,
        batch_size=config.training.eval_batch_size,
    )
    page = write_report(evaluation, Path(result.output_dir) / REPORT_DIR)
    # the held-out confusion matrix travels with the model: `stance track` adjusts prevalence with it
    stored = store_error_matrix(result.model_dir, evaluation.results, evaluation.predictions)
    log.info("held-out error matrix: %s", stored)
    return page


def store_error_matrix(
    model_dir: str | Path, results: MetricsFile, predictions: list[dict[str, Any]] | None = None
) -> Path:
    """Store an evaluation's confusion matrix with the model, as ``MODEL_DIR/stance_error_matrix.json``
    (the format: :mod:`stance.evaluation.error_matrix`, which ``stance track`` reads).

    ``predictions`` (the evaluation's prediction rows, with ``gold`` and ``scores``) add each held-out
    example's probabilities (schema 2), which let ``stance track`` adjust by probabilities (PACC) instead of
    counts (ACC). Only held-out data may give it (a model's errors on its own training data are not its errors).
    """
    cm, data = results["confusion_matrix"], results["data"]
    if list(cm["labels"]) != list(LABELS):
        raise StanceError(f"confusion matrix labels {cm['labels']!r}: expected {', '.join(LABELS)} in that order")
    examples: dict[str, Any] = {}
    if predictions:
        examples["gold"] = np.array([LABEL2ID[row["gold"]] for row in predictions])
        examples["scores"] = np.array([[row["scores"][label] for label in LABELS] for row in predictions])
    matrix = ErrorMatrix(
        np.asarray(cm["counts"], dtype=np.int64),
        data["split"],
        str(data["path"]),
        targets=tuple(data["targets"]),
        model=str(results["model"]),
        **examples,
    )
    return atomic_write_text(Path(model_dir) / ERROR_MATRIX_FILE, json.dumps(matrix.to_dict(), indent=2) + "\n")
