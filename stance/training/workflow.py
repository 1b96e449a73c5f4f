"""The main job as one function: train a config, then (on the main process) report on its test split."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ..config import StanceConfig
from ..evaluation.evaluate import evaluate_dataset
from ..evaluation.report import write_report
from ..evaluation.schema import MetricsFile
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
    """Store an evaluation's confusion matrix with the model, as ``MODEL_DIR/stance_error_matrix.json``::

        {"schema_version": 2, "labels": [...], "counts": [[...]],   # rows: gold, columns: predicted
         "rows": "gold", "columns": "predicted", "n", "split", "path", "targets", "model",
         "gold": [...], "scores": [[...]]}                          # per example, from ``predictions``

    ``predictions`` (the evaluation's prediction rows, with ``gold`` and ``scores``) add each held-out
    example's probabilities, which let ``stance track`` adjust by probabilities (PACC) instead of counts.

    Only held-out data may give it (a model's errors on its own training data are not its errors);
    :mod:`stance.coverage.matrix` reads it to adjust prevalence for the classifier's errors.
    """
    cm, data = results["confusion_matrix"], results["data"]
    record: dict[str, Any] = {
        "schema_version": 2 if predictions else 1,
        "labels": list(cm["labels"]),
        "counts": [[int(c) for c in row] for row in cm["counts"]],
        "rows": "gold",
        "columns": "predicted",
        "n": int(sum(map(sum, cm["counts"]))),
        "split": data["split"],
        "path": str(data["path"]),
        "targets": list(data["targets"]),
        "model": str(results["model"]),
    }
    if predictions:
        labels = record["labels"]
        record["gold"] = [row["gold"] for row in predictions]
        record["scores"] = [[round(float(row["scores"][label]), 6) for label in labels] for row in predictions]
    return atomic_write_text(Path(model_dir) / ERROR_MATRIX_FILE, json.dumps(record, indent=2) + "\n")
