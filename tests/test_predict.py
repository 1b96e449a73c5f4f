"""StanceClassifier and `stance predict` on the tiny model: mechanics, not accuracy."""

from __future__ import annotations

import itertools
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from stance.cli import main
from stance.config import DEFAULT_TARGET
from stance.errors import StanceError
from stance.labels import LABELS

SENTENCES = [
    "Russia will deliver four Mi-35M helicopters to Pakistan this year",
    "Moscow will not sell defence equipment to Islamabad.",
    "The two countries held joint drills.",
    "Analysts said the deal was fake news.",
    "Pakistan signed a contract for Russian engines.",
]


@pytest.fixture(scope="module")
def clf(tiny_model_dir):
    from stance import StanceClassifier

    return StanceClassifier.from_pretrained(tiny_model_dir, batch_size=2)


def _copy_model(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


# --------------------------------------------------------------------------------------------- Python API


def test_predict_returns_label_and_every_score_in_input_order(clf):
    predictions = clf.predict(SENTENCES)
    assert len(predictions) == len(SENTENCES)
    for p in predictions:
        assert set(p.scores) == set(LABELS)
        assert p.label in LABELS and p.scores[p.label] == max(p.scores.values()) == p.score
        assert sum(p.scores.values()) == pytest.approx(1.0, abs=1e-4)
    one_by_one = [clf.predict(s)[0] for s in SENTENCES]  # a single string is a list of one
    for batched, alone in zip(predictions, one_by_one):
        assert batched.label == alone.label
        assert batched.scores == pytest.approx(alone.scores, abs=1e-4)


def test_default_target_is_the_models_and_can_be_overridden(clf):
    assert clf.default_target == DEFAULT_TARGET
    default = clf.predict_proba(SENTENCES)
    explicit = clf.predict_proba(SENTENCES, DEFAULT_TARGET)
    per_text = clf.predict_proba(SENTENCES, [DEFAULT_TARGET] * len(SENTENCES))
    np.testing.assert_allclose(default, explicit, atol=1e-5)
    np.testing.assert_allclose(default, per_text, atol=1e-5)
    other = clf.predict_proba(SENTENCES, "Apple will sell 19 million watches")
    assert not np.allclose(default, other)
    with pytest.raises(StanceError, match="targets for"):
        clf.predict(SENTENCES, ["a", "b"])


def test_same_label_as_plain_transformers_pipeline(clf, tiny_model_dir):
    from transformers import pipeline

    pipe = pipeline("text-classification", model=str(tiny_model_dir), top_k=None)
    ours = clf.predict(SENTENCES)
    for sentence, mine in zip(SENTENCES, ours):
        scores = {d["label"]: d["score"] for d in pipe({"text": DEFAULT_TARGET, "text_pair": sentence})}
        assert max(scores, key=scores.get) == mine.label
        assert scores == pytest.approx(mine.scores, abs=1e-4)


def test_stream_is_lazy_and_matches_predict(clf):
    expected = [p.label for p in clf.predict(SENTENCES * 2)]
    streamed = [p.label for p in clf.predict_stream(((s, None) for s in SENTENCES * 2), chunk_size=3)]
    assert streamed == expected
    endless = ((SENTENCES[i % 5], None) for i in itertools.count())  # never ends: must not be read whole
    first = list(itertools.islice(clf.predict_stream(endless, chunk_size=4), 6))
    assert [p.label for p in first] == expected[:6]


def test_overlong_text_is_truncated_with_one_counting_warning(clf):
    from stance.inference.classifier import TruncationWarning

    long_text = " ".join(["Russia will deliver helicopters to Pakistan."] * 60)
    with pytest.warns(TruncationWarning, match=r"^2 of 3 text\(s\) exceed") as caught:
        predictions = clf.predict([long_text, SENTENCES[0], long_text])
    assert len([w for w in caught if issubclass(w.category, TruncationWarning)]) == 1
    assert len(predictions) == 3


def test_empty_text_is_an_error_in_the_api(clf):
    with pytest.raises(StanceError, match="index 1"):
        clf.predict(["fine", "  "])


def test_quantized_classifier_converts_the_encoder_linear_layers_only(tiny_model_dir):
    import torch

    from stance import StanceClassifier
    from stance.inference.quantize import quantizable_layers

    full = StanceClassifier.from_pretrained(tiny_model_dir)
    layers = quantizable_layers(full.trained.model, "ffn")
    assert layers and all(("intermediate" in n or n.endswith("output.dense")) and "attention" not in n for n in layers)
    assert len(layers) == 2 * full.trained.model.config.num_hidden_layers
    encoder = quantizable_layers(full.trained.model, "encoder")
    assert set(layers) < set(encoder) and any("attention.self.query" in n for n in encoder)
    q = StanceClassifier.from_pretrained(tiny_model_dir, quantize=True)
    modules = dict(q.scorer.backend.model.named_modules())
    assert all("quantized" in type(modules[n]).__module__ for n in encoder)
    assert type(modules["classifier"]) is torch.nn.Linear and type(modules["bert.pooler.dense"]) is torch.nn.Linear
    assert type(full.trained.model.get_submodule(layers[0])) is torch.nn.Linear  # the original is untouched
    assert [p.label for p in q.predict(SENTENCES)] and "int8" in repr(q)
    with pytest.raises(StanceError, match="scope"):
        quantizable_layers(full.trained.model, "everything")


def test_bf16_keeps_the_interface(tiny_model_dir):
    from stance import StanceClassifier

    half = StanceClassifier.from_pretrained(tiny_model_dir, bf16=True, backend="torch")  # auto may pick OpenVINO
    predictions = half.predict(SENTENCES)
    assert len(predictions) == 5 and all(sum(p.scores.values()) == pytest.approx(1, abs=1e-3) for p in predictions)
    assert "bfloat16" in repr(half)
    with pytest.raises(StanceError, match="not both"):
        StanceClassifier.from_pretrained(tiny_model_dir, bf16=True, quantize=True)


@pytest.mark.parametrize("options", [{"bf16": True}, {"quantize": True}], ids=["bf16", "int8"])
def test_reduced_precision_agrees_with_float32(clf, tiny_model_dir, options):
    """The docstrings' claim, on the tiny model and the corpus's test sentences: >= 97% of labels agree."""
    from stance import StanceClassifier

    texts = [json.loads(line)["text"] for line in Path("data/test.jsonl").read_text("utf-8").splitlines()]
    fast = StanceClassifier.from_pretrained(tiny_model_dir, **options)
    ours, theirs = clf.predict_proba(texts), fast.predict_proba(texts)
    assert (ours.argmax(1) == theirs.argmax(1)).mean() >= 0.97
    assert np.abs(ours - theirs).max() < 0.05


# ------------------------------------------------------------------------------------------ safe loading


def test_missing_folder_pickled_only_and_no_id2label_are_refused(tiny_model_dir, tmp_path, monkeypatch):
    import torch

    from stance import StanceClassifier

    with pytest.raises(StanceError, match="not found"):
        StanceClassifier.from_pretrained(tmp_path / "nope")

    pickled = _copy_model(tiny_model_dir, tmp_path / "pickled")
    state = StanceClassifier.from_pretrained(tiny_model_dir).trained.model.state_dict()
    torch.save(state, pickled / "pytorch_model.bin")
    (pickled / "model.safetensors").unlink()
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("a pickle was loaded"))
    with pytest.raises(StanceError, match="only pickled weights.*arbitrary code"):
        StanceClassifier.from_pretrained(pickled)

    generic = _copy_model(tiny_model_dir, tmp_path / "generic")
    config = json.loads((generic / "config.json").read_text())
    config.pop("id2label", None), config.pop("label2id", None)
    (generic / "config.json").write_text(json.dumps(config))
    with pytest.raises(StanceError, match="id2label"):
        StanceClassifier.from_pretrained(generic)


# ------------------------------------------------------------------------------------------------------ CLI


def test_cli_text_table_and_jsonl(tiny_model_dir, capsys):
    assert main(["predict", str(tiny_model_dir), "--text", SENTENCES[0], SENTENCES[1]]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["id", "label", "score", "text"] and SENTENCES[1] in out
    assert (
        main(
            [
                "predict",
                str(tiny_model_dir),
                "--text",
                SENTENCES[0],
                "--format",
                "jsonl",
                "--target",
                "Apple will sell watches",
            ]
        )
        == 0
    )
    record = json.loads(capsys.readouterr().out)
    assert record["id"] == "1" and record["target"] == "Apple will sell watches"
    assert set(record["scores"]) == set(LABELS)


def test_cli_txt_input_skips_and_counts_empty_lines_keeping_ids(tiny_model_dir, tmp_path, capsys):
    source = tmp_path / "in.txt"
    source.write_text(f"{SENTENCES[0]}\n\n{SENTENCES[1]}\n   \n{SENTENCES[2]}\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert (
        main(
            [
                "predict",
                str(tiny_model_dir),
                "--input",
                str(source),
                "--output",
                str(out),
                "--chunk-size",
                "2",
                "--no-progress",
            ]
        )
        == 0
    )
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["1", "3", "5"]
    assert [r["text"] for r in rows] == SENTENCES[:3]
    err = capsys.readouterr().err
    assert "classified 3" in err and "skipped 2 empty" in err and f"{source}:2" in err and f"{source}:4" in err
    assert not list(tmp_path.glob("*.partial"))


def test_cli_jsonl_and_csv_keep_ids_order_and_targets(tiny_model_dir, tmp_path):
    rows = [
        {"id": f"x{i}", "text": s, **({"target": "Apple will sell watches"} if i == 2 else {})}
        for i, s in enumerate(SENTENCES)
    ]
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "out.csv"
    assert (
        main(
            ["predict", str(tiny_model_dir), "--input", str(jsonl), "--format", "csv", "-o", str(out), "--no-progress"]
        )
        == 0
    )
    import csv

    written = list(csv.DictReader(out.open()))
    assert [r["id"] for r in written] == [r["id"] for r in rows]
    assert written[2]["target"] == "Apple will sell watches" and written[0]["target"] == DEFAULT_TARGET
    assert all(r["label"] in LABELS for r in written)

    table = tmp_path / "in.csv"
    table.write_text('ref,body\n7,"Moscow, they said, will sell jets."\n8,Fine\n')
    out2 = tmp_path / "out2.jsonl"
    assert (
        main(
            [
                "predict",
                str(tiny_model_dir),
                "--input",
                str(table),
                "--text-column",
                "body",
                "--id-column",
                "ref",
                "-o",
                str(out2),
                "--no-progress",
            ]
        )
        == 0
    )
    got = [json.loads(line) for line in out2.read_text().splitlines()]
    assert [(r["id"], r["text"]) for r in got] == [("7", "Moscow, they said, will sell jets."), ("8", "Fine")]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"fine line\nbad \xff\xfe bytes\n", r"in\.txt:2: row: bytes that are not UTF-8 \(byte 5 of the line\)"),
        (b"\n\n  \n", "nothing to classify"),
    ],
)
def test_cli_bad_txt_input_exits_2_without_output(tiny_model_dir, tmp_path, capsys, content, message):
    source = tmp_path / "in.txt"
    source.write_bytes(content)
    out = tmp_path / "out.jsonl"
    assert main(["predict", str(tiny_model_dir), "--input", str(source), "-o", str(out), "--no-progress"]) == 2
    assert not out.exists() and not list(tmp_path.glob("*.partial"))
    assert re.search(message, capsys.readouterr().err)


def test_cli_bad_files_and_models_exit_2_with_a_clear_message(tiny_model_dir, tmp_path, capsys):
    no_column = tmp_path / "in.csv"
    no_column.write_text("id,body\n1,hello\n")
    assert main(["predict", str(tiny_model_dir), "--input", str(no_column)]) == 2
    assert "no column 'text' (the header has: id, body)" in capsys.readouterr().err

    bad_json = tmp_path / "in.jsonl"
    bad_json.write_text('{"text": "ok"}\n{"body": "no text"}\n{oops\n')
    assert main(["predict", str(tiny_model_dir), "--input", str(bad_json)]) == 2
    err = capsys.readouterr().err
    assert f"{bad_json}:2: text: missing field" in err and f"{bad_json}:3: row: invalid JSON" in err

    assert main(["predict", str(tmp_path / "missing"), "--text", "x"]) == 2
    assert "model folder not found" in capsys.readouterr().err

    generic = _copy_model(tiny_model_dir, tmp_path / "generic")
    config = json.loads((generic / "config.json").read_text())
    config.pop("id2label", None), config.pop("label2id", None)
    (generic / "config.json").write_text(json.dumps(config))
    assert main(["predict", str(generic), "--text", "x"]) == 2
    assert "no usable id2label" in capsys.readouterr().err


def test_cli_article_table_shows_every_sentence_and_the_verdict(tiny_model_dir, capsys):
    article = "data/examples/russia_pakistan_article.txt"
    assert main(["predict", str(tiny_model_dir), "--article", article, "--format", "table", "--quantize"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(article) and "verdict: " in out and "deciding sentences (*)" in out
    assert "Russia Offers Pakistan Counter-Terrorism Equipment" in out and "Mr. Qureshi" in out
    assert (
        main(["predict", str(tiny_model_dir), "--article", article, "--format", "jsonl", "--aggregation", "majority"])
        == 0
    )
    record = json.loads(capsys.readouterr().out)
    assert record["article"] == article and len(record["sentences"]) == 14
    assert sum(record["counts"].values()) == 14 and record["rule"].startswith("majority")


# ---------------------------------------------------------------------------------------------- ONNX backend


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    """An empty STANCE_HOME for the module (so that tests never write into ~/.cache)."""
    pytest.importorskip("onnxruntime", reason="the ONNX backend is an optional extra: pip install 'stance[onnx]'")
    pytest.importorskip("onnxscript", reason="exporting to ONNX needs onnxscript: pip install 'stance[onnx]'")
    cache = tmp_path_factory.mktemp("stance-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STANCE_HOME", str(cache))
        yield cache


def test_onnx_backend_gives_the_same_labels_and_scores_as_torch(clf, tiny_model_dir, onnx_cache, monkeypatch):
    from stance import StanceClassifier
    from stance.inference import onnx as onnx_backend

    before = sorted(p.name for p in tiny_model_dir.iterdir())
    onnx = StanceClassifier.from_pretrained(tiny_model_dir, batch_size=2, backend="onnx")
    assert onnx.backend == "onnx" and clf.backend == "torch" and "onnxruntime" in repr(onnx)
    texts = SENTENCES + [" ".join(["Russia will deliver helicopters to Pakistan."] * 60)]  # one truncated
    with pytest.warns(UserWarning, match="1 of 6"):
        theirs = onnx.predict_proba(texts)
    with pytest.warns(UserWarning, match="1 of 6"):
        ours = clf.predict_proba(texts)
    np.testing.assert_allclose(theirs, ours, atol=1e-4)
    assert (theirs.argmax(1) == ours.argmax(1)).all()
    assert [p.label for p in onnx.predict(SENTENCES[2])] == [clf.predict(SENTENCES[2])[0].label]  # batch of one
    article = "Russia will sell jets to Pakistan. Moscow denied it. Will Moscow arm Islamabad?"
    theirs_article, ours_article = onnx.predict_article(article), clf.predict_article(article)
    assert [s.label for s in theirs_article.sentences] == [s.label for s in ours_article.sentences]
    assert (theirs_article.label, theirs_article.deciding) == (ours_article.label, ours_article.deciding)

    exported = list(onnx_cache.glob("onnx/*/model.onnx"))
    assert exported == [onnx.scorer.backend.path] and sorted(p.name for p in tiny_model_dir.iterdir()) == before
    monkeypatch.setattr(onnx_backend, "export_onnx", lambda *a: pytest.fail("the cached export was not reused"))
    again = StanceClassifier.from_pretrained(tiny_model_dir, backend="onnx")
    assert again.scorer.backend.path == onnx.scorer.backend.path


def test_onnx_backend_is_full_precision_only(tiny_model_dir):
    from stance import StanceClassifier

    for options in ({"quantize": True}, {"bf16": True}):
        with pytest.raises(StanceError, match="full precision"):
            StanceClassifier.from_pretrained(tiny_model_dir, backend="onnx", **options)
    with pytest.raises(StanceError, match="unknown backend 'tensorrt'"):
        StanceClassifier.from_pretrained(tiny_model_dir, backend="tensorrt")


def test_onnx_without_onnxruntime_says_how_to_install_it(tiny_model_dir, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    assert main(["predict", str(tiny_model_dir), "--text", SENTENCES[0], "--onnx"]) == 2
    assert "pip install 'stance[onnx]'" in capsys.readouterr().err


def test_cli_onnx_flag_matches_the_default_backend(tiny_model_dir, onnx_cache, capsys):
    assert main(["predict", str(tiny_model_dir), "--text", *SENTENCES, "--format", "jsonl", "--onnx"]) == 0
    onnx = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert main(["predict", str(tiny_model_dir), "--text", *SENTENCES, "--format", "jsonl"]) == 0
    torch = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["label"] for r in onnx] == [r["label"] for r in torch] and len(onnx) == len(SENTENCES)
    for a, b in zip(onnx, torch):
        assert a["scores"] == pytest.approx(b["scores"], abs=1e-4)
    with pytest.raises(SystemExit):  # argparse: --onnx is full precision, not with --quantize
        main(["predict", str(tiny_model_dir), "--text", "x", "--onnx", "--quantize"])
