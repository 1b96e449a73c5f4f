"""The derived-artifact cache (stance.inference.artifacts): built once, atomically, even when asked at once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from stance.errors import StanceError
from stance.inference.artifacts import cached_artifact


def _builder(calls: list[int], delay: float = 0.0):
    def build(folder: Path) -> dict:
        calls.append(1)
        time.sleep(delay)
        (folder / "model.bin").write_bytes(b"weights")
        return {"format": 1}

    return build


def test_concurrent_requests_build_once(tmp_path: Path) -> None:
    calls: list[int] = []
    results: list[Path] = []
    build = _builder(calls, delay=0.3)
    threads = [
        threading.Thread(target=lambda: results.append(cached_artifact("kind", "k1", "model.bin", build, tmp_path)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1, "the waiting requests must read the first one's build, not export again"
    assert len(set(results)) == 1 and len(results) == 4
    entry = results[0].parent
    assert (entry / "model.bin").read_bytes() == b"weights" and (entry / "export.json").is_file()
    assert sorted(p.name for p in (tmp_path / "kind").iterdir() if p.name.startswith(".")) == []  # no staging left


def test_failed_build_leaves_nothing_and_the_next_call_builds(tmp_path: Path) -> None:
    def broken(folder: Path) -> dict:
        (folder / "model.bin").write_bytes(b"half")
        raise RuntimeError("export crashed")

    with pytest.raises(RuntimeError, match="export crashed"):
        cached_artifact("kind", "k2", "model.bin", broken, tmp_path)
    assert not (tmp_path / "kind" / "k2").exists()
    assert [p for p in (tmp_path / "kind").iterdir() if p.is_dir()] == []
    calls: list[int] = []
    path = cached_artifact("kind", "k2", "model.bin", _builder(calls), tmp_path)
    assert calls == [1] and path.read_bytes() == b"weights"
    assert cached_artifact("kind", "k2", "model.bin", _builder(calls), tmp_path) == path and calls == [1]


def test_damaged_entry_is_rebuilt(tmp_path: Path) -> None:
    calls: list[int] = []
    path = cached_artifact("kind", "k3", "model.bin", _builder(calls), tmp_path)
    path.unlink()  # the main file gone, side files left: not a finished entry
    assert cached_artifact("kind", "k3", "model.bin", _builder(calls), tmp_path) == path
    assert calls == [1, 1] and path.read_bytes() == b"weights"


def test_unwritable_cache_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StanceError, match="cannot write the ONNX cache.*STANCE_HOME"):
        cached_artifact("onnx", "k4", "model.onnx", _builder([]), blocker, label="ONNX")
