"""The modeling stage: which base a config names (:mod:`~stance.modeling.bases`, with the fetched-and-verified
named models of :mod:`~stance.modeling.registry`), building the pair classifier for training
(:mod:`~stance.modeling.build`), and loading a trained one safely for inference (:mod:`~stance.modeling.loading`)."""

from .bases import (
    NAMED_BASES,
    embedded_base_path,
    is_local_path,
    load_tokenizer,
    resolve_base,
)
from .build import build, train_wordpiece
from .loading import (
    TrainedModel,
    label_columns,
    load_trained,
    read_hf_config,
    stored_default_target,
)

__all__ = [
    "NAMED_BASES",
    "TrainedModel",
    "build",
    "embedded_base_path",
    "is_local_path",
    "label_columns",
    "load_tokenizer",
    "load_trained",
    "read_hf_config",
    "resolve_base",
    "stored_default_target",
    "train_wordpiece",
]
