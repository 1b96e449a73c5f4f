"""Per-article results kept between runs, so a grown or edited collection classifies only what is new.

One SQLite file, ``DIR/cache/articles.sqlite``: a row per article holding its sentence probabilities (exact
float32 bytes, so a reused article counts exactly as when it was classified), keyed by the sha256 of the
model's fingerprint, the target, how the text was split, and the text itself. Anything else about an
article (its source, date, id) may change without a new classification; a changed text is a new key. The
verdict is recomputed from the probabilities on every run, so the aggregation rule may change freely.

The model fingerprint is the sha256 of the model folder's files that decide its outputs (config, weights,
tokenizer files: every top-level file but the card, metrics and error matrix), the token limit and the
backend (float32, bfloat16, int8 or ONNX give slightly different probabilities).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..errors import StanceError
from ..labels import LABELS
from ..layout import CARD_FILE, ERROR_MATRIX_FILE, TRACK_CACHE_DIR, TRACK_CACHE_FILE, TRAIN_METRICS_FILE

NOT_MODEL = {CARD_FILE, ERROR_MATRIX_FILE, TRAIN_METRICS_FILE}  # files that do not change a prediction
BLOCK = 1 << 20


def model_fingerprint(model_dir: str | Path, *, backend: str, max_length: int) -> str:
    """sha256 over the model folder's prediction-relevant files (name and content), limit and backend."""
    folder = Path(model_dir)
    digest = hashlib.sha256(f"stance-track-1\x1f{backend}\x1f{max_length}".encode())
    files = sorted(
        p for p in folder.iterdir() if p.is_file() and p.name not in NOT_MODEL and not p.name.startswith(".")
    )
    if not files:
        raise StanceError(f"{folder}: no model files to fingerprint")
    for path in files:
        digest.update(b"\x1e" + path.name.encode("utf-8") + b"\x1f")
        with path.open("rb") as handle:
            while block := handle.read(BLOCK):
                digest.update(block)
    return digest.hexdigest()


def article_key(fingerprint: str, target: str, kind: str, parts: Iterable[str]) -> str:
    """The cache key of one article: model, target, how it was split (``kind``) and its text parts."""
    digest = hashlib.sha256(f"{fingerprint}\x1f{target}\x1f{kind}".encode())
    for part in parts:
        digest.update(b"\x1e" + part.encode("utf-8"))
    return digest.hexdigest()


class ArticleCache:
    """Sentence probabilities by article key; ``enabled=False`` (``--no-cache``) reads and keeps nothing."""

    def __init__(self, folder: str | Path, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.path = Path(folder) / TRACK_CACHE_DIR / TRACK_CACHE_FILE
        self.db: sqlite3.Connection | None = None
        self.pending: list[tuple[str, int, bytes]] = []
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path)
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS articles (key TEXT PRIMARY KEY, sentences INTEGER NOT NULL, "
                "probabilities BLOB NOT NULL)"
            )
            self.db.commit()
        except sqlite3.DatabaseError as exc:
            raise StanceError(f"{self.path}: not a usable cache ({exc}); delete it, or pass --no-cache") from exc

    def get(self, key: str) -> np.ndarray | None:
        if self.db is None:
            return None
        found = self.db.execute("SELECT sentences, probabilities FROM articles WHERE key = ?", (key,)).fetchone()
        if found is None:
            return None
        n, blob = found
        values = np.frombuffer(blob, dtype=np.float32)
        if values.size != n * len(LABELS):
            return None  # a damaged entry: classify again
        return values.reshape(n, len(LABELS))

    def put(self, key: str, probabilities: np.ndarray) -> None:
        if self.db is not None:
            values = np.ascontiguousarray(probabilities, dtype=np.float32)
            self.pending.append((key, len(values), values.tobytes()))

    def commit(self) -> None:
        if self.db is not None and self.pending:
            self.db.executemany("INSERT OR REPLACE INTO articles VALUES (?, ?, ?)", self.pending)
            self.db.commit()
            self.pending.clear()

    def close(self) -> None:
        if self.db is not None:
            self.commit()
            self.db.close()
            self.db = None
