"""`stance evaluate`, the report written by `stance train`, and the statistics behind them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import f1_score

from stance.cli import main
from stance.evaluation.metrics import compute_metrics
from stance.evaluation.statistics import _f1_from_confusion, bootstrap, breakdowns, calibration, error_tables
from stance.labels import LABELS

ROOT = Path(__file__).resolve().parents[1]
TINY_TEST = ROOT / "tests" / "data" / "tiny_test.jsonl"
TOP_KEYS = {
    "schema_version",
    "model",
    "data",
    "labels",
    "metrics",
    "confidence_intervals",
    "per_class",
    "confusion_matrix",
    "calibration",
    "baselines",
    "breakdowns",
    "errors",
    "notes",
    "images",
}


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def _check_metrics_json(folder: Path, n_examples: int) -> dict:
    """Every documented key, with consistent values, and every referenced image on disk."""
    m = json.loads((folder / "metrics.json").read_text("utf-8"))
    assert set(m) == TOP_KEYS
    assert m["schema_version"] == 1 and m["labels"] == list(LABELS)
    assert m["data"]["n_examples"] == n_examples and m["data"]["targets"]
    assert set(m["metrics"]) == {"accuracy", "macro_f1", "micro_f1", "weighted_f1"}
    for name in ("accuracy", "macro_f1"):
        ci = m["confidence_intervals"][name]
        assert ci["level"] == 0.95 and ci["resamples"] >= 1000 and isinstance(ci["seed"], int)
        assert ci["low"] <= m["metrics"][name] + 1e-9 and m["metrics"][name] <= ci["high"] + 1e-9
    counts = np.array(m["confusion_matrix"]["counts"])
    assert m["confusion_matrix"]["labels"] == list(LABELS) and counts.sum() == n_examples
    assert np.trace(counts) / n_examples == pytest.approx(m["metrics"]["accuracy"])
    for i, label in enumerate(LABELS):
        c = m["per_class"][label]
        assert c["support"] == counts[i].sum()  # rows are gold
        assert c["f1_ci"]["low"] <= c["f1"] + 1e-9 <= c["f1_ci"]["high"] + 2e-9
    assert 0 <= m["calibration"]["ece"] <= 1 and m["calibration"]["bins"] == 10
    for column in ("source", "target", "phenomena"):
        assert column in m["breakdowns"]
        for scores in m["breakdowns"][column].values():
            assert set(scores) == {"n", "accuracy", "macro_f1"} and scores["n"] > 0
    assert sum(s["n"] for s in m["breakdowns"]["target"].values()) == n_examples
    for table in ("confident_wrong", "unsure_right"):
        for row in m["errors"][table]:
            assert set(row) == {"id", "text", "gold", "predicted", "confidence"}
    assert set(m["images"]) == {"confusion_matrix", "confusion_matrix_normalized", "reliability", "per_class_f1"}
    for name in m["images"].values():
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    predictions = _rows(folder / "predictions.jsonl")
    assert len(predictions) == n_examples
    for row in predictions:
        assert sum(row["scores"].values()) == pytest.approx(1.0, abs=1e-4)
        assert row["predicted"] == max(row["scores"], key=row["scores"].get)
        assert row["correct"] == (row["gold"] == row["predicted"])
    return m


def test_train_writes_the_test_report(tiny_run) -> None:
    folder = tiny_run.output_dir / "report"
    m = _check_metrics_json(folder, len(tiny_run.splits["test"]))
    assert m["data"]["split"] == "test"
    assert set(m["baselines"]) == {"majority", "tfidf_logreg"}
    # the majority baseline predicts the most frequent training label for every test row
    train_labels = list(tiny_run.splits["train"]["label"])
    majority = max(sorted(set(train_labels)), key=train_labels.count)
    test_labels = list(tiny_run.splits["test"]["label"])
    assert m["baselines"]["majority"]["accuracy"] == pytest.approx(test_labels.count(majority) / len(test_labels))
    assert m["breakdowns"]["source"] and m["breakdowns"]["phenomena"]["headline"]["n"] >= 1
    page = (folder / "report.html").read_text("utf-8")
    assert 'src="data:image/png;base64,' in page and "http://" not in page and "https://" not in page
    assert "TF-IDF + logistic regression" in page
    md = (folder / "report.md").read_text("utf-8")
    assert "](confusion_matrix.png)" in md and "| **this model** |" in md and "## By phenomenon tag" in md


def test_evaluate_cli_on_a_file_a_config_and_a_folder(tiny_model_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "file"
    assert main(["evaluate", str(tiny_model_dir), str(TINY_TEST), "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"report: {out / 'report.html'}" in printed and "baselines trained on" in printed
    m = _check_metrics_json(out, 6)
    assert m["data"]["split"] is None and m["baselines"]
    assert (out / "report.md").is_file()

    out = tmp_path / "config"
    assert main(["evaluate", str(tiny_model_dir), "configs/tiny.yaml", "--split", "dev", "--output", str(out)]) == 0
    m = _check_metrics_json(out, 7)
    assert m["data"]["split"] == "dev" and m["data"]["path"].endswith("tiny_dev.jsonl")

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(TINY_TEST, corpus / "test.jsonl")
    out = tmp_path / "folder"
    assert (
        main(["evaluate", str(tiny_model_dir), str(corpus), "--output", str(out), "--resamples", "2000", "--seed", "7"])
        == 0
    )
    m = _check_metrics_json(out, 6)
    assert m["data"]["split"] == "test"
    assert m["confidence_intervals"]["macro_f1"]["resamples"] == 2000
    assert m["confidence_intervals"]["macro_f1"]["seed"] == 7


def test_baselines_are_skipped_with_a_reason_when_the_training_split_is_unknown(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    (model / "stance_config.yaml").unlink()
    out = tmp_path / "report"
    assert main(["evaluate", str(model), str(TINY_TEST), "--output", str(out)]) == 0
    m = _check_metrics_json(out, 6)
    assert m["baselines"] == {}
    assert any("baselines skipped" in note and "stance_config.yaml" in note for note in m["notes"])
    assert "baselines skipped" in (out / "report.md").read_text("utf-8")
    assert "baselines skipped" in (out / "report.html").read_text("utf-8")


def _fails(args: list[str], capsys) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_bad_input_gives_a_clear_message_and_exit_2(tiny_model_dir: Path, tmp_path: Path, capsys) -> None:
    model, out = str(tiny_model_dir), str(tmp_path / "out")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "Moscow sells jets.", "label": "maybe"}\n', "utf-8")
    assert f"{bad}:1: label: unknown label 'maybe'" in _fails(["evaluate", model, str(bad), "-o", out], capsys)

    unlabelled = tmp_path / "unlabelled.jsonl"
    unlabelled.write_text('{"id": "a", "text": "Moscow sells jets."}\n{"id": "b", "text": "No deal."}\n', "utf-8")
    err = _fails(["evaluate", model, str(unlabelled), "-o", out], capsys)
    assert "no gold labels" in err and "stance predict" in err

    partial = tmp_path / "partial.jsonl"
    partial.write_text(
        '{"id": "a", "text": "Moscow sells jets.", "label": "supportive"}\n{"id": "b", "text": "No deal."}\n', "utf-8"
    )
    assert f"{partial}:2: label" in _fails(["evaluate", model, str(partial), "-o", out], capsys)

    empty = tmp_path / "empty.jsonl"
    empty.write_text("", "utf-8")
    assert "no examples" in _fails(["evaluate", model, str(empty), "-o", out], capsys)

    no_labels = tmp_path / "no_labels_model"
    shutil.copytree(tiny_model_dir, no_labels)
    config = json.loads((no_labels / "config.json").read_text("utf-8"))
    config["id2label"] = {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"}
    config["label2id"] = {"LABEL_0": 0, "LABEL_1": 1, "LABEL_2": 2}
    (no_labels / "config.json").write_text(json.dumps(config), "utf-8")
    assert "id2label" in _fails(["evaluate", str(no_labels), str(TINY_TEST), "-o", out], capsys)

    assert "--split picks a file only" in _fails(
        ["evaluate", model, str(TINY_TEST), "--split", "dev", "-o", out], capsys
    )
    assert "no test file" in _fails(["evaluate", model, str(tmp_path), "-o", out], capsys)
    assert "not found" in _fails(["evaluate", str(tmp_path / "nothing"), str(TINY_TEST), "-o", out], capsys)
    no_test = tmp_path / "no_test.yaml"
    no_test.write_text("data:\n  train: tests/data/tiny_train.jsonl\n  test: null\n", "utf-8")
    assert "data.test is not set" in _fails(["evaluate", model, str(no_test), "-o", out], capsys)
    assert "at least 1000" in _fails(["evaluate", model, str(TINY_TEST), "-o", out, "--resamples", "10"], capsys)
    assert not (tmp_path / "out").exists()


def test_a_data_error_is_reported_before_the_model_weights_load(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    import stance.evaluation.evaluate

    def no_load(*args, **kwargs):
        raise AssertionError("the weights were loaded before the data was checked")

    monkeypatch.setattr(stance.evaluation.evaluate, "load_trained", no_load)
    missing = tmp_path / "missing.jsonl"
    assert str(missing) in _fails(["evaluate", str(tiny_model_dir), str(missing), "-o", str(tmp_path / "o")], capsys)


# ---------------------------------------------------------------------------------------------------------
# Statistics on hand-made predictions.


def test_vectorised_f1_matches_the_metric_module() -> None:
    rng = np.random.default_rng(1)
    gold, pred = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    pred[gold == 1] = 1  # make the classes differ in quality
    cm = np.bincount(gold * 3 + pred, minlength=9).reshape(3, 3)
    expected = compute_metrics(pred, gold)
    f1 = _f1_from_confusion(cm)
    assert [expected["per_class"][label]["f1"] for label in LABELS] == pytest.approx(list(f1))
    assert f1.mean() == pytest.approx(expected["macro_f1"])
    # a class never predicted and never gold counts as F1 0, as in the metric module (zero_division=0)
    assert _f1_from_confusion(np.array([[3, 0, 0], [0, 2, 0], [0, 0, 0]])).tolist() == [1.0, 1.0, 0.0]


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 3, 120)
    pred = np.where(rng.random(120) < 0.7, gold, rng.integers(0, 3, 120))
    first, again = bootstrap(gold, pred, resamples=1000, seed=3), bootstrap(gold, pred, resamples=1000, seed=3)
    assert first == again
    assert bootstrap(gold, pred, resamples=1000, seed=4)["accuracy"] != first["accuracy"]
    accuracy = float((gold == pred).mean())
    assert first["accuracy"]["low"] < accuracy < first["accuracy"]["high"]
    assert first["accuracy"]["high"] - first["accuracy"]["low"] < 0.25
    macro = f1_score(gold, pred, average="macro")
    assert first["macro_f1"]["low"] < macro < first["macro_f1"]["high"]
    assert set(first["per_class_f1"]) == set(LABELS)
    # a larger sample of the same quality gives a narrower interval
    wide = bootstrap(gold[:30], pred[:30], resamples=1000, seed=3)["accuracy"]
    assert wide["high"] - wide["low"] > first["accuracy"]["high"] - first["accuracy"]["low"]


def test_calibration_error() -> None:
    gold = np.array([0, 1, 2, 0])
    perfect = np.eye(3)[gold]
    ece, bins = calibration(gold, perfect)
    assert ece == 0.0 and sum(b["count"] for b in bins) == 4 and len(bins) == 10
    # always 0.9 confident, right half the time: ECE = |0.5 - 0.9|
    probs = np.array([[0.9, 0.05, 0.05]] * 4)
    ece, bins = calibration(np.array([0, 0, 1, 2]), probs)
    assert ece == pytest.approx(0.4)
    assert [b["count"] for b in bins if b["count"]] == [4] and bins[8]["accuracy"] == 0.5


def test_breakdowns_and_error_tables() -> None:
    from datasets import Dataset

    ds = Dataset.from_dict(
        {
            "id": ["a", "b", "c", "d"],
            "text": ["A", "B", "C", "D"],
            "target": ["t"] * 4,
            "label": ["supportive", "denying", "neutral", "neutral"],
            "source": ["X", "X", "Y", None],
            "phenomena": [["headline", "negation"], ["negation"], [], ["negation"]],
        }
    )
    gold = np.array([0, 1, 2, 2])
    probs = np.array([[0.9, 0.05, 0.05], [0.2, 0.7, 0.1], [0.5, 0.1, 0.4], [0.1, 0.3, 0.6]])
    pred = probs.argmax(axis=1)
    out = breakdowns(ds, gold, pred)
    assert out["source"] == {
        "X": {"n": 2, "accuracy": 1.0, "macro_f1": 1.0},
        "(none)": {"n": 1, "accuracy": 1.0, "macro_f1": 1.0},
        "Y": {"n": 1, "accuracy": 0.0, "macro_f1": 0.0},
    }
    assert list(out["phenomena"]) == ["negation", "(none)", "headline"]  # by size, then name
    assert out["phenomena"]["negation"]["n"] == 3 and out["target"]["t"]["n"] == 4
    tables = error_tables(ds, gold, probs, n=2)
    assert [row["id"] for row in tables["confident_wrong"]] == ["c"]
    assert tables["confident_wrong"][0] == {
        "id": "c",
        "text": "C",
        "gold": "neutral",
        "predicted": "supportive",
        "confidence": 0.5,
    }
    assert [row["id"] for row in tables["unsure_right"]] == ["d", "b"]  # least confident first
    no_columns = ds.remove_columns(["source", "phenomena"])
    assert breakdowns(no_columns, gold, pred)["source"] == {}
