"""The optional OpenVINO backend (``backend="openvino"``, ``stance predict --openvino``)."""

from __future__ import annotations

import builtins
import logging

import numpy as np
import pytest

from stance import StanceClassifier
from stance.cli import main
from stance.errors import StanceError


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch) -> None:
    """Each test converts into its own cache (a conversion cached by another test would hide a failure)."""
    monkeypatch.setenv("STANCE_HOME", str(tmp_path / "cache"))


SENTENCES = [
    "Russia will deliver four Mi-35M helicopters to Pakistan this year",
    "Moscow denied any arms deal with Islamabad.",
    "The ministers discussed grain and gas.",
]


def test_openvino_at_float32_gives_the_torch_scores(tiny_model_dir) -> None:
    pytest.importorskip("openvino", reason="the OpenVINO backend is an optional extra: pip install 'stance[openvino]'")
    torch_clf = StanceClassifier.from_pretrained(tiny_model_dir, precision="float32")
    ov_clf = StanceClassifier.from_pretrained(tiny_model_dir, precision="float32", backend="openvino")
    assert ov_clf.backend == "openvino" and ov_clf.scorer.backend.describe() == "openvino-f32"
    expected, got = torch_clf.predict(SENTENCES * 10), ov_clf.predict(SENTENCES * 10)
    assert [p.label for p in got] == [p.label for p in expected]
    for a, b in zip(expected, got):
        assert np.allclose([a.scores[k] for k in a.scores], [b.scores[k] for k in a.scores], atol=1e-4)


def test_openvino_refuses_int8_and_names_the_extra_when_missing(tiny_model_dir, monkeypatch, capsys) -> None:
    with pytest.raises(StanceError, match="float32 or bf16"):
        StanceClassifier.from_pretrained(tiny_model_dir, precision="int8", backend="openvino")
    real_import = builtins.__import__

    def no_openvino(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and (name == "openvino" or name.startswith("openvino.")):  # not stance's own .openvino
            raise ImportError(name)
        return real_import(name, globals, locals, fromlist, level)

    monkeypatch.setattr(builtins, "__import__", no_openvino)
    assert main(["predict", str(tiny_model_dir), "--text", SENTENCES[0], "--openvino"]) == 2
    assert "pip install 'stance[openvino]'" in capsys.readouterr().err


def test_a_failed_conversion_falls_back_to_torch_with_one_warning(tiny_model_dir, monkeypatch, caplog) -> None:
    pytest.importorskip("openvino", reason="the OpenVINO backend is an optional extra: pip install 'stance[openvino]'")
    import openvino

    def fail(*args, **kwargs):
        raise RuntimeError("unsupported operation aten::boom\nmore detail")

    monkeypatch.setattr(openvino, "convert_model", fail)
    logger = logging.getLogger("stance")
    logger.addHandler(caplog.handler)
    try:
        clf = StanceClassifier.from_pretrained(tiny_model_dir, precision="float32", backend="openvino")
    finally:
        logger.removeHandler(caplog.handler)
    assert clf.backend == "torch"
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "OpenVINO could not convert" in warned[0] and "aten::boom" in warned[0]
    assert [p.label for p in clf.predict(SENTENCES)]
