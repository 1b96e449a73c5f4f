"""Progress goes through the ``stance`` logger; this module sets it up and quiets the libraries below us.

Library code logs with ``logging.getLogger(__name__)`` and configures nothing; the CLI and the scripts call
:func:`configure` once (``--quiet``: warnings only, default: progress, ``--verbose``: debug detail). Lines
go through ``tqdm.write`` so they never tear the one progress bar a long job shows.
:func:`quiet_libraries` silences what transformers, datasets and huggingface_hub print that helps no
stance user (weight-loading reports for the freshly initialised head, shard-writing bars, tokenizer length
warnings: stance reports truncation itself).
"""

from __future__ import annotations

import logging
import sys

LOGGER = "stance"
LEVELS = {-1: logging.WARNING, 0: logging.INFO, 1: logging.DEBUG}


class _TqdmHandler(logging.Handler):
    """Writes to the current ``sys.stderr`` (looked up at each record) through ``tqdm.write``."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm.auto import tqdm

            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


def configure(verbosity: int = 0) -> logging.Logger:
    """Send the ``stance`` logger to stderr at the level of ``verbosity`` (-1 quiet, 0 normal, 1 verbose)."""
    logger = logging.getLogger(LOGGER)
    for handler in list(logger.handlers):
        if isinstance(handler, _TqdmHandler):
            logger.removeHandler(handler)
    handler = _TqdmHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(LEVELS[max(-1, min(1, verbosity))])
    logger.propagate = False
    quiet_libraries(verbose=verbosity > 0)
    return logger


def progress_enabled() -> bool:
    """Whether long jobs should draw a progress bar: when the stance logger shows progress (INFO)."""
    return logging.getLogger(LOGGER).isEnabledFor(logging.INFO)


def quiet_libraries(verbose: bool = False) -> None:
    """Errors only from transformers, datasets and huggingface_hub, and none of their progress bars."""
    import datasets
    import transformers
    from huggingface_hub.utils import disable_progress_bars

    transformers.utils.logging.set_verbosity_info() if verbose else transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    datasets.utils.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    disable_progress_bars()
