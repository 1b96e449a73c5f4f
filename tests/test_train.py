from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from stance.config import load_config
from stance.errors import StanceError
from stance.labels import LABELS
from stance.training.losses import class_weights
from stance.training.trainer import train

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "tiny.yaml"


def test_output_folder_layout(tiny_run) -> None:
    out = tiny_run.output_dir
    for name in (
        "config.yaml",
        "train_log.jsonl",
        "train_metrics.json",
        "model/config.json",
        "model/model.safetensors",
        "model/tokenizer.json",
        "model/stance_config.yaml",
    ):
        assert (out / name).is_file(), name
    assert not list((out / "model").glob("*.bin")), "no pickled files in the model folder"
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["id2label"] == {"0": "supportive", "1": "denying", "2": "neutral"}
    assert config["stance_default_target"].startswith("Russia supplies")
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert sorted({round(r["epoch"]) for r in log if "eval_macro_f1" in r}) == [1, 2, 3]  # per-epoch evaluations
    assert load_config(out / "config.yaml") == load_config(TINY)  # the resolved config round-trips


def test_pipeline_returns_the_three_label_names(tiny_model_dir: Path) -> None:
    from transformers import pipeline

    classify = pipeline("text-classification", model=str(tiny_model_dir), top_k=None)
    scores = classify({"text": "Russia supplies arms to Pakistan.", "text_pair": "Moscow sold helicopters."})
    assert sorted(s["label"] for s in scores) == sorted(LABELS)
    assert abs(sum(s["score"] for s in scores) - 1.0) < 1e-4


def test_existing_output_is_refused_and_untouched(tiny_run, tiny_config) -> None:
    before = sorted(p.name for p in tiny_run.output_dir.iterdir())
    with pytest.raises(StanceError, match="already exists; pass --resume .* or --overwrite"):
        train(tiny_config, tiny_run.output_dir)
    assert sorted(p.name for p in tiny_run.output_dir.iterdir()) == before


def test_class_weights_are_inverse_frequency() -> None:
    weights = class_weights(["supportive"] * 6 + ["denying"] * 2 + ["neutral"] * 2)
    assert weights[1] == pytest.approx(weights[2])
    assert weights[1] / weights[0] == pytest.approx(3.0)
    assert float(weights.mean()) == pytest.approx(1.0)


def test_class_weights_change_the_loss(tiny_config, tmp_path: Path) -> None:
    from stance.training.losses import PairLoss

    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 2.0], [0.0, 1.0, 0.0]])
    labels = torch.tensor([1, 1, 0])
    plain = float(PairLoss(None, 0.0)({"logits": logits}, labels))
    assert float(PairLoss(torch.tensor([1.0, 1.0, 1.0]), 0.0)({"logits": logits}, labels)) == pytest.approx(plain)
    per_row = torch.nn.functional.cross_entropy(logits, labels, reduction="none")
    skewed = float(PairLoss(torch.tensor([1.0, 3.0, 1.0]), 0.0)({"logits": logits}, labels))
    assert skewed == pytest.approx(float((3 * per_row[0] + 3 * per_row[1] + per_row[2]) / 3))
    assert skewed > plain * 1.5  # the rare class's errors now weigh three times as much
    smoothed = PairLoss(None, 0.2)({"logits": logits}, labels)
    assert float(smoothed) != pytest.approx(plain)


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stance", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )


def test_cli_user_errors_exit_non_zero_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("training:\n  epoch: 3\n")
    result = _cli("train", str(bad), "--output", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "training.epoch: unknown key" in result.stderr and "Traceback" not in result.stderr
    result = _cli("train", str(TINY), "--output", str(tmp_path / "out"), "--set", "data.train=missing.jsonl")
    assert result.returncode == 2 and "missing.jsonl: file not found" in result.stderr
    result = _cli(
        "train",
        str(TINY),
        "--output",
        str(tmp_path / "out"),
        "--set",
        "model.init=pretrained",
        "--set",
        "model.base=./no/such/model",
    )
    assert result.returncode == 2 and "model folder" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "model").exists()


@pytest.mark.slow
def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path: Path) -> None:
    overrides = ["--set", "training.epochs=40", "--set", "training.save_total_limit=3"]
    reference = tmp_path / "reference"
    assert _cli("train", str(TINY), "--output", str(reference), *overrides).returncode == 0

    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "stance", "train", str(TINY), "--output", str(killed), *overrides],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        states = list((killed / "checkpoints").glob("checkpoint-*/trainer_state.json"))
        if len(states) >= 2:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (killed / "model").exists()

    resumed = _cli("train", str(TINY), "--output", str(killed), "--resume", *overrides)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    found = re.search(r"resuming from (\S+) \(step (\d+), (\d+) s of training so far\)", resumed.stderr)
    assert found and Path(found.group(1)).name == f"checkpoint-{found.group(2)}", resumed.stderr[-2000:]
    records = [json.loads(line) for line in (killed / "train_log.jsonl").read_text().splitlines()]
    logged = [(r["step"], "eval_loss" in r, "train_runtime" in r) for r in records]
    assert len(logged) == len(set(logged)), "a step logged twice after resuming"
    assert logged == [
        (r["step"], "eval_loss" in r, "train_runtime" in r)
        for r in map(json.loads, (reference / "train_log.jsonl").read_text().splitlines())
    ]
    assert json.loads((killed / "train_metrics.json").read_text())["train_seconds"] >= int(found.group(3))
    expected = json.loads((reference / "train_metrics.json").read_text())["dev"]
    got = json.loads((killed / "train_metrics.json").read_text())["dev"]
    for key in ("accuracy", "macro_f1", "loss"):
        assert got[key] == pytest.approx(expected[key], abs=1e-6), key


@pytest.mark.slow
def test_same_command_runs_under_torchrun_ddp(tmp_path: Path) -> None:
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    out = tmp_path / "ddp"
    result = subprocess.run(
        [torchrun, "--standalone", "--nproc_per_node", "2", "-m", "stance", "train", str(TINY), "--output", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "train_metrics.json").read_text())
    assert metrics["world_size"] == 2
    assert (out / "model" / "model.safetensors").is_file()


def test_target_swap_adds_neutral_pairs_with_another_claim() -> None:
    from datasets import Dataset

    from stance.data.augment import target_swap

    ds = Dataset.from_dict(
        {
            "id": ["a", "b", "c", "d"],
            "text": ["w", "x", "y", "z"],
            "target": ["T1", "T1", "T2", "T3"],
            "group": ["g1", "g1", "g2", "g3"],
            "label": ["supportive", "denying", "neutral", "supportive"],
        }
    )
    out = target_swap(ds, 0.5, seed=0)
    assert len(out) == 6 and out.select(range(4)).to_dict() == ds.to_dict()
    added = out.select(range(4, 6))
    assert set(added["label"]) == {"neutral"}
    originals = dict(zip(ds["id"], ds["target"]))
    for row_id, target in zip(added["id"], added["target"]):
        assert row_id.endswith("#swap") and target != originals[row_id.removesuffix("#swap")]
    single = ds.map(lambda row: {"target": "T1"})
    assert len(target_swap(single, 0.5, seed=0)) == 4  # one claim only: nothing to swap with


def test_layer_decay_gives_lower_layers_smaller_learning_rates(tiny_config) -> None:
    from stance.modeling import build
    from stance.training.optimizers import layerwise_optimizer

    model, _ = build(tiny_config.model, "claim", ["some words for a vocabulary"], seed=0)
    optimizer = layerwise_optimizer(model, 1e-3, 0.5, 0.01)
    rates = {}
    for group in optimizer.param_groups:
        for param in group["params"]:
            rates[id(param)] = group["lr"]
    named = dict(model.named_parameters())
    embeddings = rates[id(named["bert.embeddings.word_embeddings.weight"])]
    layer0 = rates[id(named["bert.encoder.layer.0.attention.self.query.weight"])]
    layer1 = rates[id(named["bert.encoder.layer.1.attention.self.query.weight"])]
    head = rates[id(named["classifier.weight"])]
    assert head == pytest.approx(1e-3)
    assert layer1 == pytest.approx(5e-4) and layer0 == pytest.approx(2.5e-4)
    assert embeddings == pytest.approx(1.25e-4)
    no_decay = [g for g in optimizer.param_groups if g["weight_decay"] == 0.0]
    assert any(id(named["classifier.bias"]) in map(id, g["params"]) for g in no_decay)


def test_training_without_dev_keeps_last_epoch(tiny_config, tmp_path: Path) -> None:
    from stance.config import replace

    config = replace(tiny_config, data={"dev": None, "dev_fraction": 0.0, "test": None}, training={"layer_decay": 0.9})
    result = train(config, tmp_path / "run")
    assert result.dev_metrics == {} and "dev" not in result.splits
    summary = json.loads((tmp_path / "run" / "train_metrics.json").read_text())
    assert summary["epochs_run"] == pytest.approx(3.0) and summary["best_checkpoint"] is None


def test_rdrop_loss_is_the_task_loss_plus_a_disagreement_penalty() -> None:
    from stance.training.losses import PairLoss, rdrop_loss

    loss = PairLoss(None, 0.1)
    labels = torch.tensor([0, 2])
    a = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.5, 1.5]])
    b = torch.tensor([[0.5, 1.0, 0.0], [1.0, 0.0, 0.0]])
    same = rdrop_loss(loss, a, a.clone(), labels, alpha=4.0)
    assert float(same) == pytest.approx(float(loss({"logits": a}, labels)))  # identical passes: no penalty
    task = (loss({"logits": a}, labels) + loss({"logits": b}, labels)) / 2
    weak, strong = rdrop_loss(loss, a, b, labels, alpha=1.0), rdrop_loss(loss, a, b, labels, alpha=2.0)
    assert float(weak) > float(task)
    assert float(strong - task) == pytest.approx(2 * float(weak - task))  # linear in alpha


def test_rdrop_training_runs_two_dropout_passes(tiny_config, tmp_path: Path) -> None:
    from stance.config import replace

    base = replace(
        tiny_config, data={"dev": None, "dev_fraction": 0.0, "test": None}, training={"epochs": 1, "max_steps": 3}
    )
    plain = json.loads((train(base, tmp_path / "plain").output_dir / "train_log.jsonl").read_text().splitlines()[-1])
    rdrop = replace(base, training={"rdrop": 1.0})
    with_rdrop = json.loads(
        (train(rdrop, tmp_path / "rdrop").output_dir / "train_log.jsonl").read_text().splitlines()[-1]
    )
    assert with_rdrop["train_loss"] != pytest.approx(plain["train_loss"])  # the penalty changes the objective
    with pytest.raises(StanceError, match="training.rdrop must be >= 0"):
        replace(base, training={"rdrop": -1.0})


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU path")
def test_bf16_is_accepted_on_a_cpu(tiny_config, tmp_path: Path) -> None:
    from stance.config import replace
    from stance.training.trainer import training_arguments

    args = training_arguments(replace(tiny_config, training={"bf16": True}), tmp_path)
    assert args.bf16 and args.use_cpu  # the Trainer refuses bf16 on a CPU unless use_cpu is set
    assert not training_arguments(tiny_config, tmp_path).use_cpu  # float32 runs keep the default device
