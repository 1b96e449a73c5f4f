"""The house rules: public exports, stage order, one source of defaults, one wording of shared errors."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest

import stance
from stance.cli import main

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "stance"
# Stage order: a module may import its own stage, the shared modules and the stages before it.
SHARED = {"errors", "labels", "config", "layout", "logs"}
STAGES = ["data", "modeling", "inference", "evaluation", "training", "coverage", "annotation", "hub", "cli", "__main__"]
MAX_LINES = 420


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports(path: Path) -> list[str]:
    """Absolute ``stance.*`` modules imported by a file (relative imports resolved)."""
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    package = package.removesuffix(".__init__")
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [f"{target}.{a.name}" for a in node.names] if not node.module else [target]
            found += [n for n in names if n.split(".")[0] == "stance"]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "stance"]
    return found


def test_public_exports_are_the_objects_not_modules() -> None:
    import importlib
    import inspect

    importlib.import_module("stance.training.trainer")  # importing a submodule must not rebind a name
    for name in stance.__all__:
        value = getattr(stance, name)
        assert not inspect.ismodule(value), name
    from stance import StanceClassifier, load_config, train, train_and_report

    assert callable(train) and train.__module__ == "stance.training.trainer"
    assert train_and_report.__name__ == "train_and_report" and load_config.__name__ == "load_config"
    assert StanceClassifier.__name__ == "StanceClassifier"
    with pytest.raises(AttributeError):
        stance.no_such_thing  # noqa: B018


def test_each_stage_imports_only_what_lies_upstream() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = _stage(".".join(path.relative_to(ROOT).with_suffix("").parts))
        for target in _imports(path):
            stage = _stage(target)
            if stage in SHARED or stage == own or stage == "":
                continue
            if own in SHARED:
                wrong.append(f"{path}: shared module imports {target}")
            elif stage not in STAGES or STAGES.index(stage) > STAGES.index(own):
                wrong.append(f"{path} ({own}) imports {target} ({stage}), which lies downstream")
    assert not wrong, "\n".join(wrong)


def test_no_module_is_a_grab_bag_or_too_long() -> None:
    names = {p.stem for p in PACKAGE.rglob("*.py")}
    assert not names & {"utils", "helpers", "misc", "common"}
    long = [
        f"{p}: {n} lines" for p in PACKAGE.rglob("*.py") if (n := len(p.read_text("utf-8").splitlines())) > MAX_LINES
    ]
    assert not long, long


def test_library_defaults_are_the_shipped_recipes() -> None:
    """One source of defaults: the library's are configs/fast.yaml; configs/default.yaml changes exactly the
    fields its ``# overrides:`` line names (a larger base that must be fetched, and its schedule)."""
    from stance.config import load_config

    defaults = load_config().to_dict()
    assert defaults == load_config(ROOT / "configs" / "fast.yaml").to_dict()
    text = (ROOT / "configs" / "default.yaml").read_text("utf-8")
    declared = set(text.split("# overrides:", 1)[1].splitlines()[0].split())
    shipped = load_config(ROOT / "configs" / "default.yaml").to_dict()
    changed = {
        f"{section}.{key}"
        for section in shipped
        for key in shipped[section]
        if shipped[section][key] != defaults[section][key]
    }
    assert changed == declared


def test_a_config_json_without_model_type_is_one_clear_error(tiny_model_dir: Path, tmp_path: Path, capsys) -> None:
    broken = tmp_path / "model"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "config.json").write_text("{}")
    assert main(["predict", str(broken), "--text", "Russia sells jets to Pakistan."]) == 2
    err = capsys.readouterr().err
    assert f"{broken}: cannot load the model config" in err and "model_type" in err and "Traceback" not in err
    assert main(["--debug", "predict", str(broken), "--text", "x"]) == 2
    assert "Traceback" in capsys.readouterr().err  # --debug shows the wrapped library error


def test_the_same_bad_byte_is_reported_at_the_same_offset_everywhere(tiny_model_dir: Path, tmp_path: Path, capsys):
    line = b'{"text": "bad \xff byte", "label": "neutral"}\n'
    data = tmp_path / "data.jsonl"
    data.write_bytes(b'{"text": "fine", "label": "neutral"}\n' + line)
    txt = tmp_path / "article.txt"
    txt.write_bytes(b"A fine first line.\nbad \xff byte\n")
    expected = "byte 15 of the line"
    assert main(["data", "validate", str(data), "--unlabelled"]) == 2
    assert f"{data}:2: row: bytes that are not UTF-8 ({expected})" in capsys.readouterr().err
    assert main(["predict", str(tiny_model_dir), "--input", str(data), "--no-progress"]) == 2
    assert f"{data}:2: row: bytes that are not UTF-8 ({expected})" in capsys.readouterr().err
    assert main(["predict", str(tiny_model_dir), "--article", str(txt)]) == 2
    assert f"{txt}:2: bytes that are not UTF-8 (byte 5 of the line)" in capsys.readouterr().err


def test_phenomena_tags_are_parsed_one_way(tmp_path: Path) -> None:
    import numpy as np

    from stance.config import DataConfig
    from stance.data import parse_tags, read_examples
    from stance.data.stats import compute_stats
    from stance.evaluation.statistics import breakdowns

    for cell in ('["headline","negation"]', "['headline', 'negation']", "headline;negation", "headline, negation"):
        assert parse_tags(cell) == ["headline", "negation"], cell
    path = tmp_path / "d.csv"
    path.write_text(
        'id,text,label,phenomena\n1,Moscow sells jets.,supportive,"[""headline"",""negation""]"\n'
        "2,No deal.,denying,negation\n",
        "utf-8",
    )
    ds = read_examples(path, DataConfig())
    tags = set(breakdowns(ds, np.array([0, 1]), np.array([0, 1]))["phenomena"])
    assert tags == {"headline", "negation"} == set(compute_stats({"d": ds}).phenomena)


def test_train_log_and_resume_messages(tiny_run) -> None:
    records = [json.loads(line) for line in (tiny_run.output_dir / "train_log.jsonl").read_text().splitlines()]
    keys = [(r["step"], "eval_loss" in r, "train_runtime" in r) for r in records]
    assert len(keys) == len(set(keys)), "a step logged twice"


def test_one_warning_for_a_huge_line_and_sentences_numbered_from_one(tiny_model_dir: Path, tmp_path: Path, capsys):
    huge = tmp_path / "huge.txt"
    huge.write_text("Russia will sell jets to Pakistan. " * 6000 + "\n", "utf-8")  # ~200,000 characters
    assert main(["predict", str(tiny_model_dir), "--input", str(huge), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "exceed the model's limit" in err and "Token indices sequence length" not in err

    from stance import StanceClassifier

    result = StanceClassifier.from_pretrained(tiny_model_dir).predict_article("Moscow sells jets. Delhi objects.")
    record = result.to_dict()
    assert [s["number"] for s in record["sentences"]] == [1, 2] and [s["index"] for s in record["sentences"]] == [0, 1]
    assert record["deciding_numbers"] == [i + 1 for i in result.deciding]
    article = tmp_path / "a.txt"
    article.write_text("Moscow sells jets.\nDelhi objects.\n", "utf-8")
    assert main(["predict", str(tiny_model_dir), "--article", str(article), "--format", "csv"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()[1:]
    assert [row.split(",")[1] for row in rows] == ["1", "2"]
