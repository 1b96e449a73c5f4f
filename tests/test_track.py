"""``stance track``: reading collections, the summary's figures, the cache, bad input, the error matrix."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from stance.cli import main
from stance.coverage.aggregate import Accumulator, Adjuster, Cell, acc, wilson
from stance.coverage.collection import CollectionColumns, parse_date, period_key, period_start
from stance.coverage.scoring import score_level, score_out_of_fold
from stance.coverage.tracking import track
from stance.errors import StanceError
from stance.evaluation.error_matrix import ErrorMatrix, read_error_matrix
from stance.inference.articles import AggregationRule, aggregate
from stance.inference.scorer import Scored
from stance.labels import LABELS

SOURCES = ("Delhi Courier", "Islamabad Ledger", "Neva News")
POOL = (
    "Russia will deliver attack helicopters to Pakistan next year.",
    "Moscow has denied reports of any arms deal with Islamabad.",
    "The two countries held joint drills in the mountains.",
    "Officials said a contract for armoured vehicles was signed on Monday.",
    "Russian diplomats dismissed the reports as fake news.",
    "Markets in Karachi closed higher on Tuesday.",
    "Will the offer turn into signed contracts?",
)
MATRIX = [[40, 4, 6], [3, 42, 5], [8, 7, 35]]  # a plausible held-out matrix: rows gold, columns predicted


def sentence_rows(n_articles: int, start: int = 0, edit: int | None = None) -> list[dict]:
    """Sentence rows of ``n_articles`` synthetic articles (3 to 6 sentences), the corpus's form."""
    rows = []
    for a in range(start, start + n_articles):
        day = dt.date(2020, 1, 1) + dt.timedelta(days=9 * a)
        for position in range(3 + a % 4):
            text = POOL[(a * 3 + position) % len(POOL)]
            if a == edit and position == 0:
                text = "An edited headline about helicopters"
            rows.append(
                {
                    "id": f"s{a}-{position}",
                    "text": text,
                    "article_id": f"A-{a:03d}",
                    "source": SOURCES[a % len(SOURCES)],
                    "date": day.isoformat(),
                    "position": position,
                }
            )
    return rows


def write_jsonl(rows: list[dict], path: Path) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def write_matrix(model_dir: Path, counts: list[list[int]] = MATRIX) -> None:
    """A schema-1 matrix: counts only (ACC)."""
    record = {"labels": list(LABELS), "counts": counts, "split": "test", "path": "held-out.jsonl", "n": 150}
    record["n"] = int(np.sum(counts))
    (model_dir / "stance_error_matrix.json").write_text(json.dumps(record), encoding="utf-8")


def held_out_examples(counts: list[list[int]] = MATRIX, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gold ids and probabilities whose argmax reproduces ``counts`` (rows gold, columns predicted)."""
    rng = np.random.default_rng(seed)
    gold, scores = [], []
    for g, row in enumerate(counts):
        for predicted, count in enumerate(row):
            for _ in range(count):
                rest = rng.dirichlet([1.0, 1.0]) * rng.uniform(0.05, 0.5)
                probabilities = np.insert(rest, predicted, 1 - rest.sum())
                gold.append(g)
                scores.append(probabilities)
    return np.array(gold), np.array(scores)


def write_soft_matrix(model_dir: Path) -> ErrorMatrix:
    """A schema-2 matrix: the held-out examples' probabilities too (PACC), as `stance train` stores it."""
    gold, scores = held_out_examples()
    matrix = ErrorMatrix.from_examples(gold, scores, "test", "held-out.jsonl", targets=("Russia arms Pakistan",))
    (model_dir / "stance_error_matrix.json").write_text(json.dumps(matrix.to_dict()), encoding="utf-8")
    return matrix


@pytest.fixture(scope="module")
def models(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Copies of the tiny model: with a usable error matrix (schema 2: PACC; schema 1: ACC), and with none."""
    root = tmp_path_factory.mktemp("track-models")
    out = {}
    for name in ("matrix", "counts", "bare"):
        out[name] = Path(shutil.copytree(tiny_model_dir, root / name))
        (out[name] / "stance_error_matrix.json").unlink(missing_ok=True)
    write_soft_matrix(out["matrix"])
    write_matrix(out["counts"])
    return out


@pytest.fixture(scope="module")
def classifier(tiny_model_dir: Path):
    from stance import StanceClassifier

    return StanceClassifier.from_pretrained(tiny_model_dir)


def run(model: Path, collection: Path, out: Path, classifier, **kwargs):
    return track(model, collection, out, classifier=classifier, progress=False, draws=300, **kwargs)


# --------------------------------------------------------------------------------------------- end to end


def test_sentence_rows_give_every_output_with_adjusted_figures(models, classifier, tmp_path):
    collection = write_jsonl(sentence_rows(12), tmp_path / "coverage.jsonl")
    result = run(models["matrix"], collection, tmp_path / "out", classifier, period="quarter")
    out = tmp_path / "out"
    names = {p.name for p in out.iterdir()}
    assert {"articles.jsonl", "summary.csv", "summary.json", "report.html", "report.md", "cache"} <= names
    assert {"shares_over_time.png", "source_stance_heatmap.png", "articles_over_time.png"} <= names
    assert not [n for n in names if n.startswith(".")]  # no staging folder left behind
    articles = [json.loads(line) for line in (out / "articles.jsonl").read_text().splitlines()]
    assert [a["id"] for a in articles] == [f"A-{a:03d}" for a in range(12)]
    for article in articles:
        assert sum(article["counts"].values()) == article["sentences"] == 3 + int(article["id"][2:]) % 4
        assert article["verdict"] in ("supportive", "denying", "neutral", "mixed") and article["deciding"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["adjusted"] and summary["input_form"] == "sentence rows" and summary == result.summary
    assert summary["adjustment"] == "PACC" and "scores" not in summary["error_matrix"]  # no per-example copy
    assert any("by PACC, from the probabilities" in note for note in summary["notes"])
    total = next(r for r in summary["rows"] if r["source"] == "(all)" and r["period"] == "(all)")
    assert total["articles"] == 12 and total["sentences"] == sum(a["sentences"] for a in articles)
    assert {r["period"] for r in summary["rows"]} == {"2020-Q1", "2020-Q2", "(all)"}
    for row in summary["rows"]:
        assert sum(v["count"] for v in row["verdicts"].values()) == row["articles"]
        for figures in (*row["verdicts"].values(), *row["raw"].values(), *row["adjusted"].values()):
            if figures["low"] is not None:
                assert figures["low"] - 1e-9 <= figures["share"] <= figures["high"] + 1e-9
        assert sum(f["share"] for f in row["adjusted"].values()) == pytest.approx(1.0)
    with open(out / "summary.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == len(summary["rows"]) and table[0]["adjusted_denying"] != ""
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 4 and page.count('class="sortable"') == 1 + 1 + len(SOURCES)
    assert "held-out.jsonl" in page and "(all)" in (out / "report.md").read_text()


def test_a_counts_only_matrix_still_adjusts_by_acc_and_says_so(models, classifier, tmp_path):
    collection = write_jsonl(sentence_rows(8), tmp_path / "coverage.jsonl")
    summary = run(models["counts"], collection, tmp_path / "out", classifier).summary
    assert summary["adjusted"] and summary["adjustment"] == "ACC"
    assert any("by ACC, from the held-out confusion counts" in note for note in summary["notes"])
    total = next(r for r in summary["rows"] if r["source"] == "(all)" and r["period"] == "(all)")
    raw = np.array([total["raw"][label]["share"] for label in LABELS])
    expected = acc(raw, ErrorMatrix(np.array(MATRIX), "test", "x").rates())
    assert [total["adjusted"][label]["share"] for label in LABELS] == pytest.approx(expected)


def test_a_grown_and_edited_collection_reuses_the_cache_and_equals_a_fresh_run(models, classifier, tmp_path):
    first = write_jsonl(sentence_rows(10), tmp_path / "v1.jsonl")
    out = tmp_path / "out"
    assert run(models["matrix"], first, out, classifier).summary["run"]["classified"] == 10
    grown = write_jsonl(sentence_rows(10, edit=4) + sentence_rows(5, start=10), tmp_path / "v2.jsonl")
    again = run(models["matrix"], grown, out, classifier)
    assert again.summary["run"] | {"seconds": 0} == {
        "engine": "local",
        "ray": None,
        "classified": 6,  # 5 new articles and the edited one
        "reused": 9,
        "sentences_classified": sum(3 + a % 4 for a in [4, *range(10, 15)]),
        "truncated": again.summary["run"]["truncated"],
        "seconds": 0,
    }
    fresh = run(models["matrix"], grown, tmp_path / "fresh", classifier, use_cache=False)
    assert fresh.summary["run"]["reused"] == 0 and not (tmp_path / "fresh" / "cache").exists()
    assert fresh.rows == again.rows
    assert (tmp_path / "fresh" / "articles.jsonl").read_text() == (out / "articles.jsonl").read_text()
    assert (tmp_path / "fresh" / "summary.csv").read_text() == (out / "summary.csv").read_text()


def test_one_article_a_row_csv_with_mapped_columns_time_zones_and_a_window(models, classifier, tmp_path):
    path = tmp_path / "coverage.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["key", "body", "outlet", "published", "headline"])
        writer.writerow(["a1", POOL[0] + " " + POOL[2], "Delhi Courier", "2021-03-01T23:30:00+05:30", "Arms deal"])
        writer.writerow(["a2", POOL[1] + " " + POOL[4], "Neva News", "2021-03-02T10:00:00Z", ""])
        writer.writerow(["a3", "   ", "Neva News", "2021-03-03", ""])  # empty: skipped and named
        writer.writerow(["a4", POOL[3], "Delhi Courier", "2021-03-09 08:00", ""])
        writer.writerow(["a5", POOL[5], "Delhi Courier", "2022-01-01", ""])  # after --until
    columns = CollectionColumns(id="key", text="body", source="outlet", date="published", title="headline")
    result = run(models["bare"], path, tmp_path / "out", classifier, columns=columns, period="week", until="2021-12-31")
    counts = result.summary["articles"]
    assert counts["read"] == 5 and counts["tracked"] == 3 and counts["empty"] == 1 and counts["outside_range"] == 1
    assert "a3 (" in counts["empty_articles"][0] and "coverage.csv:4" in counts["empty_articles"][0]
    lines = [json.loads(line) for line in (tmp_path / "out" / "articles.jsonl").read_text().splitlines()]
    assert [(a["id"], a["date"], a["period"]) for a in lines] == [
        ("a1", "2021-03-01", "2021-W09"),  # the calendar date as written, whatever the zone
        ("a2", "2021-03-02", "2021-W09"),
        ("a4", "2021-03-09", "2021-W10"),
    ]
    assert lines[0]["sentences"] == 3 and lines[0]["title"] == "Arms deal"  # the title is the first sentence
    assert result.summary["input_form"] == "one article a row"
    assert any("empty article(s) skipped" in note for note in result.notes)


def test_without_a_usable_matrix_figures_are_raw_only_with_a_note(models, classifier, tmp_path):
    collection = write_jsonl(sentence_rows(6), tmp_path / "c.jsonl")
    bare = run(models["bare"], collection, tmp_path / "bare", classifier)
    assert not bare.summary["adjusted"] and all(row["adjusted"] is None for row in bare.rows)
    assert "No held-out error matrix" in bare.notes[0]
    assert "No held-out error matrix" in (tmp_path / "bare" / "report.html").read_text()
    with open(tmp_path / "bare" / "summary.csv", newline="") as handle:
        assert all(row["adjusted_supportive"] == "" for row in csv.DictReader(handle))
    model = Path(shutil.copytree(models["bare"], tmp_path / "model"))
    write_matrix(model, [[2, 0, 0], [2, 0, 0], [2, 0, 0]])  # a model that calls everything supportive
    singular = run(model, collection, tmp_path / "singular", classifier)
    assert not singular.summary["adjusted"] and "cannot adjust: it is singular" in singular.notes[0]
    write_matrix(model, [[5, 1, 0], [0, 0, 0], [1, 1, 4]])
    unknown = run(model, collection, tmp_path / "unknown", classifier)
    assert "no held-out example of denying" in unknown.notes[0] and unknown.rows[0]["adjusted"] is None


def test_mixed_articles_in_a_collection(models, classifier, tmp_path, monkeypatch):
    """The same rule as predict_article: 2 supportive and 2 denying sentences of 5 make a mixed article."""
    layouts = {"A": (0, 1, 3, 4, 2), "B": (0, 3, 2), "C": (1, 2, 5)}  # POOL indices; index % 3 = s, d, n
    rows = [
        {"id": f"{a}{i}", "text": POOL[k], "article_id": a, "source": "S", "date": "2020-05-01", "position": i}
        for a, picks in layouts.items()
        for i, k in enumerate(picks)
    ]
    collection = write_jsonl(rows, tmp_path / "c.jsonl")

    def score(targets, texts, **_):
        letters = ["sdn"[POOL.index(t) % 3] for t in texts]
        probabilities = np.array([[0.8 if "sdn"[j] == x else 0.1 for j in range(3)] for x in letters])
        return Scored(probabilities.astype(np.float32), 0)

    monkeypatch.setattr(classifier.scorer, "score", score)
    result = run(models["bare"], collection, tmp_path / "out", classifier, use_cache=False)
    lines = [json.loads(line) for line in (tmp_path / "out" / "articles.jsonl").read_text().splitlines()]
    assert {a["id"]: a["verdict"] for a in lines} == {"A": "mixed", "B": "supportive", "C": "neutral"}
    for a in lines:  # exactly what aggregate() says of the same sentences
        probabilities = score(None, [POOL[k] for k in layouts[a["id"]]]).probabilities
        assert a["verdict"] == aggregate(probabilities, AggregationRule()).label
    assert {d["label"] for d in lines[0]["deciding"]} == {"supportive", "denying"}
    total = next(row for row in result.rows if row["source"] == "(all)" and row["period"] == "(all)")
    assert total["verdicts"]["mixed"]["count"] == 1 and total["verdicts"]["mixed"]["share"] == pytest.approx(1 / 3)


# ----------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "rows, args, message",
    [
        ([{"id": "a", "text": "x", "source": "S"}], [], "c.jsonl:1: no 'date' column"),
        (
            [{"id": "a", "text": "x", "source": "S", "date": "2020-01-01"}, {"id": "b", "text": "y", "source": "S"}],
            [],
            "c.jsonl:2: date: missing date",
        ),
        ([{"id": "a", "text": "x", "source": "S", "date": "2020-13-01"}], [], "c.jsonl:1: date: '2020-13-01' is not"),
        ([{"id": "a", "text": "x", "date": "2020-01-01"}], [], "c.jsonl:1: no 'source' column"),
        (
            [{"id": "a", "text": "x", "source": "S", "date": "2020-01-01"}] * 2,
            [],
            "c.jsonl:2: id: article id 'a' again (duplicate; first at",
        ),
        (
            [{**r, "article_id": r["article_id"] if i != 4 else "A-000"} for i, r in enumerate(sentence_rows(2))],
            [],
            "its rows do not stand together",
        ),
        (
            [{"id": "a", "text": "x", "source": "S", "date": "2020-01-01"}],
            ["--since", "2021-01-01", "--until", "2020-06-01"],
            "--since 2021-01-01 is after --until 2020-06-01",
        ),
        ([{"id": "a", "text": "x", "source": "S", "date": "2020-01-01"}], ["--since", "last week"], "not a date"),
    ],
)
def test_bad_input_is_one_clear_error_and_writes_nothing(models, tmp_path, capsys, rows, args, message):
    collection = write_jsonl(rows, tmp_path / "c.jsonl")
    out = tmp_path / "out"
    assert main(["track", str(models["bare"]), "--input", str(collection), "--output", str(out), *args]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_a_missing_source_column_in_a_table_names_the_header(models, tmp_path, capsys):
    path = tmp_path / "c.csv"
    path.write_text("id,text,date\na,Some text.,2020-01-01\n")
    assert main(["track", str(models["bare"]), "-i", str(path), "-o", str(tmp_path / "o"), "--period", "week"]) == 2
    assert "c.csv:1: no 'source' column (the row has: id, text, date); name it with --source-column" in (
        capsys.readouterr().err
    )
    with pytest.raises(SystemExit) as stop:  # an unknown period: argparse's own message, exit 2
        main(["track", str(models["bare"]), "-i", str(path), "-o", str(tmp_path / "o"), "--period", "fortnight"])
    assert stop.value.code == 2
    with pytest.raises(StanceError, match="unknown period 'fortnight'; choose one of day, week"):
        track(models["bare"], path, tmp_path / "o", period="fortnight")


def test_a_foreign_output_folder_is_refused(models, classifier, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    collection = write_jsonl(sentence_rows(2), tmp_path / "c.jsonl")
    with pytest.raises(StanceError, match="already exists; pass --overwrite"):
        run(models["bare"], collection, tmp_path / "out", classifier)


# ---------------------------------------------------------------------------------------- the error matrix


def test_training_stores_the_held_out_matrix_and_evaluate_can_too(tiny_run, models, tmp_path, capsys):
    stored = read_error_matrix(tiny_run.model_dir)
    metrics = json.loads((tiny_run.output_dir / "report" / "metrics.json").read_text())
    assert stored is not None and stored.counts.tolist() == metrics["confusion_matrix"]["counts"]
    assert stored.split == "test" and stored.path.endswith("tiny_test.jsonl") and stored.n == 6
    predictions = [json.loads(line) for line in (tiny_run.output_dir / "report" / "predictions.jsonl").open()]
    assert stored.method == "PACC" and [LABELS[g] for g in stored.gold] == [row["gold"] for row in predictions]
    assert stored.scores[:, 0] == pytest.approx([row["scores"][LABELS[0]] for row in predictions], abs=1e-6)
    model = Path(shutil.copytree(models["bare"], tmp_path / "model"))
    report = tmp_path / "report"
    assert main(["evaluate", str(model), "tests/data/tiny_dev.jsonl", "-o", str(report), "--store-error-matrix"]) == 0
    assert read_error_matrix(model).n == 7 and "error matrix:" in capsys.readouterr().out
    train_file = ["evaluate", str(model), "tests/data/tiny_train.jsonl", "-o", str(report), "--store-error-matrix"]
    assert main(train_file) == 2 and "the model's training data" in capsys.readouterr().err


def test_a_malformed_matrix_is_an_error(tmp_path):
    (tmp_path / "stance_error_matrix.json").write_text(json.dumps({"labels": ["a", "b"], "counts": [], "path": "x"}))
    with pytest.raises(StanceError, match="labels: expected supportive, denying, neutral"):
        read_error_matrix(tmp_path)
    write_matrix(tmp_path, [[1, 2], [3, 4]])
    with pytest.raises(StanceError, match="counts: expected a 3x3 table"):
        read_error_matrix(tmp_path)


# ------------------------------------------------------------------------------------------- the statistics


def test_acc_recovers_a_known_prevalence_and_clips_to_the_simplex():
    matrix = ErrorMatrix(np.array(MATRIX), "test", "x")
    truth = np.array([0.5, 0.2, 0.3])
    observed = matrix.rates() @ truth  # what the classifier's errors make of the truth
    assert acc(observed, matrix.rates()) == pytest.approx(truth)
    assert acc(np.array([1.0, 0.0, 0.0]), matrix.rates()).min() == 0.0  # clipped, sums to 1
    adjuster = Adjuster(matrix, draws=500, seed=1)
    estimate = adjuster.estimate(observed, np.eye(3) * 1e-4, "cell")
    assert [estimate[label]["share"] for label in LABELS] == pytest.approx(truth)
    assert all(estimate[label]["low"] < estimate[label]["share"] < estimate[label]["high"] for label in LABELS)
    singular = ErrorMatrix(np.array([[2, 0, 0], [2, 0, 0], [2, 0, 0]]), "test", "x")
    assert acc(observed, singular.rates()) is None


def test_pacc_recovers_a_known_prevalence_from_held_out_probabilities(tmp_path):
    gold, scores = held_out_examples()
    matrix = ErrorMatrix.from_examples(gold, scores, "test", "x")
    assert matrix.method == "PACC" and matrix.counts.tolist() == MATRIX  # argmax of the scores: the counts
    soft = matrix.soft_rates()
    assert soft[:, 1] == pytest.approx(scores[gold == 1].mean(axis=0)) and soft.sum(axis=0) == pytest.approx(1)
    truth = np.array([0.5, 0.2, 0.3])
    observed = soft @ truth  # the mean probabilities a cell with that truth shows
    adjuster = Adjuster(matrix, draws=500, seed=1)
    assert adjuster.soft and adjuster.method == "PACC"
    estimate = adjuster.estimate(observed, np.eye(3) * 1e-4, "cell")
    assert [estimate[label]["share"] for label in LABELS] == pytest.approx(truth)
    assert all(estimate[label]["low"] < estimate[label]["share"] < estimate[label]["high"] for label in LABELS)
    replicates = matrix.resampled_adjustment_rates(200, seed=3)
    assert replicates.shape == (200, 3, 3) and replicates.sum(axis=1) == pytest.approx(np.ones((200, 3)))
    assert np.abs(replicates.mean(axis=0) - soft).max() < 0.02  # the bootstrap centres on the estimate
    write_soft_matrix(tmp_path)  # the file round-trips, in any label order
    record = json.loads((tmp_path / "stance_error_matrix.json").read_text())
    order = [2, 0, 1]
    record["labels"] = [record["labels"][i] for i in order]
    record["counts"] = [[record["counts"][i][j] for j in order] for i in order]
    record["scores"] = [[row[i] for i in order] for row in record["scores"]]
    (tmp_path / "stance_error_matrix.json").write_text(json.dumps(record))
    read = read_error_matrix(tmp_path)
    assert read.method == "PACC" and read.soft_rates() == pytest.approx(soft, abs=1e-5)
    assert ErrorMatrix(np.array(MATRIX), "test", "x").method == "ACC"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"scores": [[0.5, 0.5, 0.5]]}, "gold, scores: expected two lists of the same length"),
        ({"gold": ["supportive"], "scores": [[0.9, 0.3, 0.1]]}, "scores: every row must hold probabilities"),
        ({"gold": ["agreeing"], "scores": [[0.8, 0.1, 0.1]]}, "gold: unknown label 'agreeing'"),
        ({"gold": ["supportive"], "scores": [[0.8, 0.1]]}, "scores: expected one row of 3 probabilities"),
        ({"gold": ["denying"], "scores": [[0.8, 0.1, 0.1]]}, "gold: its labels do not add up to the rows of counts"),
    ],
)
def test_malformed_held_out_examples_are_errors(tmp_path, change, message):
    record = {"labels": list(LABELS), "counts": [[1, 0, 0], [0, 0, 0], [0, 0, 0]], "path": "x", "n": 1, **change}
    (tmp_path / "stance_error_matrix.json").write_text(json.dumps(record))
    with pytest.raises(StanceError, match=message):
        read_error_matrix(tmp_path)


def test_the_soft_cell_variance_is_the_ratio_estimators_over_probability_sums():
    rng = np.random.default_rng(4)
    accumulator = Accumulator()
    counts, softs = [], []
    for _ in range(25):
        m = int(rng.integers(1, 8))
        probabilities = rng.dirichlet([1, 1, 1], size=m)
        counts.append(np.bincount(probabilities.argmax(axis=1), minlength=3))
        softs.append(probabilities.sum(axis=0))
        accumulator.add("S", "p", "neutral", counts[-1], softs[-1])
    cell = accumulator.cells[("S", "p")]
    s, m = np.array(softs), np.array(counts).sum(axis=1)
    q = s.sum(axis=0) / m.sum()
    residuals = s - np.outer(m, q)
    assert cell.soft / cell.sentences == pytest.approx(q)
    assert cell.covariance(soft=True) == pytest.approx(len(s) / (len(s) - 1) * residuals.T @ residuals / m.sum() ** 2)


def test_wilson_matches_scipy_and_the_cell_variance_is_the_ratio_estimators():
    from scipy.stats import binomtest

    for k, n in ((0, 5), (3, 10), (10, 10), (17, 40)):
        ci = binomtest(k, n).proportion_ci(method="wilson")
        assert wilson(k, n) == pytest.approx((ci.low, ci.high))
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 5, size=(30, 3))
    cell = Accumulator()
    for c in counts:
        cell.add("S", "p", "neutral", c)
    got = cell.cells[("S", "p")].covariance()
    m, q = counts.sum(axis=1), counts.sum(axis=0) / counts.sum()
    residuals = counts - np.outer(m, q)  # linearised ratio estimator, with-replacement variance
    expected = len(counts) / (len(counts) - 1) * residuals.T @ residuals / m.sum() ** 2
    assert got == pytest.approx(expected)
    assert Cell().covariance() is None


def test_periods_and_dates():
    day = dt.date(2021, 1, 3)  # ISO week 53 of 2020
    keys = {p: period_key(day, p) for p in ("day", "week", "month", "quarter", "year")}
    assert keys == {"day": "2021-01-03", "week": "2020-W53", "month": "2021-01", "quarter": "2021-Q1", "year": "2021"}
    assert [period_start(k, p) for p, k in keys.items()] == [
        day,
        dt.date(2020, 12, 28),
        dt.date(2021, 1, 1),
        dt.date(2021, 1, 1),
        dt.date(2021, 1, 1),
    ]
    assert parse_date("2021-01-03T23:59:59-08:00") == day and parse_date("2021-01-03T00:00Z") == day
    assert parse_date(dt.datetime(2021, 1, 3, 5)) == day and parse_date("3 Jan 2021") is None


# ------------------------------------------------------------------------------------ scoring out of fold


def test_scoring_adjusts_each_fold_with_the_other_folds_matrix():
    """Fold 1 is classified perfectly, fold 2 with known errors: each is adjusted with the other's matrix."""
    confusions = {1: np.diag([10, 10, 10]), 2: np.array([[8, 0, 2], [0, 9, 1], [2, 2, 6]])}
    items = []
    for fold, confusion in confusions.items():
        for gold, row in enumerate(confusion):
            for predicted, count in enumerate(row):
                items += [("S", fold, gold, predicted)] * int(count)
    scored = score_level(items)["per_source"]["S"]
    assert scored["gold"] == pytest.approx(dict.fromkeys(LABELS, 1 / 3), abs=1e-4)
    raw = np.array([20, 21, 19]) / 60
    assert scored["mae_raw"] == pytest.approx(np.abs(raw - 1 / 3).mean(), abs=1e-4)
    fold_two = ErrorMatrix(confusions[2], None, "").rates()
    expected = (30 * acc(np.array([1, 1, 1]) / 3, fold_two) + 30 * np.array([10, 11, 9]) / 30) / 60
    assert list(scored["adjusted"].values()) == pytest.approx(expected, abs=1e-4)
    with pytest.raises(StanceError, match="at least 2 folds"):
        score_level([("S", 1, 0, 0)])


def test_scoring_with_probabilities_adjusts_by_pacc_with_the_other_folds_examples():
    gold_one, scores_one = held_out_examples(seed=1)
    gold_two, scores_two = held_out_examples([[20, 5, 5], [2, 25, 3], [6, 6, 18]], seed=2)
    items, scores = [], np.concatenate([scores_one, scores_two])
    for fold, gold in ((1, gold_one), (2, gold_two)):
        items += [("S", fold, int(g), -1) for g in gold]
    items = [(src, fold, g, int(p.argmax())) for (src, fold, g, _), p in zip(items, scores)]
    scored = score_level(items, scores)
    assert scored["method"] == "PACC" and score_level(items)["method"] == "ACC"
    other = {
        1: ErrorMatrix.from_examples(gold_two, scores_two, None, ""),
        2: ErrorMatrix.from_examples(gold_one, scores_one, None, ""),
    }
    parts = {1: scores_one, 2: scores_two}
    expected = sum(len(parts[k]) * acc(parts[k].mean(axis=0), other[k].soft_rates()) for k in (1, 2)) / len(scores)
    assert list(scored["per_source"]["S"]["adjusted"].values()) == pytest.approx(expected, abs=1e-4)


def test_scoring_articles_maps_mixed_to_neutral_and_recovers_a_perfect_classifier():
    sentences, predictions, labels = {}, [], {}
    layouts = {
        "a1": ("sss", "supportive"),
        "a2": ("ddn", "denying"),
        "a3": ("ssdd", "neutral"),
        "a4": ("nnn", "neutral"),
    }
    for number, (article, (letters, label)) in enumerate(layouts.items()):
        labels[article] = label
        for position, letter in enumerate(letters):
            ident = f"{article}-{position}"
            sentences[ident] = {"article_id": article, "source": "S", "position": position}
            gold = LABELS["sdn".index(letter)]
            predictions.append({"id": ident, "gold": gold, "predicted": gold, "fold": 1 + number % 2})
    scored = score_out_of_fold(predictions, sentences, labels)
    assert scored["sentence"]["mae_raw"] == 0 and scored["sentence"]["mae_adjusted"] == pytest.approx(0, abs=1e-9)
    assert scored["article"]["mae_raw"] == 0  # a3 is mixed, scored as the gold's neutral


def test_the_command_on_parquet_with_real_dates_and_no_grouping(models, tmp_path, capsys):
    import pandas as pd

    rows = sentence_rows(4)
    table = pd.DataFrame(rows).drop(columns=["source"])
    table["date"] = pd.to_datetime(table["date"]).dt.date  # a Parquet date column, not text
    table.to_parquet(tmp_path / "c.parquet")
    out = tmp_path / "out"
    command = ["track", str(models["bare"]), "-i", str(tmp_path / "c.parquet"), "-o", str(out), "--by", "none"]
    assert main([*command, "--period", "year", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "tracked 4 article(s)" in printed and "4 classified, 0 reused from the cache" in printed
    assert "note: No held-out error matrix" in printed
    assert main([*command, "--period", "month", "--no-progress"]) == 0  # again: all from the cache
    assert "0 classified, 4 reused from the cache" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert [(r["source"], r["period"]) for r in summary["rows"]] == [("(all)", "2020-01"), ("(all)", "(all)")]


# --------------------------------------------------------------------------------------------- --engine ray

try:
    import ray
    import ray.data  # noqa: F401
except ImportError:
    ray = None

needs_ray = pytest.mark.skipif(ray is None, reason="ray[data] is not installed: pip install 'stance[ray]'")


def _same_figures(got, expected, where: str = "") -> None:
    """Equal structures, floats within 1e-5."""
    if isinstance(expected, dict):
        assert isinstance(got, dict) and got.keys() == expected.keys(), where
        for key in expected:
            _same_figures(got[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected), where
        for i, (a, b) in enumerate(zip(got, expected)):
            _same_figures(a, b, f"{where}[{i}]")
    elif isinstance(expected, float):
        assert got == pytest.approx(expected, abs=1e-5), where
    else:
        assert got == expected, where


def _same_tracking(got: Path, expected: Path) -> None:
    """The same articles.jsonl verdicts and the same summary.json figures, whichever engine classified."""
    a, b = (json.loads((folder / "summary.json").read_text()) for folder in (got, expected))
    drop = ("engine", "ray", "seconds", "classified", "reused", "sentences_classified")  # how, not what
    a["run"], b["run"] = ({k: v for k, v in x["run"].items() if k not in drop} for x in (a, b))
    _same_figures(a, b)
    lines = [[json.loads(line) for line in (f / "articles.jsonl").read_text().splitlines()] for f in (got, expected)]
    _same_figures(lines[0], lines[1])


def test_ray_engine_refusals_come_before_any_work(models, classifier, tmp_path, capsys, monkeypatch):
    collection = write_jsonl(sentence_rows(2), tmp_path / "c.jsonl")
    base = ["track", str(models["bare"]), "-i", str(collection), "-o", str(tmp_path / "out"), "--no-progress"]
    assert main([*base, "--workers", "2"]) == 2
    assert capsys.readouterr().err.strip() == "stance track: error: --workers: only with --engine ray"
    with pytest.raises(StanceError, match="choose local .* or ray"):
        track(models["bare"], collection, tmp_path / "out", engine="spark")
    from stance.coverage import RayOptions

    with pytest.raises(StanceError, match="ray_options are for engine='ray'"):
        track(models["bare"], collection, tmp_path / "out", ray_options=RayOptions(workers=2))
    if ray is not None:
        with pytest.raises(StanceError, match="engine='ray' loads the model in each actor"):
            track(models["bare"], collection, tmp_path / "out", engine="ray", classifier=classifier)
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails as if it were not installed
    assert main([*base, "--engine", "ray"]) == 2
    hint = "install it with: pip install 'stance[ray]' (or pip install 'ray[data]')"
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"stance track: error: --engine ray needs Ray Data, which is not installed; {hint}"]
    assert not (tmp_path / "out").exists()


@needs_ray
@pytest.mark.slow
def test_ray_engine_gives_the_local_engines_articles_and_figures_and_uses_the_cache(
    models, classifier, tmp_path, capsys
):
    """A local Ray with 2 CPUs (the default pool: 2 actors of 0.75 CPU, leaving room; see plan_pool)."""
    from stance.coverage import RayOptions

    options = {"engine": "ray", "ray_options": RayOptions(num_cpus=2), "progress": False, "draws": 300}
    options |= {"batch_size": 8, "chunk_sentences": 16}  # several blocks and calls: both actors get work
    collection = write_jsonl(sentence_rows(14), tmp_path / "v1.jsonl")
    local = run(models["matrix"], collection, tmp_path / "local", classifier)
    first = track(models["matrix"], collection, tmp_path / "ray", **options)
    assert first.summary["run"]["engine"] == "ray" and first.summary["run"]["classified"] == 14
    assert first.summary["run"]["sentences_classified"] == local.summary["run"]["sentences_classified"]
    assert "on 2 worker(s) x (0.75 CPU, 1 thread(s))" in first.summary["run"]["ray"]
    assert not ray.is_initialized()  # the local instance started for the run was shut down
    _same_tracking(tmp_path / "ray", tmp_path / "local")
    assert not [p.name for p in (tmp_path / "ray").iterdir() if p.name.startswith(".")]

    # again through the command: every article from the cache, and Ray not even started
    command = ["track", str(models["matrix"]), "-i", str(collection), "-o", str(tmp_path / "ray"), "--no-progress"]
    assert main([*command, "--engine", "ray", "--draws", "300"]) == 0
    assert "0 classified, 14 reused from the cache; ray: not started" in capsys.readouterr().out
    _same_tracking(tmp_path / "ray", tmp_path / "local")

    # a grown and edited collection: only the new and the changed articles go to Ray
    grown = write_jsonl(sentence_rows(14, edit=4) + sentence_rows(3, start=14), tmp_path / "v2.jsonl")
    again = track(models["matrix"], grown, tmp_path / "ray", **options)
    assert (again.summary["run"]["classified"], again.summary["run"]["reused"]) == (4, 13)
    assert again.summary["run"]["sentences_classified"] == sum(3 + a % 4 for a in (4, 14, 15, 16))
    assert "sentence(s) of 4 article(s)" in again.summary["run"]["ray"]
    run(models["matrix"], grown, tmp_path / "local-grown", classifier, use_cache=False)
    _same_tracking(tmp_path / "ray", tmp_path / "local-grown")

    # without the cache: everything on Ray, nothing kept
    fresh = track(models["matrix"], grown, tmp_path / "fresh", use_cache=False, **options)
    assert fresh.summary["run"]["classified"] == 17 and not (tmp_path / "fresh" / "cache").exists()
    assert not [p.name for p in (tmp_path / "fresh").iterdir() if p.name.startswith(".")]
    _same_tracking(tmp_path / "fresh", tmp_path / "local-grown")
