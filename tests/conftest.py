"""Shared fixtures: a tiny model trained once per session from configs/tiny.yaml (seconds on a CPU)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never touch the network
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# precision="auto" (the inference default) means float32 in every process the tests start, whatever the CPU:
# results must not depend on whether the machine has AMX (the auto rule has its own tests)
os.environ["STANCE_PRECISION"] = "float32"

ROOT = Path(__file__).resolve().parents[1]
TINY_CONFIG = ROOT / "configs" / "tiny.yaml"
TINY_DATA = ROOT / "tests" / "data"


@pytest.fixture(autouse=True)
def _run_from_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Config paths are relative to the working directory, as for a user in the repository."""
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="session")
def tiny_config():
    from stance.config import load_config

    return load_config(TINY_CONFIG)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory):
    """A finished `stance train configs/tiny.yaml` run (the TrainResult); shared, do not modify its files."""
    from stance.config import load_config
    from stance.training.workflow import train_and_report

    os.chdir(ROOT)
    output = tmp_path_factory.mktemp("tiny") / "run"
    return train_and_report(load_config(TINY_CONFIG), output)


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_run) -> Path:
    """The `model/` folder of :func:`tiny_run`: a standard Hugging Face model folder."""
    return tiny_run.model_dir


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def stance_log():
    """The ``stance`` logger's records, whether or not the CLI has turned its propagation off."""
    logger = logging.getLogger("stance")
    level, handler = logger.level, _Records()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)
