"""The shipped corpus (data/) meets the requirements of its issue: size, splits, balance, fields, tags,
coherent articles, diversity — and its dataset card's tables match the files."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer

from stance.config import DEFAULT_TARGET
from stance.labels import LABELS

DATA = Path(__file__).resolve().parents[1] / "data"
SPLITS = ("train", "dev", "test")
FIELDS = {"id", "text", "target", "label", "article_id", "source", "date", "position", "phenomena"}
NEW_TAGS = {  # issue 17: kinds of sentence that models trained on the first 1,720 sentences got wrong in real coverage
    "pakistan_side_only",
    "denial_shaped_other",
    "third_party_objection",
    "non_arms_supply",
    "negotiation",
    "speculation",
    "reversed_position",
    "third_country_supply",
    "long_mixed",
}
TAGS = {
    "reported_speech",
    "negation",
    "denial_of_reports",
    "question",
    "hedge",
    "conditional",
    "other_country_arms",
    "non_arms_cooperation",
    "off_topic",
    "headline",
    "minimal_pair",
} | NEW_TAGS
NEAR = 0.7  # character 5-gram Jaccard similarity that counts as a near-duplicate


@pytest.fixture(scope="module")
def corpus() -> dict[str, list[dict]]:
    return {
        name: [json.loads(line) for line in (DATA / f"{name}.jsonl").read_text("utf-8").splitlines() if line.strip()]
        for name in SPLITS
    }


@pytest.fixture(scope="module")
def rows(corpus) -> list[dict]:
    return [{**r, "split": name} for name, part in corpus.items() for r in part]


@pytest.fixture(scope="module")
def articles() -> list[dict]:
    return [json.loads(line) for line in (DATA / "articles.jsonl").read_text("utf-8").splitlines() if line.strip()]


def test_size(rows, corpus):
    assert len(rows) >= 2600
    assert len({r["article_id"] for r in rows}) >= 260
    assert len(corpus["test"]) >= 300 and len(corpus["dev"]) >= 150


def test_no_article_in_two_splits(corpus):
    ids = {name: {r["article_id"] for r in part} for name, part in corpus.items()}
    assert not (ids["train"] & ids["dev"] or ids["train"] & ids["test"] or ids["dev"] & ids["test"])


@pytest.mark.parametrize(("part", "n_articles"), [("E", 48), ("F", 48), ("G", 48)])
def test_parts_e_to_g_are_training_data_only(corpus, articles, part, n_articles):
    """Parts E, F and G (GUIDELINES §7) were written after the challenge set, for training: the dev and test
    splits keep exactly the articles of the figures reported before them."""
    ids = {a["article_id"]: a["split"] for a in articles if a["article_id"].startswith(f"{part}-")}
    assert len(ids) == n_articles and set(ids.values()) == {"train"}
    assert not any(r["article_id"].startswith(f"{part}-") for name in ("dev", "test") for r in corpus[name])


def test_each_label_at_least_a_quarter_of_the_whole_and_of_each_split(rows, corpus):
    for name, part in [("all", rows), *corpus.items()]:
        counts = Counter(r["label"] for r in part)
        for label in LABELS:
            assert counts[label] / len(part) >= 0.25, (name, label, counts)


def test_every_row_is_complete_and_valid(rows):
    assert len({r["id"] for r in rows}) == len(rows)
    for r in rows:
        assert set(r) - {"split"} == FIELDS, r["id"]
        assert r["target"] == DEFAULT_TARGET, r["id"]
        assert r["label"] in LABELS, r["id"]
        assert isinstance(r["text"], str) and len(r["text"].strip()) >= 5, r["id"]
        assert isinstance(r["phenomena"], list) and set(r["phenomena"]) <= TAGS, r["id"]
        assert len(set(r["phenomena"])) == len(r["phenomena"]), r["id"]
        assert re.fullmatch(r"20(0[1-9]|1\d|2[0-5])-\d\d-\d\d", r["date"]), r["id"]  # coverage from 2001 to 2025


def test_tags_are_the_documented_ones():
    guidelines = (DATA / "GUIDELINES.md").read_text("utf-8")
    section = guidelines.split("## 4. Phenomena tags", 1)[1].split("\n## ", 1)[0]
    assert set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.M)) == TAGS


def test_outlets_are_the_documented_fictional_ones(rows, articles):
    guidelines = (DATA / "GUIDELINES.md").read_text("utf-8")
    provenance = guidelines.split("**Provenance.**", 1)[1].split("\n\n**", 1)[0]
    outlets = {
        name.strip() for line in provenance.splitlines() if line.startswith("- ") for name in line[2:].split(",")
    }
    assert len(outlets) == 16
    assert {r["source"] for r in rows} == outlets == {a["source"] for a in articles}


def test_every_hard_case_has_at_least_40_examples(rows):
    counts = Counter(tag for r in rows for tag in r["phenomena"])
    for tag in TAGS - {"minimal_pair"}:
        assert counts[tag] >= 40, (tag, counts[tag])


def test_every_issue_17_kind_has_at_least_60_sentences(rows):
    counts = Counter(tag for r in rows for tag in r["phenomena"])
    for tag in NEW_TAGS:
        assert counts[tag] >= 60, (tag, counts[tag])


def test_minimal_pairs_are_present_and_flip_the_stance(rows):
    members = defaultdict(list)
    for r in rows:
        if "minimal_pair" in r["phenomena"]:
            members[r["article_id"]].append(r)
    assert len(members) >= 10
    for article, pair in members.items():
        assert len(pair) >= 2 and len({r["label"] for r in pair}) >= 2, article


def test_articles_are_coherent(rows, articles):
    by_article = defaultdict(list)
    for r in rows:
        by_article[r["article_id"]].append(r)
    table = {a["article_id"]: a for a in articles}
    assert len(table) == len(articles) and set(table) == set(by_article)
    for article_id, sentences in by_article.items():
        sentences.sort(key=lambda r: r["position"])
        meta = table[article_id]
        assert [r["position"] for r in sentences] == list(range(len(sentences))), article_id
        assert [("headline" in r["phenomena"]) for r in sentences] == [True] + [False] * (len(sentences) - 1)
        assert len({(r["split"], r["source"], r["date"]) for r in sentences}) == 1, article_id
        first = sentences[0]
        assert meta["n_sentences"] == len(sentences) and meta["split"] == first["split"], article_id
        assert (meta["source"], meta["date"], meta["target"]) == (first["source"], first["date"], first["target"])
        assert meta["headline"] == first["text"] and meta["label"] in LABELS, article_id
        assert 7 <= len(sentences) <= 15, article_id


def test_article_sanity_checks(rows, articles):
    """A supportive (denying) article holds at least one supportive (denying) sentence (GUIDELINES §6)."""
    labels = defaultdict(set)
    for r in rows:
        labels[r["article_id"]].add(r["label"])
    for a in articles:
        if a["label"] != "neutral":
            assert a["label"] in labels[a["article_id"]], a["article_id"]


def near_duplicate_pairs(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i < j) with character 5-gram Jaccard >= NEAR: set sizes and overlaps by one sparse product."""
    normalized = [" ".join(t.lower().split()) for t in texts]
    grams = CountVectorizer(analyzer="char", ngram_range=(5, 5), lowercase=False, binary=True)
    x = grams.fit_transform(normalized).astype(np.int32)
    sizes = np.asarray(x.sum(axis=1)).ravel()
    overlap = (x @ x.T).tocoo()
    upper = overlap.row < overlap.col
    i, j, inter = overlap.row[upper], overlap.col[upper], overlap.data[upper]
    jaccard = inter / (sizes[i] + sizes[j] - inter)
    near = jaccard >= NEAR
    return i[near], j[near], jaccard[near]


def test_near_duplicate_finder_matches_the_definition():
    texts = [
        "Russia will supply attack helicopters to Pakistan, the minister said.",
        "Russia will not supply attack helicopters to Pakistan, the minister said.",
        "Rain washed out the second day of the Rawalpindi Test.",
    ]
    i, j, jaccard = near_duplicate_pairs(texts)
    grams = [{t.lower()[k : k + 5] for k in range(len(t) - 4)} for t in texts[:2]]
    assert list(zip(i, j)) == [(0, 1)]
    assert jaccard[0] == pytest.approx(len(grams[0] & grams[1]) / len(grams[0] | grams[1]))


def test_diversity(rows):
    i, j, _ = near_duplicate_pairs([r["text"] for r in rows])
    across = [(rows[a]["id"], rows[b]["id"]) for a, b in zip(i, j) if rows[a]["split"] != rows[b]["split"]]
    assert not across, f"near-duplicates in different splits: {across}"
    assert len(i) < 0.02 * len(rows), f"{len(i)} near-duplicate pairs"


def test_dataset_card_tables_match_the_files():
    from stance.data.stats import corpus_tables

    card = (DATA / "README.md").read_text("utf-8")
    missing = [line for line in corpus_tables(DATA).splitlines() if line.startswith("|") and line not in card]
    assert not missing, "data/README.md is out of date; rerun scripts/dataset_card_stats.py: " + missing[0]


def test_dataset_card_header_matches_the_files(corpus, articles):
    import yaml

    header = yaml.safe_load((DATA / "README.md").read_text("utf-8").split("---\n")[1])
    assert header["license"] == "cc-by-4.0" and header["task_categories"] == ["text-classification"]
    info = {c["config_name"]: {s["name"]: s["num_examples"] for s in c["splits"]} for c in header["dataset_info"]}
    assert info == {
        "sentences": {name: len(part) for name, part in corpus.items()},
        "articles": {"articles": len(articles)},
    }
    files = {c["config_name"]: {f["split"]: f["path"] for f in c["data_files"]} for c in header["configs"]}
    assert files["sentences"] == {name: f"{name}.jsonl" for name in SPLITS}
