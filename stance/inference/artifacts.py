"""Files derived from a trained model (an ONNX export, an OpenVINO graph), cached once per model.

An entry lives in ``<cache>/<kind>/<key>/`` (:func:`stance.layout.cache_root`: ``$STANCE_HOME``, default
``~/.cache/stance``), where ``key`` is a SHA-256 of the loaded weights (the tensors, byte for byte), the
model config and the exporter's format version: retraining a model into the same folder derives it
afresh, and nothing is ever written into the model folder. An entry is built in a staging folder beside it
and renamed into place when complete, so an interrupted export leaves nothing that a later run could
mistake for a finished one. Builders of one entry take turns through a lock file beside it
(``<key>.lock``, :mod:`filelock`): when several processes (Ray actors, parallel jobs) ask for the same
missing entry, one builds it and the others wait and then read it, instead of each exporting it again.
The lock files stay (a few bytes; deleting them would let two builders hold "the" lock at once).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from ..errors import StanceError
from ..layout import cache_root
from ..modeling.loading import TrainedModel

LOCK_TIMEOUT_S = 3600.0  # the longest a process waits for another one's build of the same entry


def weights_key(trained: TrainedModel, salt: str) -> str:
    """SHA-256 (32 hex digits) of ``salt``, the model's config and its weights (names, dtypes, shapes, bytes)."""
    import torch

    digest = hashlib.sha256(f"{salt}\n".encode())
    config = json.loads(trained.model.config.to_json_string())
    config.pop("transformers_version", None)
    digest.update(json.dumps(config, sort_keys=True).encode())
    for name, tensor in sorted(trained.model.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"\n{name}|{tensor.dtype}|{tuple(tensor.shape)}\n".encode())
        digest.update(tensor.view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:32]


def cached_artifact(
    kind: str,
    key: str,
    filename: str,
    build: Callable[[Path], dict[str, Any]],
    root: Path | None = None,
    label: str | None = None,
) -> Path:
    """``<cache>/<kind>/<key>/<filename>``, built first when missing: ``build(folder)`` writes ``filename``
    (and any side files) into an empty staging folder and returns what ``export.json`` records beside it.
    ``label`` names the cache in error messages (default ``kind``)."""
    folder = (root or cache_root()) / kind / key
    path = folder / filename
    if path.is_file():
        return path
    label = label or kind
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unwritable(folder.parent, label, exc) from exc
    lock = FileLock(str(folder.parent / f"{key}.lock"), timeout=LOCK_TIMEOUT_S)
    try:
        with lock:
            if not path.is_file():  # another process may have built it while this one waited
                _build(folder, path, build, label)
    except Timeout as exc:
        raise StanceError(
            f"{lock.lock_file}: another process has held the {label} cache lock for over {LOCK_TIMEOUT_S:.0f} s; "
            "if none is running, delete the lock file"
        ) from exc
    return path


def _build(folder: Path, path: Path, build: Callable[[Path], dict[str, Any]], label: str) -> None:
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    except OSError as exc:
        raise _unwritable(folder.parent, label, exc) from exc
    try:
        info = build(staging)
        (staging / "export.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        if folder.exists() and not path.is_file():  # a damaged entry (its main file deleted): replace it
            shutil.rmtree(folder, ignore_errors=True)
        try:
            staging.rename(folder)
        except OSError as exc:  # a process without the lock (an older stance) finished it first: keep theirs
            if not path.is_file():
                raise StanceError(f"{folder}: cannot write the {label} cache ({exc.strerror})") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _unwritable(folder: Path, label: str, exc: OSError) -> StanceError:
    reason = f"cannot write the {label} cache ({exc.strerror}); set STANCE_HOME to a writable folder"
    return StanceError(f"{folder}: {reason}")
