"""`stance cv`: grouped, stratified K-fold cross-validation with one training run per fold."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from stance.cli import main
from stance.config import load_config
from stance.errors import StanceError
from stance.training.cv import METRICS, group_values, pooled_rows

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "tiny.yaml"


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def test_cv_command_writes_mean_std_and_each_fold(tmp_path: Path, capsys) -> None:
    out = tmp_path / "cv"
    assert (
        main(
            [
                "cv",
                str(TINY),
                "--folds",
                "2",
                "--group-by",
                "article_id",
                "--output",
                str(out),
                "--set",
                "training.epochs=1",
                "--set",
                "data.dev_fraction=0.1",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "macro_f1:" in printed and "± " in printed and str(out / "cv_report.md") in printed

    summary = json.loads((out / "cv_metrics.json").read_text("utf-8"))
    assert summary["folds"] == 2 and summary["group_by"] == "article_id" and summary["n_examples"] == 45
    assert [f["fold"] for f in summary["per_fold"]] == [1, 2]
    for name in METRICS:
        values = [f[name] for f in summary["per_fold"]]
        assert summary["summary"][name]["mean"] == pytest.approx(np.mean(values))
        assert summary["summary"][name]["std"] == pytest.approx(np.std(values, ddof=1))
    assert sum(f["n_test"] for f in summary["per_fold"]) == 45

    # grouping: no article in two folds' held-out parts, nor in a fold's train and test at once
    held = [{r["article_id"] for r in _rows(out / f"fold-{k}" / "test.jsonl")} for k in (1, 2)]
    assert held[0] and held[1] and not held[0] & held[1]
    for k in (1, 2):
        fold = out / f"fold-{k}"
        train = {r["article_id"] for name in ("train", "dev") for r in _rows(fold / f"{name}.jsonl")}
        assert not train & held[k - 1]
        assert (fold / "run" / "train_metrics.json").is_file()
        assert not (fold / "run" / "model").exists() and not (fold / "run" / "checkpoints").exists()
    # stratification: every label is held out in each fold
    for k in (1, 2):
        assert {r["label"] for r in _rows(out / f"fold-{k}" / "test.jsonl")} == {"supportive", "denying", "neutral"}

    predictions = _rows(out / "predictions.jsonl")
    assert len(predictions) == 45 and len({p["id"] for p in predictions}) == 45
    assert {p["fold"] for p in predictions} == {1, 2}
    report = (out / "cv_report.md").read_text("utf-8")
    assert "| macro_f1 |" in report and "±" in report and "fold 2" in report


def test_cv_refuses_bad_arguments_before_training(tmp_path: Path, capsys) -> None:
    out = str(tmp_path / "cv")
    assert main(["cv", str(TINY), "--folds", "1", "--output", out]) == 2
    assert "at least 2 folds" in capsys.readouterr().err
    assert main(["cv", str(TINY), "--folds", "2", "--group-by", "outlet", "--output", out]) == 2
    err = capsys.readouterr().err
    assert "--group-by 'outlet': no such column" in err and "article_id" in err and "Traceback" not in err
    assert main(["cv", str(TINY), "--folds", "40", "--output", out]) == 2
    assert "cannot make 40 folds from 12 group(s)" in capsys.readouterr().err
    assert not (tmp_path / "cv").exists()


def test_rows_with_the_same_text_share_a_group() -> None:
    config = load_config(TINY)
    rows = [
        {"id": "1", "text": "Same  sentence.", "article_id": "A"},
        {"id": "2", "text": "same sentence.", "article_id": "B"},
        {"id": "3", "text": "Other.", "article_id": "C"},
        {"id": "4", "text": "More.", "article_id": None},
    ]
    groups = group_values(rows, "article_id", config)
    assert groups[0] == groups[1] != groups[2] and groups[3] not in groups[:3]
    with pytest.raises(StanceError, match="no such column"):
        group_values(rows, "text", config)


def test_pooled_rows_cover_every_split() -> None:
    rows = pooled_rows(load_config(TINY))
    assert len(rows) == 45 and len({r["id"] for r in rows}) == 45


def test_cv_without_dev_trains_each_fold_on_all_its_training_rows(tmp_path: Path) -> None:
    out = tmp_path / "cv"
    assert (
        main(
            [
                "cv",
                str(TINY),
                "--folds",
                "2",
                "--output",
                str(out),
                "--set",
                "training.epochs=1",
                "--set",
                "data.dev_fraction=0",
            ]
        )
        == 0
    )
    summary = json.loads((out / "cv_metrics.json").read_text("utf-8"))
    assert [f["n_dev"] for f in summary["per_fold"]] == [0, 0]
    assert [f["n_train"] + f["n_test"] for f in summary["per_fold"]] == [45, 45]
    assert not (out / "fold-1" / "dev.jsonl").exists()


def test_group_folds_refuses_fewer_than_two_folds() -> None:
    from stance.data.splits import group_folds

    with pytest.raises(StanceError, match="at least 2 folds"):
        group_folds(["supportive", "denying"], ["a", "b"], 1, seed=0)
