"""The annotation stage: choosing what to label next, Label Studio both ways, and agreement.

It sits after :mod:`stance.inference` (it scores and embeds the pool with a trained model) and imports
nothing downstream of it:

- :mod:`~stance.annotation.pool` — the candidates: a pool file or article files, with context; what is
  already labelled
- :mod:`~stance.annotation.select` — uncertainty, diverse (k-center on encoder embeddings) and random picks
- :mod:`~stance.annotation.labelstudio` — the labeling config, tasks with pre-annotations, reading exports
- :mod:`~stance.annotation.importer` — an export into training rows: majority labels, conflicts, counts
- :mod:`~stance.annotation.agreement` — Krippendorff's alpha, Fleiss' and Cohen's kappa

Merging the imported rows into training data is :mod:`stance.data.merge` (``stance data merge``).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Agreement": "agreement",
    "measure": "agreement",
    "ImportResult": "importer",
    "import_export": "importer",
    "labeling_config": "labelstudio",
    "read_export": "labelstudio",
    "to_tasks": "labelstudio",
    "Candidate": "pool",
    "Pool": "pool",
    "build_pool": "pool",
    "read_articles": "pool",
    "read_labelled": "pool",
    "read_pool": "pool",
    "Selection": "select",
    "choose": "select",
    "select": "select",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:  # the pool and the selection load torch: only on first use
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'stance.annotation' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
