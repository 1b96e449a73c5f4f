"""Plugins of the training loop (Trainer callbacks): the JSON-lines log, the one progress bar, and the
checkpoint timer that lets a resumed run count its training time across both runs."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from transformers import ProgressCallback, TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from ..layout import CHECKPOINT_TIMER_FILE, TRAIN_LOG_FILE
from ..logs import progress_enabled

log = logging.getLogger(__name__)


class JsonlLog(TrainerCallback):
    """Appends every log and evaluation to a JSON-lines file and logs one line per evaluation. After
    training (``finished``) the evaluation of the selected checkpoint is logged as such, not appended."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.finished = False

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs and not self.finished:
            record = {"epoch": state.epoch, "step": state.global_step, **logs}
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if state.is_world_process_zero and metrics:
            what = "selected checkpoint" if self.finished else f"epoch {state.epoch:.2f}"
            log.info(
                "%s: dev macro-F1 %.4f, accuracy %.4f, loss %.4f",
                what,
                metrics.get("eval_macro_f1", float("nan")),
                metrics.get("eval_accuracy", float("nan")),
                metrics.get("eval_loss", float("nan")),
            )


class TrainingBar(ProgressCallback):
    """The Trainer's progress bar without its raw log dicts and evaluation bars: one bar, with the loss."""

    def on_train_begin(self, args, state, control, **kwargs):
        if progress_enabled():
            super().on_train_begin(args, state, control, **kwargs)
            if self.training_bar is not None:
                self.training_bar.set_description("training")
                self.training_bar.update(state.global_step)  # a resumed run starts where it left off
        self.current_step = state.global_step

    def on_step_end(self, args, state, control, **kwargs):
        if self.training_bar is not None:
            super().on_step_end(args, state, control, **kwargs)

    def on_prediction_step(self, args, state, control, eval_dataloader=None, **kwargs):
        pass

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.training_bar is not None and logs and "loss" in logs:
            self.training_bar.set_postfix(loss=f"{logs['loss']:.4f}", refresh=False)

    def on_train_end(self, args, state, control, **kwargs):
        if self.training_bar is not None:
            super().on_train_end(args, state, control, **kwargs)


class CheckpointTimer(TrainerCallback):
    """Keeps the training seconds so far inside each checkpoint, so a resumed run's time adds up."""

    def __init__(self, before: float = 0.0) -> None:
        self.before = before
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        return self.before + time.perf_counter() - self.started

    def on_save(self, args, state, control, **kwargs):
        folder = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
        if state.is_world_process_zero and folder.is_dir():
            (folder / CHECKPOINT_TIMER_FILE).write_text(json.dumps({"train_seconds": self.elapsed()}), "utf-8")


def checkpoint_step(checkpoint: str) -> int:
    return int(Path(checkpoint).name.split("-")[-1])


def resume_state(output_dir: Path, checkpoint: str) -> float:
    """Before resuming from ``checkpoint``: drop the log records after its step (they are written again) and
    return the training seconds it had taken."""
    step = checkpoint_step(checkpoint)
    path = output_dir / TRAIN_LOG_FILE
    if path.is_file():
        kept = [
            line
            for line in path.read_text("utf-8").splitlines()
            if line.strip() and json.loads(line).get("step", 0) <= step
        ]
        path.write_text("".join(line + "\n" for line in kept), "utf-8")
    timer = Path(checkpoint) / CHECKPOINT_TIMER_FILE
    return float(json.loads(timer.read_text("utf-8"))["train_seconds"]) if timer.is_file() else 0.0
