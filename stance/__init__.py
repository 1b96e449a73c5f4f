"""stance: train, evaluate, run and publish stance-detection models for news coverage.

One subpackage per stage, in the order the data flows (each imports only from those before it; a test
keeps it so): :mod:`stance.data` → :mod:`stance.modeling` → :mod:`stance.inference` →
:mod:`stance.evaluation` → :mod:`stance.training` → :mod:`stance.coverage` (``stance track``) →
:mod:`stance.annotation` (``stance annotate``) → :mod:`stance.hub` → :mod:`stance.cli`, on top of the shared
:mod:`stance.errors`, :mod:`stance.labels`, :mod:`stance.config`, :mod:`stance.layout` (every file name)
and :mod:`stance.logs`. Heavy libraries (torch, transformers) load on first use, so ``import stance``
stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "StanceClassifier": "inference.classifier",
    "StanceConfig": "config",
    "load_config": "config",
    "StanceError": "errors",
    "LABELS": "labels",
    "train": "training.trainer",
    "train_and_report": "training.workflow",
    "cross_validate": "training.cv",
    "evaluate_model": "evaluation.evaluate",
    "write_report": "evaluation.report",
    "MetricsFile": "evaluation.schema",
    "publish": "hub.publish",
    "track": "coverage.tracking",
    "distill": "training.distill",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'stance' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
