"""scripts/bench_quality.py on a small Emergent-style file (the real one lives outside the repository)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "tiny.yaml"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_quality", ROOT / "scripts" / "bench_quality.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def emergent_like(tmp_path: Path) -> Path:
    """The tiny corpus in Emergent's form: one claim per article, plus one pair labelled both ways."""
    rows = []
    for name in ("tiny_train", "tiny_dev", "tiny_test"):
        for line in (ROOT / "tests" / "data" / f"{name}.jsonl").read_text().splitlines():
            row = json.loads(line)
            rows.append(
                {
                    "id": row["id"],
                    "target": f"{row['target']} ({row['article_id']})",
                    "text": row["text"],
                    "label": row["label"],
                    "claim_id": row["article_id"],
                }
            )
    twin = dict(rows[0], id="conflict", label="neutral" if rows[0]["label"] != "neutral" else "denying")
    rows.append(twin)
    path = tmp_path / "emergent.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_missing_benchmark_is_skipped_with_a_message(bench, tmp_path: Path, capsys) -> None:
    assert bench.main([str(TINY), "--data", str(tmp_path / "absent.jsonl")]) == 0
    assert "skipped: benchmark data not found" in capsys.readouterr().out


def test_conflicting_pairs_stay_in_test_folds_but_not_in_training(bench, emergent_like: Path, tmp_path: Path) -> None:
    ds = bench.read_benchmark(emergent_like)
    conflicts = bench.conflicting_pairs(ds)
    assert len(conflicts) == 1
    written = [json.loads(line) for line in Path(bench._write_jsonl(ds, tmp_path / "t.jsonl")).read_text().splitlines()]
    assert len(written) == len(ds) - 2  # both rows of the contradictory pair left out of training only
    assert not {(r["target"], " ".join(r["text"].lower().split())) for r in written} & conflicts


def test_cross_validation_prints_each_fold_and_mean(bench, emergent_like: Path, capsys) -> None:
    code = bench.main(
        [
            str(TINY),
            "--data",
            str(emergent_like),
            "--folds",
            "2",
            "--systems",
            "config",
            "tfidf_logreg",
            "majority",
            "--set",
            "data.dev_fraction=0",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    for system in ("config", "tfidf_logreg", "majority"):
        assert f"fold 1/2 {system}" in out and f"fold 2/2 {system}" in out
        summary = next(line for line in out.splitlines() if line.startswith(system) and "±" in line)
        assert len(summary.split("±")) == 3  # accuracy and macro-F1, each mean ± sd
    assert "config training + scoring time" in out


def test_save_full_without_cv_writes_a_standard_run(
    bench, emergent_like: Path, tmp_path: Path, tiny_model_dir: Path, capsys
) -> None:
    from stance.modeling import load_trained

    out_dir = tmp_path / "full"
    code = bench.main(
        [
            str(TINY),
            "--data",
            str(emergent_like),
            "--no-cv",
            "--save-full",
            str(out_dir),
            "--cross-policy",
            str(tiny_model_dir),
            "--set",
            "data.dev_fraction=0",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "fold " not in out  # no cross-validation
    assert "cross-policy:" in out and "macro-F1" in out
    trained = load_trained(out_dir / "model")
    assert (out_dir / "config.yaml").is_file() and trained.label_columns is not None
    summary = json.loads((out_dir / "train_metrics.json").read_text())
    assert summary["label_counts"]["train"] and sum(summary["label_counts"]["train"].values()) == 44


def test_bad_config_key_is_one_clear_error(bench, emergent_like: Path, capsys) -> None:
    assert bench.main([str(TINY), "--data", str(emergent_like), "--set", "training.epoch=3"]) == 2
    assert "training.epoch" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["--folds", "1"], ["--only-folds", "6"]])
def test_impossible_fold_choices_are_usage_errors(bench, emergent_like: Path, args: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench.main([str(TINY), "--data", str(emergent_like), *args])
    assert exit_info.value.code == 2
    assert "folds" in capsys.readouterr().err


def test_distilled_and_student_systems_run_paired_on_the_same_folds(bench, emergent_like: Path, capsys) -> None:
    code = bench.main(
        [
            str(TINY),
            "--data",
            str(emergent_like),
            "--folds",
            "2",
            "--systems",
            "config",
            "student",
            "distilled",
            "--student-config",
            str(TINY),
            "--swap-targets",
            "--set",
            "data.dev_fraction=0",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    for system in ("config", "student", "distilled"):
        assert f"fold 1/2 {system}" in out and f"fold 2/2 {system}" in out
    assert "distilled - config macro-F1 (paired by fold)" in out
    assert "distilled - student macro-F1 (paired by fold)" in out


def test_distilled_without_its_teacher_is_one_clear_error(bench, emergent_like: Path, capsys) -> None:
    args = [str(TINY), "--data", str(emergent_like), "--folds", "2", "--systems", "distilled"]
    assert bench.main([*args, "--student-config", str(TINY)]) == 2
    assert "add config to --systems" in capsys.readouterr().err
    assert bench.main(args) == 2
    assert "--student-config" in capsys.readouterr().err


def test_headline_only_ablation_replaces_every_claim_in_train_and_test(bench, emergent_like: Path, capsys) -> None:
    ds = bench.read_benchmark(emergent_like)
    ablated = bench.headline_only(ds)
    assert set(ablated["target"]) == {bench.HEADLINE_ONLY_TARGET}
    assert ablated["text"] == ds["text"] and ablated["group"] == ds["group"]  # same folds, same headlines
    code = bench.main(
        [str(TINY), "--data", str(emergent_like), "--folds", "2", "--systems", "majority", "--headline-only"]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "headline only: every claim replaced by a constant" in out and "fold 2/2 majority" in out


def test_naive_recipe_in_bf16_autocast_runs_on_the_same_folds(bench, emergent_like: Path, capsys) -> None:
    args = [str(TINY), "--data", str(emergent_like), "--folds", "2", "--systems", "naive", "majority"]
    assert bench.main([*args, "--naive-bf16"]) == 0
    out = capsys.readouterr().out
    assert "naive recipe in bf16 autocast" in out and "fold 2/2 naive" in out
