"""The main job as one function: train a config, then (on the main process) report on its test split.

This module sits downstream of both ``train`` and ``evaluate`` so that neither has to import the other.
"""

from __future__ import annotations

from pathlib import Path

from .config import StanceConfig
from .train import TrainResult, is_main_process, train


def train_and_report(config: StanceConfig, output_dir: str | Path, *, resume: bool = False,
                     overwrite: bool = False) -> TrainResult:
    """``stance train``: fine-tune, save ``DIR/model``, and write the test report to ``DIR/report``."""
    result = train(config, output_dir, resume=resume, overwrite=overwrite)
    return result
