"""The data layer: every file format, the column mapping, label aliases, validation messages, the data CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

from stance.cli import main
from stance.config import DEFAULT_TARGET, DataConfig
from stance.data import MAX_PROBLEMS, find_leakage, load_splits, read_examples, read_files
from stance.errors import StanceError
from stance.labels import ALIASES, LABELS, normalize_label

COLUMNS = DataConfig()
T = DEFAULT_TARGET


def row(i: int, text: str | None = None, label: str = "supportive", article: str = "A", **extra) -> dict:
    values = {
        "id": f"r{i}",
        "text": text or f"Sentence number {i} about Russian helicopters for Pakistan.",
        "target": T,
        "label": label,
        "article_id": article,
    }
    return {**values, **extra}


def write_jsonl(path: Path, rows: list[dict | str]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def problems_of(paths: dict[str, Path], **kwargs) -> list[str]:
    with pytest.raises(StanceError) as info:
        read_files(paths, COLUMNS, **kwargs)
    return info.value.problems


def only(problems: list[str], needle: str) -> str:
    hits = [p for p in problems if needle in p]
    assert len(hits) == 1, (needle, problems)
    return hits[0]


# ---------------------------------------------------------------- validation: one case each


def test_invalid_json_line(tmp_path):
    f = write_jsonl(tmp_path / "a.jsonl", [row(1), '{"id": "r2", "text": ', row(3)])
    assert only(problems_of({"a": f}), "invalid JSON").startswith(f"{f}:2: row: invalid JSON: ")


def test_json_line_that_is_not_an_object(tmp_path):
    f = write_jsonl(tmp_path / "a.jsonl", [row(1), "[1, 2]"])
    assert only(problems_of({"a": f}), "expected an object").startswith(f"{f}:2: row: invalid JSON")


def test_invalid_csv_rows(tmp_path):
    f = tmp_path / "a.csv"
    f.write_text(
        'id,text,label\nr1,"Russia sells jets",favor\nr2,"bad "quote",none\nr3,two cells\n'
        'r4,"Moscow denies it",against\n',
        encoding="utf-8",
    )
    found = problems_of({"a": f})
    assert only(found, ":3:").startswith(f"{f}:3: row: invalid CSV row: ")
    assert only(found, ":4:") == f"{f}:4: row: invalid CSV row: 2 cells, the header has 3"


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_bytes_that_are_not_utf8(tmp_path, suffix):
    f = tmp_path / f"a{suffix}"
    if suffix == ".jsonl":
        good, bad = json.dumps(row(1)).encode(), b'{"id": "r2", "text": "caf\xe9", "label": "none"}'
    else:
        good, bad = b"id,text,label\nr1,Russia sells jets,favor", b"r2,caf\xe9 au lait,none"
    f.write_bytes(good + b"\n" + bad + b"\n")
    line = 2 if suffix == ".jsonl" else 3
    assert only(problems_of({"a": f}), "UTF-8").startswith(f"{f}:{line}: row: bytes that are not UTF-8")


def test_missing_fields(tmp_path):
    f = write_jsonl(
        tmp_path / "a.jsonl", [row(1), {"id": "r2", "label": "neutral"}, {"id": "r3", "text": "Moscow is silent."}]
    )
    found = problems_of({"a": f})
    assert only(found, ":2:") == f"{f}:2: text: missing field (the row has: id, label)"
    assert only(found, ":3:") == f"{f}:3: label: missing field"


def test_empty_text_and_empty_label(tmp_path):
    f = write_jsonl(tmp_path / "a.jsonl", [row(1), row(2, text="   "), row(3, label=" ")])
    found = problems_of({"a": f})
    assert only(found, ":2:") == f"{f}:2: text: empty text"
    assert only(found, ":3:") == f"{f}:3: label: empty label"


def test_unknown_label_lists_the_alias_table_once(tmp_path):
    f = write_jsonl(tmp_path / "a.jsonl", [row(1, label="maybe"), row(2, label="perhaps"), row(3)])
    found = problems_of({"a": f})
    assert only(found, ":1:") == f"{f}:1: label: unknown label 'maybe'"
    assert only(found, ":2:") == f"{f}:2: label: unknown label 'perhaps'"
    assert "favor, favour" in only(found, "known labels")  # the table, said once


def test_duplicate_id(tmp_path):
    f = write_jsonl(tmp_path / "a.jsonl", [row(1), row(2), {**row(3), "id": "r1"}])
    assert only(problems_of({"a": f}), "duplicate") == f"{f}:3: id: duplicate id 'r1' (first at {f}:1)"


def test_same_target_and_text_with_conflicting_labels(tmp_path):
    text = "Russia will deliver four Mi-35M helicopters."
    f = write_jsonl(
        tmp_path / "a.jsonl",
        [row(1, text), row(2), row(3, "  russia will deliver four Mi-35M helicopters.", "denying")],
    )
    assert only(problems_of({"a": f}), "conflicts") == (
        f"{f}:3: label: same (target, text) as {f}:1 but label 'denying' conflicts with 'supportive' there"
    )


def test_same_text_with_another_target_is_not_a_conflict(tmp_path):
    text = "Russia will deliver four Mi-35M helicopters."
    f = write_jsonl(tmp_path / "a.jsonl", [row(1, text), {**row(2, text, "denying"), "target": "Another claim."}])
    assert len(read_examples(f, COLUMNS)) == 2


def test_leakage_same_text_in_two_splits(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", [row(1, article="A"), row(2, "Shared text here.", article="A")])
    dev = write_jsonl(tmp_path / "dev.jsonl", [row(3, article="B"), row(4, "shared  TEXT here.", article="B")])
    assert only(problems_of({"train": train, "dev": dev}), "same text") == (
        f"{dev}:2: text: same text as {train}:2 (train): leakage between splits"
    )


def test_leakage_same_article_in_two_splits_reported_once_per_article(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", [row(1, article="A"), row(2, article="B")])
    test = write_jsonl(tmp_path / "test.jsonl", [row(3, article="B"), row(4, article="B"), row(5, article="C")])
    assert only(problems_of({"train": train, "test": test}), "also in") == (
        f"{test}:1: article_id: 'B' is also in {train}:2 (train): leakage between splits"
    )


def test_leakage_of_loaded_datasets():
    train = Dataset.from_list([{"id": "a", "text": "One.", "target": T, "label": "neutral", "group": "A"}])
    dev = Dataset.from_list([{"id": "b", "text": "one.", "target": T, "label": "neutral", "group": "A"}])
    leaks = find_leakage({"train": train, "dev": dev})
    assert leaks == [
        "dev: id b: text: same text as train: id a: leakage between splits",
        "dev: id b: article_id: 'A' is also in train: id a: leakage between splits",
    ]


def test_every_problem_is_reported_together_and_skipped_rows_are_counted(tmp_path):
    f = write_jsonl(
        tmp_path / "a.jsonl", [row(1), "{oops", row(3, text=" "), row(4, label="maybe"), row(5), {**row(6), "id": "r5"}]
    )
    with pytest.raises(StanceError) as info:
        read_examples(f, COLUMNS)
    message = str(info.value)
    assert message.startswith(f"{f}: invalid data: 4 problem(s); 3 of 6 row(s) unusable")
    for line in (2, 3, 4, 6):
        assert f"  {f}:{line}: " in message


def test_problem_list_is_capped(tmp_path):
    f = write_jsonl(tmp_path / "a.jsonl", [row(i, label="maybe") for i in range(MAX_PROBLEMS + 7)])
    found = problems_of({"a": f})
    assert sum(p.startswith(str(f)) for p in found) == MAX_PROBLEMS
    assert "... and 7 more" in found


def test_type_clash_in_an_extra_column_is_reported_not_a_crash(tmp_path):
    f = write_jsonl(tmp_path / "a.jsonl", [row(1, position=0), row(2, position="first")])
    assert only(problems_of({"a": f}), "position") == f"{f}:2: position: expected number as at {f}:1, got str 'first'"


def test_empty_file_and_missing_file(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    assert problems_of({"a": empty}) == [f"{empty}: no examples in the file"]
    with pytest.raises(StanceError, match="file not found"):
        read_examples(tmp_path / "nope.jsonl", COLUMNS)
    sheet = tmp_path / "a.xlsx"
    sheet.touch()
    with pytest.raises(StanceError, match="unsupported file type '.xlsx'"):
        read_examples(sheet, COLUMNS)


def test_load_splits_reports_leakage(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", [row(1, article="A"), row(2, article="B")])
    dev = write_jsonl(tmp_path / "dev.jsonl", [row(3, article="B")])
    with pytest.raises(StanceError, match="leakage between splits"):
        load_splits(DataConfig(train=str(train), dev=str(dev), test=None))


# ---------------------------------------------------------------- formats, mapping, default target, aliases


def corpus_frame(n: int = 12) -> pd.DataFrame:
    labels = [LABELS[i % 3] for i in range(n)]
    return pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(n)],
            "text": [f"Sentence {i} on arms." for i in range(n)],
            "target": T,
            "label": labels,
            "article_id": [f"A{i // 3}" for i in range(n)],
            "phenomena": [["hedge"] if i % 2 else [] for i in range(n)],
        }
    )


@pytest.mark.parametrize("fmt", ["jsonl", "json_array", "csv", "tsv", "parquet", "datasets"])
def test_every_format_loads_to_the_same_examples(tmp_path, fmt):
    df = corpus_frame()
    path = tmp_path / {"json_array": "a.json", "datasets": "saved"}.get(fmt, f"a.{fmt}")
    if fmt == "jsonl":
        df.to_json(path, orient="records", lines=True)
    elif fmt == "json_array":
        df.to_json(path, orient="records")
    elif fmt in ("csv", "tsv"):
        df.to_csv(path, sep="," if fmt == "csv" else "\t", index=False)
    elif fmt == "parquet":
        df.to_parquet(path)
    else:
        Dataset.from_pandas(df).save_to_disk(str(path))
    ds = read_examples(path, COLUMNS)
    assert ds["id"] == list(df["id"]) and ds["text"] == list(df["text"]) and ds["label"] == list(df["label"])
    assert ds["group"] == list(df["article_id"]) and ds["target"] == [T] * len(df)
    assert "phenomena" in ds.column_names


def test_saved_datasetdict_folder(tmp_path):
    ds = Dataset.from_pandas(corpus_frame())
    DatasetDict({"train": ds, "test": ds.select(range(3))}).save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(StanceError, match="a saved DatasetDict; pass one split's folder"):
        read_examples(tmp_path / "dd", COLUMNS)
    assert len(read_examples(tmp_path / "dd" / "test", COLUMNS)) == 3


def test_classlabel_ids_mean_the_features_own_names(tmp_path):
    features = Features({"text": Value("string"), "label": ClassLabel(names=["against", "favor", "none"])})
    Dataset.from_dict({"text": ["a.", "b.", "c."], "label": [0, 1, 2]}, features=features).save_to_disk(
        str(tmp_path / "semeval")
    )
    assert read_examples(tmp_path / "semeval", COLUMNS)["label"] == ["denying", "supportive", "neutral"]


def test_column_mapping_and_default_target(tmp_path):
    f = tmp_path / "mine.csv"
    f.write_text(
        "doc,sentence,stance,claim\nd1,Russia sells jets.,FAVOR,\nd1,Moscow denies it.,Against,"
        "Another claim.\nd2,Rain in Lahore.,none,\n",
        encoding="utf-8",
    )
    columns = DataConfig(
        text_column="sentence",
        label_column="stance",
        target_column="claim",
        group_column="doc",
        id_column="uid",
        default_target="My claim.",
    )
    ds = read_examples(f, columns)
    assert ds["text"] == ["Russia sells jets.", "Moscow denies it.", "Rain in Lahore."]
    assert ds["label"] == ["supportive", "denying", "neutral"]
    assert ds["target"] == ["My claim.", "Another claim.", "My claim."]
    assert ds["group"] == ["d1", "d1", "d2"] and ds["id"] == ["row-1", "row-2", "row-3"]
    assert ds["doc"] == ["d1", "d1", "d2"]  # the file's own columns are kept


def test_unlabelled_files_need_no_label_column(tmp_path):
    f = write_jsonl(tmp_path / "a.jsonl", [{"text": "Russia sells jets."}])
    ds = read_examples(f, COLUMNS, labelled=False)
    assert ds["label"] == [None] and ds["target"] == [T]
    assert problems_of({"a": f}) == [f"{f}:1: label: missing field"]


@pytest.mark.parametrize(
    "scheme",
    [
        ("favor", "against", "none"),
        ("FAVOR", "AGAINST", "NONE"),
        ("agree", "disagree", "discuss"),
        ("for", "against", "observing"),
        ("pro", "con", "neutral"),
        ("support", "deny", "comment"),
        ("Supportive", "Denying", "Neutral"),
        ("in favour", "anti", "unrelated"),
        ("positive", "negative", "other"),
    ],
)
def test_label_aliases(scheme):
    assert tuple(normalize_label(raw) for raw in scheme) == LABELS


def test_alias_table_is_closed():
    assert set(ALIASES.values()) == set(LABELS)
    assert normalize_label("maybe") is None and normalize_label(True) is None and normalize_label(3.5) is None
    assert normalize_label(0) == "supportive" and normalize_label(7) is None
    assert normalize_label("off-topic") == "neutral"  # hyphens, spaces, case are forgiven


# ---------------------------------------------------------------- CLI


def _corpus_rows() -> dict[str, int]:
    """Rows per split of the shipped corpus, counted from the files (not the figures of one version)."""
    return {
        name: sum(1 for line in Path(f"data/{name}.jsonl").open(encoding="utf-8") if line.strip())
        for name in ("train", "dev", "test")
    }


def test_cli_validate_clean_corpus(capsys):
    assert main(["data", "validate", "data/train.jsonl", "data/dev.jsonl", "data/test.jsonl"]) == 0
    assert capsys.readouterr().out.startswith(f"ok: {sum(_corpus_rows().values())} examples in 3 file(s)")


def test_cli_validate_bad_file_exits_2_with_every_problem(tmp_path, capsys):
    f = write_jsonl(tmp_path / "a.jsonl", [row(1), "{oops", row(3, label="maybe")])
    assert main(["data", "validate", str(f)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"{f}:2: row: invalid JSON" in err and f"{f}:3: label: unknown label 'maybe'" in err
    assert "2 of 3 row(s) unusable" in err


def test_cli_validate_leakage_and_column_mapping(tmp_path, capsys):
    a = tmp_path / "a.csv"
    a.write_text("sentence,stance,doc\nRussia sells jets.,favor,A\n", encoding="utf-8")
    b = tmp_path / "b.csv"
    b.write_text("sentence,stance,doc\nMoscow denies it.,against,A\n", encoding="utf-8")
    mapping = [
        "--set",
        "data.text_column=sentence",
        "--set",
        "data.label_column=stance",
        "--set",
        "data.group_column=doc",
    ]
    assert main(["data", "validate", str(a), *mapping]) == 0
    assert main(["data", "validate", str(a), str(b), *mapping]) == 2
    assert f"{b}:2: doc: 'A' is also in {a}:2: leakage between splits" in capsys.readouterr().err


def test_cli_stats_counts(capsys):
    assert (
        main(
            [
                "data",
                "stats",
                "data/train.jsonl",
                "data/dev.jsonl",
                "data/test.jsonl",
                "--no-tokens",
                "--format",
                "json",
            ]
        )
        == 0
    )
    stats = json.loads(capsys.readouterr().out)
    rows = _corpus_rows()
    total = sum(rows.values())
    articles = sum(1 for line in Path("data/articles.jsonl").open(encoding="utf-8") if line.strip())
    assert stats["rows"] == {**rows, "all": total}
    assert stats["groups"]["all"] == articles
    assert sum(stats["labels"][label]["all"] for label in LABELS) == total
    assert sum(c["all"] for c in stats["sources"].values()) == total
    assert stats["phenomena"]["headline"]["all"] == articles


def test_cli_stats_token_lengths_with_the_embedded_tokenizer(capsys):
    assert main(["data", "stats", "tests/data/tiny_train.jsonl"]) == 0
    out = capsys.readouterr().out
    assert "| label | tiny_train | all |" in out and "all-MiniLM-L6-v2 (embedded)" in out
    p50 = next(line for line in out.splitlines() if line.startswith("| p50 |"))
    assert 3 < float(p50.split("|")[2]) < 40


def test_cli_split_is_seeded_grouped_and_complete(tmp_path, capsys):
    source = tmp_path / "all.jsonl"
    rows = [row(i, label=LABELS[i % 3], article=f"A{i // 4}") for i in range(120)]
    write_jsonl(source, rows)
    assert main(["data", "split", str(source), "--output", str(tmp_path / "one"), "--seed", "3"]) == 0
    assert "grouped by 'article_id'" in capsys.readouterr().out
    assert main(["data", "split", str(source), "--output", str(tmp_path / "two"), "--seed", "3"]) == 0
    parts = {}
    for name in ("train", "dev", "test"):
        one = (tmp_path / "one" / f"{name}.jsonl").read_text("utf-8")
        assert one == (tmp_path / "two" / f"{name}.jsonl").read_text("utf-8")  # seeded
        parts[name] = [json.loads(line) for line in one.splitlines()]
    assert sorted(r["id"] for p in parts.values() for r in p) == sorted(r["id"] for r in rows)
    articles = [{r["article_id"] for r in p} for p in parts.values()]
    assert not (articles[0] & articles[1] or articles[0] & articles[2] or articles[1] & articles[2])
    assert 15 <= len(parts["test"]) <= 35 and 5 <= len(parts["dev"]) <= 20
    assert set(parts["train"][0]) == {"id", "text", "target", "label", "article_id"}
    assert main(["data", "validate", *(str(tmp_path / "one" / f"{n}.jsonl") for n in parts)]) == 0


def test_cli_split_bad_input(tmp_path, capsys):
    source = write_jsonl(tmp_path / "all.jsonl", [row(i, label=LABELS[i % 3], article=f"A{i}") for i in range(30)])
    out = str(tmp_path / "out")
    assert main(["data", "split", str(source), "--output", out, "--by", "doc"]) == 2
    assert "--by 'doc': no such column" in capsys.readouterr().err
    assert main(["data", "split", str(source), "--output", out, "--dev", "0.5", "--test", "0.6"]) == 2
    assert main(["data", "split", str(source), "--output", out, "--dev", "0"]) == 0
    assert not (tmp_path / "out" / "dev.jsonl").exists()
    assert main(["data", "split", str(source), "--output", out]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    small = write_jsonl(tmp_path / "small.jsonl", [row(i, article="A") for i in range(5)])
    assert main(["data", "split", str(small), "--output", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "needs at least 5 groups and there are 1" in err and "Traceback" not in err


def test_bad_rows_in_a_parquet_file_are_counted(tmp_path):
    df = corpus_frame(6)
    df.loc[2, "label"] = "maybe"
    df.loc[4, "text"] = None
    df.to_parquet(tmp_path / "a.parquet")
    with pytest.raises(StanceError) as info:
        read_examples(tmp_path / "a.parquet", COLUMNS)
    assert str(info.value).startswith(f"{tmp_path / 'a.parquet'}: invalid data: 2 problem(s); 2 of 6 row(s) unusable")
    assert info.value.problems[:2] == [
        f"{tmp_path / 'a.parquet'}:row 3: label: unknown label 'maybe'",
        f"{tmp_path / 'a.parquet'}:row 5: text: empty text",
    ]


def test_cli_validate_a_saved_datasetdict_checks_its_splits_for_leakage(tmp_path, capsys):
    ds = Dataset.from_pandas(corpus_frame())
    DatasetDict({"train": ds.select(range(6)), "test": ds.select(range(5, 12))}).save_to_disk(str(tmp_path / "dd"))
    assert main(["data", "validate", str(tmp_path / "dd")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'dd' / 'train'}:row 6: text: same text as {tmp_path / 'dd' / 'test'}:row 1" in err
    assert main(["data", "validate", str(tmp_path / "dd" / "train")]) == 0
