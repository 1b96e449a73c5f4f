"""The main job as one function: train a config, then (on the main process) report on its test split.

This module sits downstream of both ``train`` and ``evaluate`` so that neither has to import the other.
"""

from __future__ import annotations

from pathlib import Path

from .config import StanceConfig
from .evaluate import evaluate_dataset
from .modeling import load_trained
from .report import write_report
from .train import TrainResult, is_main_process, train

REPORT_DIR = "report"


def train_and_report(config: StanceConfig, output_dir: str | Path, *, resume: bool = False,
                     overwrite: bool = False) -> TrainResult:
    """``stance train``: fine-tune, save ``DIR/model``, and write the test report to ``DIR/report``."""
    result = train(config, output_dir, resume=resume, overwrite=overwrite)
    if is_main_process() and config.output.report:
        if "test" not in result.splits:
            print("no test split (data.test is not set): no evaluation report written", flush=True)
        else:
            page = report_on_test(config, result)
            print(f"evaluation report: {page}", flush=True)
    return result


def report_on_test(config: StanceConfig, result: TrainResult) -> Path:
    """Evaluate the saved model on the run's test split into ``DIR/report``; baselines use its train split."""
    train_split = result.splits["train"]
    note = f"baselines trained on {config.data.train} ({len(train_split)} examples, this run's training split)"
    evaluation = evaluate_dataset(load_trained(result.model_dir), result.splits["test"], path=str(config.data.test),
                                  split="test", train=train_split, train_note=note,
                                  batch_size=config.training.eval_batch_size)
    return write_report(evaluation, Path(result.output_dir) / REPORT_DIR)
