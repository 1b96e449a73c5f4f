"""``stance distill``: the loss, a tiny teacher distilled into a tiny random student, and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from stance.cli import main
from stance.config import replace
from stance.labels import LABELS
from stance.training.distill import DISTILLED_ATTRIBUTE, IGNORE_INDEX, DistillLoss
from stance.training.losses import PairLoss

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "tiny.yaml"
UNLABELLED = [
    "Moscow agreed to ship air-defence systems to Islamabad.",
    "Pakistan's army received its first Russian helicopters.",
    "The foreign ministry denied any arms deal with Russia.",
    "Rain is expected in Lahore over the weekend.",
    "Officials said no weapons would be sold to Pakistan.",
    "Russia and Pakistan signed a contract for fighter engines.",
    "The cricket team arrived in Karachi on Monday.",
    "Analysts doubt the reported sale of tanks will happen.",
]


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=1, keepdims=True))


def _formula(student: np.ndarray, teacher: np.ndarray, labels: np.ndarray, t: float, alpha: float) -> float:
    """alpha * T^2 * mean_all KL(teacher_T || student_T) + (1 - alpha) * mean_gold CE(student at T=1)."""
    log_s, log_t = _log_softmax(student / t), _log_softmax(teacher / t)
    kl = (np.exp(log_t) * (log_t - log_s)).sum(axis=1)
    gold = labels != IGNORE_INDEX
    ce = -_log_softmax(student)[gold, labels[gold]]
    return alpha * t * t * kl.mean() + (1 - alpha) * (ce.mean() if gold.any() else 0.0)


def test_distillation_loss_is_the_formula() -> None:
    student = np.array([[2.0, 0.0, -1.0], [0.0, 0.5, 1.5], [1.0, 1.0, 0.0], [-1.0, 2.0, 0.5]])
    teacher = np.array([[3.0, -1.0, 0.0], [0.5, 0.0, 2.0], [0.0, 2.5, 0.0], [1.0, 0.0, 1.0]])
    labels = np.array([0, 2, IGNORE_INDEX, IGNORE_INDEX])  # two gold rows, two unlabelled
    s, te, y = torch.tensor(student), torch.tensor(teacher), torch.tensor(labels)
    plain = PairLoss(None, 0.0)  # plain cross-entropy for the gold term
    for t, alpha in ((1.0, 0.5), (2.0, 0.3), (4.0, 1.0), (3.0, 0.0)):
        got = float(DistillLoss(plain, t, alpha)(s, y, te))
        assert got == pytest.approx(_formula(student, teacher, labels, t, alpha), rel=1e-5), (t, alpha)
    # T^2 scaling: the soft term alone at T is T^2 times the plain KL of the softened distributions
    soft_t4 = float(DistillLoss(plain, 4.0, 1.0)(s, y, te))
    log_s, log_t = _log_softmax(student / 4), _log_softmax(teacher / 4)
    assert soft_t4 == pytest.approx(16 * float((np.exp(log_t) * (log_t - log_s)).sum(axis=1).mean()), rel=1e-5)
    # unlabelled rows are soft-only: with alpha 0 their logits do not matter; with alpha 1 no label does
    moved = s.clone()
    moved[2:] += torch.tensor([5.0, -3.0, 1.0])
    hard_only = DistillLoss(plain, 2.0, 0.0)
    assert float(hard_only(moved, y, te)) == pytest.approx(float(hard_only(s, y, te)))
    other = torch.tensor([1, 0, IGNORE_INDEX, IGNORE_INDEX])
    soft_only = DistillLoss(plain, 2.0, 1.0)
    assert float(soft_only(s, other, te)) == pytest.approx(float(soft_only(s, y, te)))
    assert float(DistillLoss(plain, 2.0, 0.5)(s, torch.full((4,), IGNORE_INDEX), te)) > 0  # no gold row at all
    # accumulated-batch counts (twice the rows, twice the gold) halve this batch's share of both terms
    mixed = DistillLoss(plain, 2.0, 0.3)
    assert float(mixed(s, y, te, num_gold=4, num_rows=8)) == pytest.approx(float(mixed(s, y, te)) / 2)


def test_scorer_logits_give_the_scorer_probabilities(tiny_model_dir: Path) -> None:
    from stance.inference.scorer import PairScorer, softmax
    from stance.modeling.loading import load_trained

    scorer = PairScorer(load_trained(tiny_model_dir), batch_size=3)
    targets, texts = ["Russia arms Pakistan."] * 4, UNLABELLED[:4]
    logits = scorer.logits(targets, texts)
    assert logits.shape == (4, len(LABELS))
    assert np.allclose(softmax(logits.astype(np.float64)), scorer.score(targets, texts).probabilities, atol=1e-6)


def _sharpened(model_dir: Path, folder: Path, scale: float = 30.0) -> Path:
    """A copy of the tiny teacher with its classifier scaled: three epochs on 32 pairs leave it almost uniform
    (about 0.34/0.33/0.33 for every pair), too close to any student for a difference to mean much; scaled,
    it says supportive at about 0.6, an opinion gold labels alone would not teach."""
    from safetensors.torch import load_file, save_file

    shutil.copytree(model_dir, folder)
    weights = load_file(folder / "model.safetensors")
    weights["classifier.weight"] = weights["classifier.weight"] * scale
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    return folder


def _compare(teacher: Path, student: Path, targets: list[str], texts: list[str]) -> tuple[float, float]:
    """The student's mean KL(teacher || student) over the pairs, and how often it gives the teacher's label."""
    from stance.inference.scorer import PairScorer
    from stance.modeling.loading import load_trained

    p = PairScorer(load_trained(teacher)).score(targets, texts).probabilities.astype(np.float64)
    q = PairScorer(load_trained(student)).score(targets, texts).probabilities.astype(np.float64)
    kl = float((p * (np.log(p) - np.log(q))).sum(axis=1).mean())
    return kl, float((p.argmax(axis=1) == q.argmax(axis=1)).mean())


def test_distilled_student_is_a_standard_folder_closer_to_its_teacher(
    tiny_model_dir: Path, tiny_config, tmp_path: Path
) -> None:
    from transformers import AutoModelForSequenceClassification, pipeline

    from stance.training.trainer import train

    teacher = _sharpened(tiny_model_dir, tmp_path / "teacher")
    unlabelled = tmp_path / "unlabelled.txt"
    unlabelled.write_text("\n".join(UNLABELLED[:4] + [""] + UNLABELLED[4:]) + "\n")  # one blank line: skipped
    out = tmp_path / "student"
    seed = ["--set", "training.seed=7"]  # not the teacher's seed: a gold-only student would be the teacher
    args = ["distill", str(teacher), "--config", str(TINY), "--output", str(out), *seed]
    assert main([*args, "--unlabelled", str(unlabelled), "--temperature", "2", "--alpha", "0.9"]) == 0

    for name in ("config.yaml", "train_log.jsonl", "train_metrics.json", "report/metrics.json", "model/config.json"):
        assert (out / name).is_file(), name
    record = json.loads((out / "train_metrics.json").read_text())["distilled_from"]
    assert record["teacher"] == str(teacher) and record["unlabelled_rows"] == len(UNLABELLED)
    assert record["temperature"] == 2.0 and record["alpha"] == 0.9 and len(record["teacher_sha256_of_config"]) == 64
    assert json.loads((out / "model" / "train_metrics.json").read_text())["distilled_from"] == record
    assert json.loads((out / "model" / "config.json").read_text())[DISTILLED_ATTRIBUTE] == str(teacher)
    # the unlabelled rows were trained on: (32 gold + 8 unlabelled) / batch 8 = 5 steps an epoch, not 4
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert max(r["step"] for r in log) == 3 * 5

    model = AutoModelForSequenceClassification.from_pretrained(out / "model")
    assert sorted(model.config.id2label.values()) == sorted(LABELS)
    classify = pipeline("text-classification", model=str(out / "model"), top_k=None)
    scores = classify({"text": "Russia supplies arms to Pakistan.", "text_pair": "Moscow sold helicopters."})
    assert sorted(s["label"] for s in scores) == sorted(LABELS)

    gold_only = train(replace(tiny_config, training={"seed": 7}, output={"report": False}), tmp_path / "gold")
    pairs = gold_only.splits["train"]
    targets, texts = list(pairs["target"]), list(pairs["text"])
    distilled = _compare(teacher, out / "model", targets, texts)
    gold = _compare(teacher, gold_only.model_dir, targets, texts)
    assert distilled[0] < gold[0] and distilled[1] >= gold[1], (distilled, gold)  # (KL, label agreement)


def _fails(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> str:
    capsys.readouterr()
    assert main(args) == 2, args
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    return err


def test_bad_input_exits_2_with_the_reason(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    base = ["distill", str(tiny_model_dir), "--config", str(TINY), "--output", str(out)]
    _fails(capsys, [*base, "--temperature", "0"], "--temperature must be a number > 0")
    _fails(capsys, [*base, "--alpha", "1.5"], "--alpha must lie in [0, 1]")

    empty = tmp_path / "empty"
    empty.mkdir()
    _fails(capsys, ["distill", str(empty), *base[2:]], "teacher: " + f"{empty}: not a model folder (no config.json)")
    relabelled = tmp_path / "relabelled"
    shutil.copytree(tiny_model_dir, relabelled)
    config = json.loads((relabelled / "config.json").read_text())
    config["id2label"] = {"0": "cat", "1": "dog", "2": "bird"}
    (relabelled / "config.json").write_text(json.dumps(config))
    _fails(capsys, ["distill", str(relabelled), *base[2:]], "config.json has no usable id2label")

    _fails(capsys, [*base, "--student", "./no/such/model"], "--student ./no/such/model: cannot be loaded")

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "Moscow sells jets."}\n{"text": oops}\n[1, 2]\n')
    err = _fails(capsys, [*base, "--unlabelled", str(bad)], f"{bad}:2: row: invalid JSON")
    assert f"{bad}:3: row: invalid JSON: expected an object" in err  # every bad row at once
    assert not out.exists()  # nothing was written for any of them


def test_adjacent_spans_join_neighbours_of_one_article_only() -> None:
    from datasets import Dataset

    from stance.data.augment import adjacent_spans

    ds = Dataset.from_dict(
        {
            "group": ["a", "a", "a", "b", "b", "c"],
            "target": ["T", "T", "T", "T", "U", "T"],
            "text": ["one.", "two.", "three.", "four.", "five.", "six."],
        }
    )
    assert adjacent_spans(ds) == (["T", "T"], ["one. two.", "two. three."])  # b's two rows have two targets


def test_spans_are_teacher_labelled_rows_of_the_student(tiny_model_dir: Path, tmp_path: Path) -> None:
    from stance.config import load_config
    from stance.data.augment import adjacent_spans
    from stance.training.distill import distill

    config = load_config(TINY, ["output.report=false"])
    result = distill(config, tiny_model_dir, tmp_path / "student", spans=True, alpha=0.7)
    spans = len(adjacent_spans(result.splits["train"])[1])
    record = json.loads((tmp_path / "student" / "train_metrics.json").read_text())["distilled_from"]
    assert spans > 0 and record["span_rows"] == spans and record["unlabelled_rows"] == 0
    log = [json.loads(line) for line in (tmp_path / "student" / "train_log.jsonl").read_text().splitlines()]
    gold = len(result.splits["train"])
    batch = config.training.batch_size
    assert max(r["step"] for r in log) == int(config.training.epochs) * -(-(gold + spans) // batch)


def test_perturbed_copies_are_runs_of_the_sentence_with_words_dropped() -> None:
    from datasets import Dataset

    from stance.data.augment import perturbed_copies

    text = "Moscow has agreed to supply four Mi-35 attack helicopters to Islamabad, officials said on Friday."
    ds = Dataset.from_dict({"target": ["T", "U"], "text": [text, "Too short."]})
    targets, texts = perturbed_copies(ds, 5, seed=3)
    assert texts == perturbed_copies(ds, 5, seed=3)[1] and texts != perturbed_copies(ds, 5, seed=4)[1]
    assert 1 <= len(texts) <= 5 and len(set(texts)) == len(texts) and text not in texts
    assert targets == ["T"] * len(texts)  # a sentence of two words cannot lose any: no copy
    words = text.split()
    for copy in texts:
        position = iter(words)
        assert len(copy.split()) >= 3 and all(w in position for w in copy.split())  # in order, from the sentence
    assert perturbed_copies(ds, 0, seed=3) == ([], [])


def test_augmented_copies_are_teacher_labelled_rows_of_the_student(tiny_model_dir: Path, tmp_path: Path) -> None:
    from stance.config import load_config
    from stance.data.augment import perturbed_copies
    from stance.errors import StanceError
    from stance.training.distill import distill

    config = load_config(TINY, ["output.report=false"])
    result = distill(config, tiny_model_dir, tmp_path / "student", augment=2, alpha=0.7)
    copies = len(perturbed_copies(result.splits["train"], 2, config.training.seed)[1])
    record = json.loads((tmp_path / "student" / "train_metrics.json").read_text())["distilled_from"]
    assert copies > 0 and record["augmented_rows"] == copies and record["augment"] == 2
    log = [json.loads(line) for line in (tmp_path / "student" / "train_log.jsonl").read_text().splitlines()]
    gold, batch = len(result.splits["train"]), config.training.batch_size
    assert max(r["step"] for r in log) == int(config.training.epochs) * -(-(gold + copies) // batch)
    with pytest.raises(StanceError, match="--augment must be a whole number"):
        distill(config, tiny_model_dir, tmp_path / "other", augment=-1)
