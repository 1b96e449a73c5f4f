"""stance: train, evaluate, run and publish stance-detection models for news coverage.

Heavy libraries (torch, transformers) load on first use, so ``import stance`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "StanceClassifier": "predict",
    "StanceConfig": "config",
    "load_config": "config",
    "StanceError": "errors",
    "LABELS": "labels",
    "train": "train",
    "train_and_report": "workflow",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'stance' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
