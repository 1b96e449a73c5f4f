"""``backend="auto"`` (the default): OpenVINO on a CPU with native bfloat16 where it is installed, PyTorch
elsewhere; the converted graph is cached once per model (stance.inference.backends, .artifacts)."""

from __future__ import annotations

import pytest

from stance import StanceClassifier
from stance.cli import main
from stance.errors import StanceError
from stance.inference import backends, precision
from stance.inference.cluster import ModelOptions, check_options, worker_options

SENTENCES = ["Russia will deliver four Mi-35M helicopters to Pakistan.", "Moscow denied any arms deal."]
needs_openvino = pytest.mark.skipif(not backends.openvino_installed(), reason="OpenVINO is not installed")


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("STANCE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(backends.ENVIRONMENT, raising=False)


def test_auto_is_torch_where_the_precision_is_float32_or_int8(tiny_model_dir) -> None:
    # the suite pins STANCE_PRECISION=float32: what auto means on a CPU without native bfloat16
    assert backends.auto_backend("auto") == ("torch", "precision float32")
    assert backends.auto_backend("float32")[0] == "torch"
    assert backends.auto_backend("int8")[0] == "torch"
    assert StanceClassifier.from_pretrained(tiny_model_dir).backend == "torch"


@needs_openvino
def test_auto_is_openvino_at_bf16_on_a_cpu_that_computes_it(tiny_model_dir, monkeypatch, stance_log) -> None:
    monkeypatch.delenv("STANCE_PRECISION")  # the suite's float32 pin lifted ...
    monkeypatch.setattr(precision, "cpu_has_fast_bf16", lambda: True)  # ... on a CPU with AMX
    monkeypatch.setattr(precision, "_announced", set())
    monkeypatch.setattr(backends, "_announced", set())
    assert backends.auto_backend("auto")[0] == "openvino"
    clf = StanceClassifier.from_pretrained(tiny_model_dir)
    # OpenVINO computes bf16 where the CPU does (the hint is ignored elsewhere: this test runs on any CPU)
    assert clf.backend == "openvino" and clf.scorer.backend.describe() in ("openvino-bf16", "openvino-f32")
    assert [r.getMessage() for r in stance_log.records if r.getMessage().startswith("backend auto")] == [
        "backend auto: OpenVINO (the CPU computes bfloat16 natively and OpenVINO is installed)"
    ]
    assert [p.label for p in clf.predict(SENTENCES)]
    # asked for explicitly, float32 stays on PyTorch even there
    assert StanceClassifier.from_pretrained(tiny_model_dir, precision="float32").backend == "torch"


def test_auto_without_openvino_or_native_bf16_is_torch(monkeypatch) -> None:
    monkeypatch.delenv("STANCE_PRECISION")
    monkeypatch.setattr(precision, "cpu_has_fast_bf16", lambda: True)
    monkeypatch.setattr(backends, "openvino_installed", lambda: False)
    chosen, why = backends.auto_backend("auto")
    assert chosen == "torch" and "not installed" in why
    monkeypatch.setattr(precision, "cpu_has_fast_bf16", lambda: False)
    monkeypatch.setattr(backends, "openvino_installed", lambda: True)
    assert backends.auto_backend("auto") == ("torch", "precision float32")
    assert backends.auto_backend("bf16")[0] == "torch"  # emulated bf16: OpenVINO would compute float32


def test_the_environment_pins_auto_and_a_bad_value_is_one_error(tiny_model_dir, monkeypatch, capsys) -> None:
    monkeypatch.setenv(backends.ENVIRONMENT, "torch")
    monkeypatch.setenv("STANCE_PRECISION", "bf16")
    assert backends.auto_backend("auto") == ("torch", "STANCE_BACKEND=torch")
    monkeypatch.setenv(backends.ENVIRONMENT, "tpu")
    with pytest.raises(StanceError, match="STANCE_BACKEND='tpu'"):
        backends.resolve_backend("auto")
    assert main(["predict", str(tiny_model_dir), "--text", SENTENCES[0]]) == 2
    assert "STANCE_BACKEND='tpu'" in capsys.readouterr().err
    with pytest.raises(StanceError, match="unknown backend 'tpu'"):
        StanceClassifier.from_pretrained(tiny_model_dir, backend="tpu")


def test_cli_backend_option_and_its_aliases(tiny_model_dir, capsys) -> None:
    assert main(["predict", str(tiny_model_dir), "--text", *SENTENCES, "--backend", "torch", "--format", "jsonl"]) == 0
    torch_rows = capsys.readouterr().out
    assert main(["predict", str(tiny_model_dir), "--text", *SENTENCES, "--format", "jsonl"]) == 0
    assert capsys.readouterr().out == torch_rows  # auto is torch at float32 here
    with pytest.raises(SystemExit):
        main(["predict", str(tiny_model_dir), "--text", "x", "--backend", "tpu"])
    assert main(["predict", str(tiny_model_dir), "--text", "x", "--backend", "onnx", "--bf16"]) == 2
    assert "full precision" in capsys.readouterr().err


@needs_openvino
def test_the_converted_graph_is_cached_and_reused(tiny_model_dir, tmp_path, monkeypatch) -> None:
    import openvino

    first = StanceClassifier.from_pretrained(tiny_model_dir, backend="openvino", precision="float32")
    cached = list((tmp_path / "cache" / "openvino").glob("*/model.xml"))
    assert len(cached) == 1 and cached[0].with_suffix(".bin").is_file()
    assert (cached[0].parent / "export.json").is_file()
    monkeypatch.setattr(openvino, "convert_model", lambda *a, **k: pytest.fail("the cached graph was not reused"))
    again = StanceClassifier.from_pretrained(tiny_model_dir, backend="openvino", precision="float32")
    assert again.scorer.backend.path == cached[0]
    assert [p.scores for p in again.predict(SENTENCES)] == [p.scores for p in first.predict(SENTENCES)]


@needs_openvino
def test_an_interrupted_conversion_leaves_nothing_in_the_cache(tiny_model_dir, tmp_path, monkeypatch) -> None:
    import openvino

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(openvino, "save_model", interrupted)
    with pytest.raises(KeyboardInterrupt):
        StanceClassifier.from_pretrained(tiny_model_dir, backend="openvino")
    left = [p.name for p in (tmp_path / "cache" / "openvino").iterdir()]
    assert all(name.endswith(".lock") for name in left)  # no entry, no staging folder: only the builders' lock
    monkeypatch.undo()
    monkeypatch.setenv("STANCE_HOME", str(tmp_path / "cache"))
    assert StanceClassifier.from_pretrained(tiny_model_dir, backend="openvino").backend == "openvino"


def test_gpu_workers_run_auto_on_torch_and_refuse_cpu_runtimes() -> None:
    assert worker_options(ModelOptions(), 1.0).backend == "torch"
    assert worker_options(ModelOptions(), 0.0).backend == "auto"
    for options in (ModelOptions(backend="openvino"), ModelOptions(backend="onnx"), ModelOptions(precision="int8")):
        with pytest.raises(StanceError, match="run on CPUs"):
            check_options(options, 1.0)
