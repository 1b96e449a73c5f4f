"""The coverage stage: who says what, across outlets and over time (``stance track``).

Downstream of :mod:`stance.inference`, :mod:`stance.evaluation` and :mod:`stance.training` (whose
:func:`~stance.training.workflow.store_error_matrix` stores the held-out error matrix of
:mod:`~stance.evaluation.error_matrix`, which ``track`` reads):
:mod:`~stance.coverage.collection` reads and groups a collection of articles, streamed;
:mod:`~stance.coverage.aggregate` sums verdicts and sentence labels per source x period, with intervals and
the error-adjusted prevalence; :mod:`~stance.coverage.cache` keeps per-article results between runs;
:mod:`~stance.coverage.plots` and :mod:`~stance.coverage.report` write the figures and pages;
:mod:`~stance.coverage.tracking` holds the entry function, ``stance.coverage.track``, and
:mod:`~stance.coverage.article_stage` its pass over the articles (on Ray with ``engine="ray"``:
:mod:`~stance.coverage.distributed`, sized by ``RayOptions``);
:mod:`~stance.coverage.scoring` measures how close the summed-up shares come to the gold ones on
out-of-fold predictions. Loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {  # name: the module that defines it, relative to this package
    "track": ".tracking",
    "TrackResult": ".tracking",
    "RayOptions": ".tracking",
    "CollectionColumns": ".collection",
    "ErrorMatrix": "..evaluation.error_matrix",  # defined upstream, where training writes it
    "read_error_matrix": "..evaluation.error_matrix",
    "score_out_of_fold": ".scoring",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'stance.coverage' has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
