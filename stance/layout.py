"""The one owner of file names: what a run folder and a model folder hold, and where caches live.

A ``stance train`` run folder (``DIR``)::

    DIR/model/               a standard Hugging Face model folder (see below)
    DIR/checkpoints/         rotating Trainer checkpoints, what ``--resume`` continues from
    DIR/config.yaml          the resolved config (every field, overrides applied)
    DIR/train_log.jsonl      one JSON object per logging step and per evaluation
    DIR/train_metrics.json   final dev metrics, label counts, timings, library versions
    DIR/report/              the evaluation report of the test split (``stance evaluate``'s files)

A model folder adds to the usual ``config.json``, safetensors weights and tokenizer files:
``stance_config.yaml`` (the resolved config), ``train_metrics.json`` and, once evaluated,
``stance_error_matrix.json`` (the held-out confusion matrix, for prevalence estimates that correct for the
classifier's errors).

A ``stance track`` folder (``DIR``)::

    DIR/articles.jsonl       one line per article: id, source, date, verdict, sentence counts, deciding sentences
    DIR/summary.csv          one row per source x period: verdict shares, raw and adjusted sentence prevalence
    DIR/summary.json         the same rows, with the run's settings, counts and notes
    DIR/*.png                the figures (see TRACK_FIGURES); DIR/report.html and DIR/report.md show them
    DIR/cache/articles.sqlite  sentence probabilities per article, reused by the next run

Output folders and files are claimed through :func:`claim_output_dir` and written
through :func:`atomic_write_text`, so a refused or failed run never leaves half a folder behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .errors import StanceError

# run folder
MODEL_DIR = "model"
CHECKPOINT_DIR = "checkpoints"
REPORT_DIR = "report"
RUN_CONFIG_FILE = "config.yaml"
TRAIN_LOG_FILE = "train_log.jsonl"
TRAIN_METRICS_FILE = "train_metrics.json"
# model folder
HF_CONFIG_FILE = "config.json"
MODEL_CONFIG_FILE = "stance_config.yaml"
ERROR_MATRIX_FILE = "stance_error_matrix.json"
CARD_FILE = "README.md"
# evaluation report folder
METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.jsonl"
REPORT_HTML = "report.html"
REPORT_MARKDOWN = "report.md"
# cross-validation folder
CV_METRICS_FILE = "cv_metrics.json"
CV_REPORT_FILE = "cv_report.md"
CHECKPOINT_TIMER_FILE = "stance_elapsed.json"  # inside a checkpoint: training seconds so far
# cache (under cache_root())
MODELS_DIR = "models"  # named base models fetched by stance.modeling.registry
MANIFEST_FILE = "stance_manifest.json"  # inside a cached model folder: written last, read first
# tracking folder (stance track); report.html and report.md as above
TRACK_ARTICLES_FILE = "articles.jsonl"
TRACK_SUMMARY_CSV = "summary.csv"
TRACK_SUMMARY_JSON = "summary.json"
TRACK_CACHE_DIR = "cache"
TRACK_CACHE_FILE = "articles.sqlite"
TRACK_FIGURES = {
    "shares": "shares_over_time.png",
    "heatmap": "source_stance_heatmap.png",
    "counts": "articles_over_time.png",
    "prevalence": "sentence_prevalence.png",
}


def cache_root() -> Path:
    """Where stance keeps what it downloads or derives: ``$STANCE_HOME``, else ``$XDG_CACHE_HOME/stance``
    or ``~/.cache/stance``. ``$STANCE_CACHE`` is accepted as an older name of ``$STANCE_HOME``."""
    for name in ("STANCE_HOME", "STANCE_CACHE"):
        if os.environ.get(name):
            return Path(os.environ[name]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "stance"


def claim_output_dir(
    path: str | Path, *, overwrite: bool = False, resume: bool = False, hint: str = "pass --overwrite to replace it"
) -> Path:
    """Make ``path`` the output folder: refused when it exists with files, unless ``overwrite`` (it is
    emptied) or ``resume`` (it is kept). Returns the path, created."""
    path = Path(path)
    if resume and overwrite:
        raise StanceError("--resume and --overwrite exclude each other")
    if path.exists() and not path.is_dir():
        raise StanceError(f"{path}: exists and is not a folder")
    if path.is_dir() and any(path.iterdir()):
        if overwrite:
            shutil.rmtree(path)
        elif not resume:
            raise StanceError(f"{path}: output folder already exists; {hint}")
    path.mkdir(parents=True, exist_ok=True)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder, renamed when complete."""
    path = Path(path)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path
