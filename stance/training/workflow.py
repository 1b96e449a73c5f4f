"""The main job as one function: train a config, then (on the main process) report on its test split."""

from __future__ import annotations

import logging
from pathlib import Path

from ..config import StanceConfig
from ..evaluation.evaluate import evaluate_dataset
from ..evaluation.report import write_report
from ..layout import REPORT_DIR
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
    """Evaluate the saved model on the run's test split into ``DIR/report``; baselines use its train split."""
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
    return write_report(evaluation, Path(result.output_dir) / REPORT_DIR)
