"""The training stage: fine-tuning with the transformers Trainer (:mod:`~stance.training.trainer`), its
objectives (:mod:`~stance.training.losses`), optimisers (:mod:`~stance.training.optimizers`) and plugins
(:mod:`~stance.training.callbacks`); the main job, training then reporting (:mod:`~stance.training.workflow`);
and grouped cross-validation (:mod:`~stance.training.cv`)."""

from .cv import CVResult, cross_validate
from .trainer import TrainResult, train
from .workflow import train_and_report

__all__ = ["CVResult", "TrainResult", "cross_validate", "train", "train_and_report"]
