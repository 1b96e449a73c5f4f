"""The annotation loop without a server: selection strategies, Label Studio tasks and config, importing a
hand-written export (majority, conflicts, skips, agreement), merging, and every bad input's message."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from stance.annotation.agreement import count_matrix, fleiss_kappa, krippendorff_alpha, measure
from stance.annotation.importer import import_export
from stance.annotation.select import choose, uncertainty
from stance.cli import main
from stance.config import DEFAULT_TARGET
from stance.labels import DEFINITIONS, LABELS

ROOT = Path(__file__).resolve().parents[1]
T = DEFAULT_TARGET


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    return path


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


# ------------------------------------------------------------------------------------------ strategies


def test_uncertainty_by_margin_and_entropy():
    p = np.array([[0.9, 0.05, 0.05], [0.4, 0.35, 0.25], [0.34, 0.33, 0.33], [0.5, 0.5, 0.0]])
    margin = uncertainty(p, "margin")
    assert margin[2] > margin[1] > margin[0] and margin[3] == pytest.approx(1.0)
    entropy = uncertainty(p, "entropy")
    assert entropy.argmax() == 2 and entropy[3] < entropy[1]  # two-way tie: less entropy than a spread
    assert choose(2, "uncertainty", probabilities=p).indices == [3, 2]
    assert choose(2, "uncertainty", probabilities=p, measure="entropy").indices == [2, 1]


def test_per_article_cap_and_seeded_random():
    p = np.tile([0.34, 0.33, 0.33], (6, 1)) + np.linspace(0, 0.05, 6)[:, None] * [1, -1, 0]
    articles = ["a", "a", "a", "b", "b", None]
    picked = choose(4, "uncertainty", probabilities=p, articles=articles, per_article=1)
    assert picked.indices == [0, 3, 5] and picked.capped == 3  # a and b once each; None is its own
    first = choose(3, "random", size=50, seed=1).indices
    assert first == choose(3, "random", size=50, seed=1).indices != choose(3, "random", size=50, seed=2).indices


def test_diverse_spreads_over_the_embedding_space_and_drops_near_duplicates():
    # three clusters; the first is the least sure, so uncertainty alone would take only from it
    centres = np.eye(3)
    vectors = np.stack([centres[i // 3] + 0.01 * (i % 3) for i in range(9)])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    p = np.array([[0.34, 0.33, 0.33]] * 3 + [[0.6, 0.3, 0.1]] * 3 + [[0.8, 0.1, 0.1]] * 3)
    texts = [
        "Russia will deliver helicopters to Pakistan soon",
        "Moscow denied selling tanks to Islamabad",
        "The weather in Karachi was mild",
        "Pakistan signed a contract for Russian engines",
        "Cricket fans filled the stadium on Sunday",
        "Analysts dismissed the reports as rumours",
        "Will Moscow arm Islamabad after all",
        "The pipeline deal covers natural gas only",
        "Joint drills took place in the mountains",
    ]
    pairs = [(t, T) for t in texts]
    assert set(choose(3, "uncertainty", probabilities=p).indices) == {0, 1, 2}
    spread = choose(3, "diverse", probabilities=p, embed=lambda idx: vectors[idx], pairs=pairs)
    assert sorted(i // 3 for i in spread.indices) == [0, 1, 2] and spread.indices[0] in (0, 1, 2)
    # a reprint of a pick (same words) and a reprint of a labelled sentence are never picked
    pairs[1] = (texts[0] + ", officials said", T)
    labelled = [(texts[3].upper(), T)]
    picked = choose(9, "diverse", probabilities=p, embed=lambda idx: vectors[idx], pairs=pairs, labelled_pairs=labelled)
    assert not {0, 1} <= set(picked.indices) and 3 not in picked.indices
    assert picked.near_duplicates == 2 and len(picked.indices) == 7


def test_clusters_takes_the_typical_member_of_each_unsure_region():
    # the same three tight clusters; k-means with uncertainty weights takes each cluster's middle member,
    # the least sure cluster first, where k-center takes edges (and uncertainty alone only cluster 0)
    centres = np.eye(3)
    vectors = np.stack([centres[i // 3] + 0.01 * (i % 3) for i in range(9)])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    p = np.array([[0.34, 0.33, 0.33]] * 3 + [[0.6, 0.3, 0.1]] * 3 + [[0.8, 0.1, 0.1]] * 3)
    words = "helicopters tanks weather engines cricket rumours drills pipeline vaccines".split()
    pairs = [(f"{w.title()} come up in the {k}th report", T) for k, w in enumerate(words)]
    embed = lambda idx: vectors[idx]  # noqa: E731
    assert choose(3, "clusters", probabilities=p, embed=embed, pairs=pairs).indices == [1, 4, 7]
    # near-duplicates (of a pick, of a labelled sentence) are never picked; the cap holds
    pairs[0] = (pairs[1][0] + ", officials said", T)
    labelled = [(pairs[3][0].upper(), T)]
    picked = choose(9, "clusters", probabilities=p, embed=embed, pairs=pairs, labelled_pairs=labelled)
    assert not {0, 1} <= set(picked.indices) and 3 not in picked.indices
    assert picked.near_duplicates == 2 and len(picked.indices) == 7 and len(set(picked.indices)) == 7
    capped = choose(3, "clusters", probabilities=p, embed=embed, pairs=pairs, articles=["a"] * 9, per_article=2)
    assert len(capped.indices) == 2 and capped.capped > 0


# ------------------------------------------------------------------------------------------- agreement


def test_fleiss_kappa_matches_fleiss_1971_worked_example():
    counts = np.array(
        [
            [0, 0, 0, 0, 14],
            [0, 2, 6, 4, 2],
            [0, 0, 3, 5, 6],
            [0, 3, 9, 2, 0],
            [2, 2, 8, 1, 1],
            [7, 7, 0, 0, 0],
            [3, 2, 6, 3, 0],
            [2, 5, 3, 2, 2],
            [6, 5, 2, 1, 0],
            [0, 2, 2, 3, 7],
        ]
    )
    observed, kappa, _ = fleiss_kappa(counts)
    assert observed == pytest.approx(0.378, abs=1e-3) and kappa == pytest.approx(0.210, abs=1e-3)


def test_krippendorff_alpha_matches_the_published_example():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability": 4 coders, 12 units, nominal 0.743
    coders = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    ]
    counts = np.zeros((12, 5))
    for coder in coders:
        for unit, value in enumerate(coder):
            if value is not None:
                counts[unit, value - 1] += 1
    assert krippendorff_alpha(counts) == pytest.approx(0.743, abs=1e-3)


def test_perfect_and_undefined_agreement():
    same = [[("a", "supportive"), ("b", "supportive")], [("a", "denying"), ("b", "denying")]]
    figures = measure(same)
    assert figures.krippendorff_alpha == 1.0 and figures.fleiss_kappa == 1.0 and figures.pairs[0].cohen_kappa == 1.0
    one_label = measure([[("a", "neutral"), ("b", "neutral")]])
    assert one_label.observed == 1.0 and one_label.krippendorff_alpha is None and one_label.fleiss_kappa is None
    assert measure([[("a", "neutral")]]).tasks == 0  # a single vote measures nothing
    assert count_matrix([[("a", "neutral"), ("b", "denying")]]).tolist() == [[0, 1, 1]]


# --------------------------------------------------------------------------- import of a hand-written export


def _ann(who, *labels, cancelled=False, name="stance"):
    result = [{"from_name": name, "to_name": "text", "type": "choices", "value": {"choices": list(labels)}}]
    return {"id": 0, "completed_by": who, "was_cancelled": cancelled, "result": [] if cancelled else result}


def _task(i, text, *annotations, **data):
    return {"id": 100 + i, "data": {"id": f"s{i}", "text": text, "target": T, **data}, "annotations": list(annotations)}


EXPORT = [
    _task(1, "Russia will deliver helicopters.", _ann(1, "supportive"), _ann(2, "supportive"), article_id="A-1",
          source="Wire", date="2020-01-02", context_before="x", uncertainty=0.5),
    _task(2, "Moscow denied any sale.", _ann(1, "denying"), _ann(2, "neutral")),
    _task(3, "Pakistan wants engines.", _ann(1, cancelled=True), _ann(2, "FAVOR")),
    _task(4, "The weather was fine.", _ann(1, cancelled=True)),
    _task(5, "Cricket resumed.", _ann(1, "neutral"), _ann(2, "neutral")),
    _task(6, "No one labelled this."),
    _task(7, "Officials dismissed the reports.", _ann(1, "denying"),
          {**_ann(2, "denying"), "completed_by": {"id": 2, "email": "b@x.org"}}),
]  # fmt: skip


def test_import_hand_written_export_rows_conflicts_counts_and_agreement(tmp_path):
    export = tmp_path / "export.json"
    export.write_text(json.dumps(EXPORT), "utf-8")
    result = import_export(export)
    rows = {r["id"]: r for r in result.rows}
    assert set(rows) == {"s1", "s3", "s5", "s7"}
    assert rows["s1"] == {
        "id": "s1", "text": "Russia will deliver helicopters.", "target": T, "label": "supportive",
        "article_id": "A-1", "source": "Wire", "date": "2020-01-02", "annotators": ["1", "2"], "votes": 2,
        "n_annotations": 2,
    }  # fmt: skip
    assert rows["s3"]["label"] == "supportive" and rows["s3"]["annotators"] == ["2"]  # FAVOR is an alias
    assert rows["s5"]["label"] == "neutral" and rows["s7"]["label"] == "denying"
    assert [(c.id, c.votes) for c in result.conflicts] == [("s2", {"denying": 1, "neutral": 1})]
    assert (result.tasks, result.skipped, result.unannotated, result.cancelled) == (7, 1, 1, 2)
    assert result.annotations == 9 and result.label_counts == {"supportive": 2, "denying": 1, "neutral": 1}
    a = result.agreement  # tasks 1, 2, 5, 7: (S,S) (D,N) (N,N) (D,D)
    assert (a.tasks, a.votes, a.annotators, a.observed) == (4, 8, ["1", "2"], 0.75)
    assert a.fleiss_kappa == pytest.approx((0.75 - 0.34375) / (1 - 0.34375), abs=1e-4)
    assert a.krippendorff_alpha == pytest.approx(1 - 7 * 2 / 42, abs=1e-4)
    assert a.per_label["supportive"]["fleiss_kappa"] == 1.0
    assert a.per_label["denying"]["fleiss_kappa"] == pytest.approx(1 - 1 / (8 * 0.375 * 0.625), abs=1e-4)
    assert a.pairs[0].cohen_kappa == pytest.approx((0.75 - 0.3125) / (1 - 0.3125), abs=1e-4)


def test_import_cli_output_validates_and_merges_without_duplicates(tmp_path, capsys):
    export = tmp_path / "export.json"
    export.write_text(json.dumps(EXPORT), "utf-8")
    out, conflicts, report = tmp_path / "new.jsonl", tmp_path / "conflicts.jsonl", tmp_path / "report.json"
    train = _jsonl(
        tmp_path / "train.jsonl", [{"id": "old-1", "text": "Cricket  resumed.", "target": T, "label": "neutral"}]
    )
    args = ["annotate", "import", str(export), "--output", str(out), "--conflicts", str(conflicts)]
    assert main([*args, "--report", str(report), "--append", str(train)]) == 0
    printed = capsys.readouterr().out
    assert "1 conflict(s)" in printed and "Krippendorff's alpha 0.667" in printed and "conflict:" in printed
    assert "appended 3 new row(s)" in printed and "1 already there" in printed
    assert [r["id"] for r in _lines(conflicts)] == ["s2"]
    assert json.loads(report.read_text())["agreement"]["fleiss_kappa"] == pytest.approx(0.619, abs=1e-3)
    assert [r["id"] for r in _lines(train)] == ["old-1", "s1", "s3", "s7"]  # s5 is old-1's sentence
    assert main(["data", "validate", str(out)]) == 0 and main(["data", "validate", str(train)]) == 0
    merged = tmp_path / "merged.jsonl"
    assert main(["data", "merge", str(train), str(out), "--output", str(merged)]) == 0
    assert "4 example(s)" in capsys.readouterr().out and len(_lines(merged)) == 4


def test_import_joins_repeated_tasks_and_keeps_an_annotators_last_word(tmp_path):
    export = tmp_path / "export.json"
    tasks = [
        _task(1, "Moscow denied the sale.", _ann(1, "neutral"), _ann(1, "denying")),  # 1 changed their mind
        {**_task(2, "moscow  denied the sale.", _ann(2, "denying")), "data": {"text": "moscow  denied the sale.",
                                                                          "target": T}},  # imported twice
    ]  # fmt: skip
    export.write_text(json.dumps(tasks), "utf-8")
    result = import_export(export)
    assert [(r["id"], r["label"], r["annotators"], r["votes"]) for r in result.rows] == [
        ("s1", "denying", ["1", "2"], 2)
    ]
    assert (result.merged, result.replaced, result.agreement.tasks) == (1, 1, 1)


def test_append_with_a_conflicting_label_writes_nothing(tmp_path, capsys):
    export = tmp_path / "export.json"
    export.write_text(json.dumps(EXPORT), "utf-8")
    train = _jsonl(
        tmp_path / "train.jsonl", [{"id": "old", "text": "Cricket resumed.", "target": T, "label": "denying"}]
    )
    before = train.read_bytes()
    out = tmp_path / "new.jsonl"
    assert main(["annotate", "import", str(export), "--output", str(out), "--append", str(train)]) == 2
    err = capsys.readouterr().err
    assert "import of" in err and "'neutral' for the same target and text as" in err and f"{train}:1" in err
    assert train.read_bytes() == before and not out.exists()
    argv = ["annotate", "import", str(export), "--output", str(out), "--append", str(train), "--on-conflict", "last"]
    assert main(argv) == 0 and "1 relabelled" in capsys.readouterr().out
    assert [(r["id"], r["label"]) for r in _lines(train)] == [  # the later row replaces the earlier
        ("s5", "neutral"), ("s1", "supportive"), ("s3", "supportive"), ("s7", "denying")
    ]  # fmt: skip


def test_merge_conflicting_labels_is_an_error_unless_a_policy_settles_it(tmp_path, capsys):
    a = _jsonl(tmp_path / "a.jsonl", [{"id": "1", "text": "Moscow denied it.", "target": T, "label": "denying"}])
    b = _jsonl(tmp_path / "b.jsonl", [{"id": "2", "text": "moscow denied it.", "target": T, "label": "neutral"}])
    out = tmp_path / "out.jsonl"
    assert main(["data", "merge", str(a), str(b), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{b}:1: label: 'neutral' for the same target and text as {a}:1, labelled 'denying'" in err
    assert "--on-conflict" in err and not out.exists()
    assert main(["data", "merge", str(a), str(b), "--output", str(out), "--on-conflict", "last"]) == 0
    assert [(r["id"], r["label"]) for r in _lines(out)] == [("2", "neutral")]
    c = _jsonl(tmp_path / "c.jsonl", [{"id": "1", "text": "Another sentence.", "target": T, "label": "neutral"}])
    assert main(["data", "merge", str(a), str(c), "--output", str(out), "--overwrite"]) == 2
    assert "'1' is also the id of a different sentence at" in capsys.readouterr().err


BAD_EXPORTS = {
    "object": ({"tasks": []}, "not a Label Studio JSON export: expected a list of tasks, got an object"),
    "tasks file": ([{"data": {"text": "x", "target": T}}], "task 1: annotations: missing: a tasks file"),
    "flat rows": ([{"text": "x", "sentiment": "a"}], "task 1: data: not a Label Studio task"),
    "not ours": ([_task(1, "x", _ann(1, "Positive sentiment"))], "unknown label 'Positive sentiment'"),
    "twice": ([_task(1, "x", _ann(1, "supportive", "favor"))], "names 'supportive' twice"),
    "two labels": ([_task(1, "x", _ann(1, "supportive", "denying"))], "names 2 labels (supportive, denying)"),
    "no text": ([{"id": 5, "data": {"target": T}, "annotations": []}], "task 1 (id 5): data.text: missing"),
    "no target": ([{"data": {"text": "x"}, "annotations": []}], "task 1: data.target: missing target"),
    "two controls": (
        [_task(1, "x", {"result": [*_ann(1, "neutral")["result"], *_ann(1, "neutral", name="other")["result"]]})],
        "choices from several controls (other, stance); pass --from-name",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_EXPORTS))
def test_bad_exports_are_one_clear_message_and_exit_2(tmp_path, capsys, case):
    content, message = BAD_EXPORTS[case]
    export = tmp_path / "export.json"
    export.write_text(json.dumps(content), "utf-8")
    assert main(["annotate", "import", str(export), "--output", str(tmp_path / "out.jsonl")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and not (tmp_path / "out.jsonl").exists()
    if case == "not ours":
        assert "known labels (stance.labels.ALIASES)" in err


def test_export_with_bad_bytes_or_broken_json(tmp_path, capsys):
    export = tmp_path / "export.json"
    export.write_bytes(b'[\n{"data": {"text": "caf\xe9"}}]')
    assert main(["annotate", "import", str(export), "--output", str(tmp_path / "o.jsonl")]) == 2
    assert f"{export}:2: bytes that are not UTF-8" in capsys.readouterr().err
    export.write_text('[{"data": ', "utf-8")
    assert main(["annotate", "import", str(export), "--output", str(tmp_path / "o.jsonl")]) == 2
    assert f"{export}:1: invalid JSON" in capsys.readouterr().err


# ------------------------------------------------------------------------- config and selection with a model


def test_labeling_config_matches_the_tasks_names_and_labels(capsys):
    assert main(["annotate", "config"]) == 0
    view = ET.fromstring(capsys.readouterr().out)
    choices = view.find(".//Choices")
    assert (choices.get("name"), choices.get("toName")) == ("stance", "text")
    assert [c.get("value") for c in choices.findall("Choice")] == list(LABELS)
    assert [c.get("hint") for c in choices.findall("Choice")] == [DEFINITIONS[label] for label in LABELS]
    texts = {t.get("name"): t.get("value") for t in view.iter("Text")}
    assert texts == {k: f"${k}" for k in ("target", "context_before", "text", "context_after")}


def _pool(tmp_path: Path) -> Path:
    rows = [
        {"id": f"p{i}", "text": text, "article_id": f"art{i % 3}", "position": i // 3, "source": "Wire"}
        for i, text in enumerate(
            [
                "Russia will deliver four Mi-35M helicopters to Pakistan this year",
                "Moscow will not sell defence equipment to Islamabad.",
                "The two countries held joint drills.",
                "Analysts said the deal was fake news.",
                "Pakistan signed a contract for Russian engines.",
                "The weather in Islamabad was mild.",
                "Will Moscow arm Islamabad?",
                "Officials denied that any contract was signed.",
            ]
        )
    ]
    rows.append({"id": "p8", "text": "  ", "article_id": "art2"})  # empty: skipped and counted
    rows.append({"id": "p9", "text": "the two countries  held joint drills.", "article_id": "art0"})  # repeat
    return _jsonl(tmp_path / "pool.jsonl", rows)


@pytest.mark.parametrize("strategy", ["uncertainty", "diverse", "clusters", "random"])
def test_select_label_studio_tasks(tiny_model_dir, tmp_path, capsys, strategy):
    pool, out = _pool(tmp_path), tmp_path / "tasks.json"
    labelled = _jsonl(tmp_path / "train.jsonl", [{"text": "Will Moscow arm  Islamabad?", "label": "neutral"}])
    args = ["annotate", "select", str(tiny_model_dir), "--pool", str(pool), "--n", "4", "--output", str(out)]
    assert main([*args, "--strategy", strategy, "--format", "label-studio", "--exclude", str(labelled)]) == 0
    err = capsys.readouterr().err
    assert f"selected 4 of 7 candidate(s) by {strategy}" in err
    assert "1 already labelled, 1 repeated, 1 empty" in err
    tasks = json.loads(out.read_text("utf-8"))
    assert len(tasks) == 4 and len({t["data"]["id"] for t in tasks}) == 4
    for task in tasks:
        data, prediction = task["data"], task["predictions"][0]
        assert data["target"] == T and data["source"] == "Wire" and data["text"] != "Will Moscow arm Islamabad?"
        assert {"context_before", "context_after", "article_id", "uncertainty"} <= set(data)
        result = prediction["result"][0]
        assert (result["from_name"], result["to_name"], result["type"]) == ("stance", "text", "choices")
        assert result["value"]["choices"][0] in LABELS and 0 < prediction["score"] <= 1
        assert prediction["model_version"] == str(tiny_model_dir)
    p4 = next((t["data"] for t in tasks if t["data"]["id"] == "p4"), None)
    if p4 is not None:  # art1 holds p1, p4, p7 in this order
        assert p4["context_before"] == "Moscow will not sell defence equipment to Islamabad."
        assert p4["context_after"] == "Officials denied that any contract was signed."


def test_select_jsonl_per_article_and_more_than_the_pool(tiny_model_dir, tmp_path, capsys):
    pool, out = _pool(tmp_path), tmp_path / "picked.jsonl"
    args = ["annotate", "select", str(tiny_model_dir), "--pool", str(pool), "--output", str(out)]
    assert main([*args, "--n", "50", "--per-article", "2", "--measure", "entropy"]) == 0
    err = capsys.readouterr().err
    assert "--n 50 is more than the 8 candidate(s) left: taking all of them" in err
    rows = _lines(out)
    assert len(rows) == 6 and "2 passed over by --per-article" in err
    assert all(sum(r["article_id"] == a for r in rows) <= 2 for a in ("art0", "art1", "art2"))
    assert [r["rank"] for r in rows] == list(range(1, 7)) and all(r["predicted"] in LABELS for r in rows)
    assert main(["data", "validate", "--unlabelled", str(out)]) == 0


def test_select_from_article_files(tiny_model_dir, tmp_path, capsys):
    article = ROOT / "data" / "examples" / "russia_pakistan_article.txt"
    out = tmp_path / "picked.jsonl"
    argv = ["annotate", "select", str(tiny_model_dir), "--articles", str(article), "--n", "3", "--output", str(out)]
    assert main([*argv, "--strategy", "diverse"]) == 0
    rows = _lines(out)
    assert len(rows) == 3 and all(r["article_id"] == "russia_pakistan_article" for r in rows)
    assert all(r["id"].startswith("russia_pakistan_article-s") for r in rows)


BAD_POOLS = {
    "bytes": (b'{"text": "ok"}\n{"text": "caf\xe9"}\n', ".jsonl", ":2: row: bytes that are not UTF-8"),
    "json": (b'{"text": "ok"}\n{"text": \n', ".jsonl", ":2: row: invalid JSON"),
    "column": (b"id,sentence\n1,hello\n", ".csv", ":1: no column 'text' (the header has: id, sentence)"),
}


@pytest.mark.parametrize("case", sorted(BAD_POOLS))
def test_bad_pools_name_file_and_line(tiny_model_dir, tmp_path, capsys, case):
    content, suffix, message = BAD_POOLS[case]
    pool = tmp_path / f"pool{suffix}"
    pool.write_bytes(content)
    out = tmp_path / "out.json"
    assert main(["annotate", "select", str(tiny_model_dir), "--pool", str(pool), "--n", "1", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{pool}{message}" in err and "Traceback" not in err and not out.exists()


def test_embeddings_are_normalised_and_follow_the_pair(tiny_model_dir):
    from stance.inference.embeddings import embed_pairs
    from stance.modeling.loading import load_trained

    trained = load_trained(tiny_model_dir)
    texts = ["Russia sells tanks.", "The weather was mild today in the capital.", "Russia sells tanks."]
    vectors = embed_pairs(trained, [T, T, T], texts, batch_size=2)
    assert vectors.shape == (3, trained.model.config.hidden_size)
    assert np.linalg.norm(vectors, axis=1) == pytest.approx(1.0, abs=1e-5)
    assert vectors[0] @ vectors[2] == pytest.approx(1.0, abs=1e-5) and vectors[0] @ vectors[1] < 0.9999


@pytest.mark.slow
def test_bench_annotate_smoke_on_the_tiny_config(tmp_path):
    out = tmp_path / "bench"
    command = [sys.executable, str(ROOT / "scripts" / "bench_annotate.py"), "--config", "configs/tiny.yaml"]
    command += ["--start", "8", "--step", "8", "--rounds", "2", "--seeds", "1", "--epochs", "1", "--output", str(out)]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    for strategy in ("uncertainty", "diverse", "random"):
        assert strategy in run.stdout
    assert "labels to reach random's macro-F1 at 16" in run.stdout
    assert (out / "learning_curve.png").stat().st_size > 1000
    results = json.loads((out / "results.json").read_text())
    assert set(results["curves"]) == {"uncertainty", "diverse", "random"}
    assert all(len(curve["labels"]) == 2 for curve in results["curves"].values())


def _bench_results(path, seeds, curves):
    path.write_text(
        json.dumps(
            {
                "config": "configs/fast.yaml",
                "budgets": [100, 200],
                "epochs": None,
                "seed_list": seeds,
                "seeds": len(seeds),
                "curves": {s: {"labels": [100, 200], "macro_f1": c} for s, c in curves.items()},
            }
        )
    )
    return str(path)


def test_bench_annotate_combines_seeds_from_separate_runs(tmp_path):
    script = [sys.executable, str(ROOT / "scripts" / "bench_annotate.py")]
    a = _bench_results(tmp_path / "a.json", [0], {"uncertainty": [[0.5, 0.9]], "random": [[0.5, 0.7]]})
    b = _bench_results(tmp_path / "b.json", [1], {"uncertainty": [[0.6, 0.7]], "random": [[0.6, 0.9]]})
    run = subprocess.run([*script, "--combine", a, b, "--output", str(tmp_path / "out")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    pooled = json.loads((tmp_path / "out" / "results.json").read_text())
    assert pooled["seed_list"] == [0, 1] and pooled["seeds"] == 2
    assert pooled["curves"]["uncertainty"]["macro_f1"] == [[0.5, 0.9], [0.6, 0.7]]
    assert pooled["curves"]["random"]["mean"] == [0.55, 0.8] and pooled["random_goal"] == 0.8
    assert pooled["labels_needed"]["uncertainty"] == pytest.approx(200.0)  # its mean reaches 0.8 only at 200
    again = subprocess.run([*script, "--combine", a, a], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "seed(s) [0] already in an earlier file" in again.stderr
    other = _bench_results(tmp_path / "c.json", [2], {"random": [[0.5, 0.6]]})
    mixed = subprocess.run([*script, "--combine", a, other], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert mixed.returncode == 2 and "uncertainty has seeds [0] but random has [0, 2]" in mixed.stderr
    c = tmp_path / "c.json"
    c.write_text(c.read_text().replace("configs/fast.yaml", "configs/default.yaml"))
    mixed = subprocess.run([*script, "--combine", a, str(c)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert mixed.returncode == 2 and "another simulation" in mixed.stderr


def test_bench_annotate_pools_a_strategy_run_later_without_random(tmp_path):
    # seeds 0 and 1 of uncertainty and random in one file; clusters on the same seeds, run later alone
    script = [sys.executable, str(ROOT / "scripts" / "bench_annotate.py")]
    a = _bench_results(
        tmp_path / "a.json", [0, 1], {"uncertainty": [[0.5, 0.7], [0.5, 0.8]], "random": [[0.5, 0.7], [0.5, 0.9]]}
    )
    b = _bench_results(tmp_path / "b.json", [1, 0], {"clusters": [[0.5, 0.9], [0.5, 0.85]]})
    run = subprocess.run([*script, "--combine", a, b, "--output", str(tmp_path / "out")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    pooled = json.loads((tmp_path / "out" / "results.json").read_text())
    assert pooled["seed_list"] == [0, 1] and pooled["curves"]["clusters"]["macro_f1"] == [[0.5, 0.85], [0.5, 0.9]]
    assert pooled["random_goal"] == 0.8 and pooled["labels_needed"]["clusters"] == pytest.approx(
        100 + 100 * 0.3 / 0.375
    )
    assert pooled["labels_needed"]["uncertainty"] is None and "goal (best strategy" in run.stdout
    c = _bench_results(tmp_path / "c.json", [0], {"diverse": [[0.5, 0.6]]})  # diverse on one seed only
    uneven = subprocess.run([*script, "--combine", a, b, c], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert uneven.returncode == 2 and "diverse has seeds [0] but random has [0, 1]" in uneven.stderr
    some = [*script, "--combine", a, b, c, "--strategies", "clusters", "--output", str(tmp_path / "some")]
    assert subprocess.run(some, cwd=ROOT, capture_output=True, text=True, timeout=120).returncode == 0
    assert set(json.loads((tmp_path / "some" / "results.json").read_text())["curves"]) == {"clusters", "random"}
    alone = subprocess.run([*script, "--combine", b], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert alone.returncode == 2 and "no random curves" in alone.stderr
    twice = subprocess.run([*script, "--combine", a, b, b], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert twice.returncode == 2 and "clusters seed(s) [0, 1] already in an earlier file" in twice.stderr


def test_cli_and_bench_offer_the_library_strategies():
    # the CLI names them without importing the library (fast --help); they must stay the same list
    from stance.annotation.select import MEASURES, STRATEGIES
    from stance.cli import build_parser

    annotate = build_parser()._subparsers._group_actions[0].choices["annotate"]
    select = annotate._subparsers._group_actions[0].choices["select"]
    options = {a.dest: a for a in select._actions}
    assert tuple(options["strategy"].choices) == STRATEGIES and tuple(options["measure"].choices) == MEASURES
    bench = (ROOT / "scripts" / "bench_annotate.py").read_text(encoding="utf-8")
    assert "STRATEGIES = " + repr(STRATEGIES).replace("'", '"') in bench
