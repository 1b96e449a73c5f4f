"""precision="auto" (the inference default): the rule, its probe, its aliases, and that it keeps the labels."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from stance.cli import main
from stance.errors import StanceError
from stance.inference import precision

SENTENCES = ["Russia will deliver four Mi-35M helicopters to Pakistan this year", "Moscow denied any arms deal."]


@pytest.fixture
def cpu(monkeypatch: pytest.MonkeyPatch):
    """Set what the CPU probe says (``cpu(True)``: AMX/AVX512-BF16), with the test suite's pin lifted; the
    backend stays PyTorch (on such a CPU ``backend="auto"`` is OpenVINO: tests/test_backends.py)."""
    monkeypatch.delenv(precision.ENVIRONMENT, raising=False)
    monkeypatch.setenv("STANCE_BACKEND", "torch")
    monkeypatch.setattr(precision, "_announced", set())

    def say(fast: bool) -> None:
        monkeypatch.setattr(precision, "cpu_has_fast_bf16", lambda: fast)

    return say


def test_auto_is_bf16_only_where_the_cpu_computes_it_natively(cpu, tiny_model_dir, stance_log):
    from stance import StanceClassifier
    from stance.inference.scorer import TorchBackend

    cpu(True)
    assert precision.auto_precision("cpu")[0] == "bf16"
    clf = StanceClassifier.from_pretrained(tiny_model_dir)  # the default is auto
    assert clf.scorer.backend.precision == "bf16" and "bfloat16" in repr(clf)
    clf.predict(SENTENCES)
    StanceClassifier.from_pretrained(tiny_model_dir).predict(SENTENCES)
    chosen = [r.getMessage() for r in stance_log.records if r.getMessage().startswith("precision auto")]
    assert len(chosen) == 1 and chosen[0].startswith("precision auto: bfloat16 on cpu (the CPU has")  # once

    cpu(False)
    assert precision.auto_precision("cpu")[0] == "float32"
    backend = TorchBackend(clf.trained, "auto")
    assert backend.precision == "float32" and backend.describe() == "float32"
    assert precision.auto_precision("mps")[0] == "float32"  # no rule: the safe choice
    explicit = StanceClassifier.from_pretrained(tiny_model_dir, precision="bf16")
    assert explicit.scorer.backend.precision == "bf16"  # an explicit choice is not second-guessed


def test_auto_on_cuda_follows_the_gpu(cpu, monkeypatch):
    import torch

    cpu(False)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert precision.auto_precision(torch.device("cuda", 0))[0] == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert precision.auto_precision("cuda:1")[0] == "float32"


def test_the_environment_pins_auto(cpu, monkeypatch):
    cpu(False)
    monkeypatch.setenv(precision.ENVIRONMENT, "bf16")
    assert precision.auto_precision("cpu") == ("bf16", "STANCE_PRECISION=bf16")
    assert precision.resolve("float32") == "float32"  # only auto is pinned
    monkeypatch.setenv(precision.ENVIRONMENT, "fp8")
    with pytest.raises(StanceError, match="STANCE_PRECISION='fp8'"):
        precision.resolve("auto")


def test_probe_reads_torch_capabilities_else_proc_cpuinfo(monkeypatch, tmp_path):
    import torch

    precision.cpu_bf16_features.cache_clear()
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {"amx_bf16": True}, raising=False)
    assert precision.cpu_bf16_features() == ("amx_bf16",) and precision.cpu_has_fast_bf16()
    precision.cpu_bf16_features.cache_clear()
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {"avx512_f": True}, raising=False)
    assert not precision.cpu_has_fast_bf16()
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    monkeypatch.setattr(precision, "CPUINFO", info)
    monkeypatch.delattr(torch.cpu, "get_capabilities")  # a torch too old to have it
    precision.cpu_bf16_features.cache_clear()
    try:
        assert precision.cpu_bf16_features() == ("avx512_bf16",)
        assert precision.cpuinfo_flags(tmp_path / "missing") == set()
    finally:
        precision.cpu_bf16_features.cache_clear()


def test_keywords_are_aliases_and_contradictions_are_errors(tiny_model_dir):
    from stance import StanceClassifier

    assert precision.requested("auto", bf16=True) == precision.requested("bf16") == "bf16"
    assert precision.requested("auto", quantize="ffn") == precision.requested("int8", quantize=True) == "int8"
    with pytest.raises(StanceError, match="contradicts bf16=True"):
        StanceClassifier.from_pretrained(tiny_model_dir, precision="float32", bf16=True)
    with pytest.raises(StanceError, match="unknown precision 'fp16'"):
        StanceClassifier.from_pretrained(tiny_model_dir, precision="fp16")
    with pytest.raises(StanceError, match="not both"):
        StanceClassifier.from_pretrained(tiny_model_dir, quantize=True, bf16=True)
    with pytest.raises(StanceError, match="full precision"):
        StanceClassifier.from_pretrained(tiny_model_dir, precision="bf16", backend="onnx")
    q = StanceClassifier.from_pretrained(tiny_model_dir, precision="int8")
    assert "int8 (encoder)" in repr(q)


@pytest.mark.filterwarnings("ignore:.*exceed the model's limit")
def test_auto_on_a_bf16_cpu_keeps_the_float32_labels(cpu, tiny_model_dir):
    from stance import StanceClassifier

    cpu(True)
    texts = [json.loads(line)["text"] for line in Path("data/test.jsonl").read_text("utf-8").splitlines()]
    full = StanceClassifier.from_pretrained(tiny_model_dir, precision="float32").predict_proba(texts)
    auto = StanceClassifier.from_pretrained(tiny_model_dir).predict_proba(texts)
    assert (full.argmax(1) == auto.argmax(1)).mean() >= 0.97 and np.abs(full - auto).max() < 0.05


def test_cli_precision_flag_aliases_and_log_line(cpu, tiny_model_dir, capsys):
    cpu(False)
    base = ["predict", str(tiny_model_dir), "--text", *SENTENCES, "--format", "jsonl"]
    assert main(base) == 0
    out = capsys.readouterr()
    assert "precision auto: float32 on cpu" in out.err
    auto = [json.loads(line) for line in out.out.splitlines()]
    for flags in (["--precision", "float32"], ["--precision", "bf16"], ["--bf16"], ["--quantize"]):
        assert main([*base, *flags]) == 0, flags
        got = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert len(got) == len(auto) and all(r["label"] for r in got)
        if flags == ["--precision", "float32"]:
            assert got == auto
    with pytest.raises(SystemExit):  # one precision flag at a time
        main([*base, "--bf16", "--precision", "int8"])


def test_failed_onnx_export_falls_back_to_torch_with_one_warning(tiny_model_dir, tmp_path, monkeypatch, stance_log):
    pytest.importorskip("onnxruntime", reason="the ONNX backend is an optional extra: pip install 'stance[onnx]'")
    from stance import StanceClassifier
    from stance.inference import onnx as onnx_backend

    def fail(trained, path):
        raise onnx_backend.ExportError(f"{trained.source}: could not export the model to ONNX (boom)")

    monkeypatch.setenv("STANCE_HOME", str(tmp_path))  # an empty cache: the export is attempted
    monkeypatch.setattr(onnx_backend, "export_onnx", fail)
    clf = StanceClassifier.from_pretrained(tiny_model_dir, backend="onnx")
    assert clf.backend == "torch" and clf.scorer.backend.describe() == "float32"
    warned = [r for r in stance_log.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "could not export" in warned[0].getMessage() and "PyTorch" in warned[0].getMessage()
    assert [p.label for p in clf.predict(SENTENCES)]
