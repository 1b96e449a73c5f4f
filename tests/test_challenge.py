"""The challenge set (data/challenge.jsonl, issue 17 part 2) is complete, valid and separate from the corpus.

It is an evaluation-only set written from its own brief (data/CHALLENGE.md). These tests check its rows and
articles, its size and label balance, that no id collides with the corpus, that no challenge sentence is a
near-duplicate of a corpus sentence (character 5-gram Jaccard >= 0.7, as in tests/test_corpus.py), that
``stance data validate`` accepts it, that no shipped config trains or selects on it, and that the counts in
CHALLENGE.md match the files.
"""

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

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
CHALLENGE = DATA / "challenge.jsonl"
CHALLENGE_ARTICLES = DATA / "challenge_articles.jsonl"
CARD = DATA / "CHALLENGE.md"
SPLITS = ("train", "dev", "test")
FIELDS = {"id", "text", "target", "label", "article_id", "source", "date", "position", "phenomena"}
ARTICLE_FIELDS = {"article_id", "label", "source", "date", "headline", "n_sentences", "target"}
NEAR = 0.7  # character 5-gram Jaccard similarity that counts as a near-duplicate (data/README.md)


def _read_jsonl(path: Path) -> list[tuple[int, dict]]:
    """(line number, row) for every non-blank line."""
    return [(n, json.loads(line)) for n, line in enumerate(path.read_text("utf-8").splitlines(), 1) if line.strip()]


def guideline_tags() -> set[str]:
    """The tags in the table of GUIDELINES.md section 4: the only tags a row may carry."""
    guidelines = (DATA / "GUIDELINES.md").read_text("utf-8")
    section = guidelines.split("## 4. Phenomena tags", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.M))


def corpus_outlets() -> set[str]:
    guidelines = (DATA / "GUIDELINES.md").read_text("utf-8")
    provenance = guidelines.split("**Provenance.**", 1)[1].split("\n\n**", 1)[0]
    return {name.strip() for line in provenance.splitlines() if line.startswith("- ") for name in line[2:].split(",")}


@pytest.fixture(scope="module")
def lines() -> list[tuple[int, dict]]:
    return _read_jsonl(CHALLENGE)


@pytest.fixture(scope="module")
def rows(lines) -> list[dict]:
    return [r for _, r in lines]


@pytest.fixture(scope="module")
def articles() -> list[dict]:
    return [r for _, r in _read_jsonl(CHALLENGE_ARTICLES)]


@pytest.fixture(scope="module")
def corpus() -> list[dict]:
    return [r for name in SPLITS for _, r in _read_jsonl(DATA / f"{name}.jsonl")]


def _normalized(text: str) -> str:
    return " ".join(text.lower().split())


def cross_near_duplicates(left: list[str], right: list[str]) -> list[tuple[int, int, float]]:
    """(i, j, jaccard) for every left[i], right[j] with character 5-gram Jaccard >= NEAR.

    The same measure as ``near_duplicate_pairs`` in tests/test_corpus.py (lower-cased, whitespace-collapsed
    text; binary character 5-grams), computed between two lists by one sparse product.
    """
    grams = CountVectorizer(analyzer="char", ngram_range=(5, 5), lowercase=False, binary=True)
    grams.fit([_normalized(t) for t in left + right])
    a = grams.transform([_normalized(t) for t in left]).astype(np.int32)
    b = grams.transform([_normalized(t) for t in right]).astype(np.int32)
    size_a, size_b = np.asarray(a.sum(axis=1)).ravel(), np.asarray(b.sum(axis=1)).ravel()
    overlap = (a @ b.T).tocoo()
    jaccard = overlap.data / (size_a[overlap.row] + size_b[overlap.col] - overlap.data)
    near = jaccard >= NEAR
    return list(zip(overlap.row[near].tolist(), overlap.col[near].tolist(), jaccard[near].tolist()))


def test_cross_near_duplicate_finder_matches_the_definition():
    left = ["Russia will supply attack helicopters to Pakistan, the minister said.", "Rain fell on Lahore."]
    right = ["Russia will  NOT supply attack helicopters to Pakistan, the minister said.", "Markets closed flat."]
    found = cross_near_duplicates(left, right)
    grams = [{t[k : k + 5] for k in range(len(t) - 4)} for t in (_normalized(left[0]), _normalized(right[0]))]
    assert [(i, j) for i, j, _ in found] == [(0, 0)]
    assert found[0][2] == pytest.approx(len(grams[0] & grams[1]) / len(grams[0] | grams[1]))


def test_size(rows, articles):
    assert len(rows) >= 300
    assert len({r["article_id"] for r in rows}) >= 30 and len(articles) >= 30


def test_every_row_is_complete_and_valid(lines):
    tags = guideline_tags()
    seen: dict[str, int] = {}
    for line, r in lines:
        where = f"{CHALLENGE.name}:{line}"
        assert set(r) == FIELDS, (where, sorted(set(r) ^ FIELDS))
        assert r["id"] not in seen, f"{where}: duplicate id {r['id']} (first on line {seen.get(r['id'])})"
        seen[r["id"]] = line
        assert re.fullmatch(r"chl-\d{4}", r["id"]), where
        assert re.fullmatch(r"C-\d{3}", r["article_id"]), where
        assert r["target"] == DEFAULT_TARGET, where
        assert r["label"] in LABELS, where
        assert isinstance(r["text"], str) and len(r["text"].strip()) >= 5 and r["text"] == r["text"].strip(), where
        assert isinstance(r["position"], int) and r["position"] >= 0, where
        assert isinstance(r["phenomena"], list) and set(r["phenomena"]) <= tags, (where, set(r["phenomena"]) - tags)
        assert len(set(r["phenomena"])) == len(r["phenomena"]), where
        assert re.fullmatch(r"20(0[1-9]|1\d|2[0-5])-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])", r["date"]), where
        assert isinstance(r["source"], str) and r["source"].strip(), where


def test_articles_are_coherent_and_match_their_rows(rows, articles):
    by_article = defaultdict(list)
    for r in rows:
        by_article[r["article_id"]].append(r)
    table = {a["article_id"]: a for a in articles}
    assert len(table) == len(articles), "duplicate article ids in challenge_articles.jsonl"
    assert set(table) == set(by_article)
    for article_id, sentences in by_article.items():
        meta = table[article_id]
        assert set(meta) == ARTICLE_FIELDS, (article_id, sorted(set(meta) ^ ARTICLE_FIELDS))
        sentences.sort(key=lambda r: r["position"])
        assert [r["position"] for r in sentences] == list(range(len(sentences))), article_id
        assert [("headline" in r["phenomena"]) for r in sentences] == [True] + [False] * (len(sentences) - 1)
        assert not sentences[0]["text"].endswith("."), f"{article_id}: a headline has no final full stop"
        assert len({(r["source"], r["date"]) for r in sentences}) == 1, article_id
        assert 7 <= len(sentences) <= 15, article_id
        first = sentences[0]
        assert meta["n_sentences"] == len(sentences), article_id
        assert (meta["source"], meta["date"], meta["target"]) == (first["source"], first["date"], first["target"])
        assert meta["headline"] == first["text"] and meta["label"] in LABELS, article_id
        if meta["label"] != "neutral":  # GUIDELINES section 6 sanity check
            assert meta["label"] in {r["label"] for r in sentences}, article_id


def test_rows_are_in_reading_order(rows):
    """Ids run chl-0001, chl-0002, ... through the file, article by article, in position order."""
    assert [r["id"] for r in rows] == [f"chl-{n:04d}" for n in range(1, len(rows) + 1)]
    keys = [(r["article_id"], r["position"]) for r in rows]
    assert keys == sorted(keys)


def test_label_balance(rows):
    counts = Counter(r["label"] for r in rows)
    for label in LABELS:
        assert 0.25 <= counts[label] / len(rows) <= 0.40, (label, counts)


def test_every_tag_but_minimal_pair_is_represented(rows):
    counts = Counter(tag for r in rows for tag in r["phenomena"])
    for tag in guideline_tags() - {"minimal_pair"}:
        assert counts[tag] >= 5, (tag, counts[tag])


def test_outlets_are_invented_and_not_the_corpus_ones(rows):
    """The challenge set's outlets differ from the corpus's, so outlet style cannot carry over."""
    outlets = {r["source"] for r in rows}
    assert len(outlets) >= 6
    assert not outlets & corpus_outlets()


def test_no_id_or_article_id_collides_with_the_corpus(rows, articles, corpus):
    corpus_ids = {r["id"] for r in corpus}
    corpus_articles = {r["article_id"] for r in corpus}
    corpus_articles |= {a["article_id"] for _, a in _read_jsonl(DATA / "articles.jsonl")}
    assert not {r["id"] for r in rows} & corpus_ids
    assert not ({r["article_id"] for r in rows} | {a["article_id"] for a in articles}) & corpus_articles


def test_no_challenge_sentence_duplicates_a_corpus_sentence(lines, corpus):
    texts = [r["text"] for _, r in lines]
    found = cross_near_duplicates(texts, [r["text"] for r in corpus])
    problems = [
        f"{CHALLENGE.name}:{lines[i][0]} ({lines[i][1]['id']}) ~ corpus row {corpus[j]['id']} (Jaccard {jac:.2f})"
        for i, j, jac in sorted(found)
    ]
    assert not problems, "challenge sentences near-duplicate corpus rows:\n" + "\n".join(problems)


def test_no_two_challenge_sentences_are_near_duplicates(lines):
    texts = [r["text"] for _, r in lines]
    found = [(i, j, jac) for i, j, jac in cross_near_duplicates(texts, texts) if i < j]
    problems = [f"{CHALLENGE.name}:{lines[i][0]} ~ {CHALLENGE.name}:{lines[j][0]} ({jac:.2f})" for i, j, jac in found]
    assert not problems, "\n".join(problems)


def test_stance_data_validate_accepts_the_file():
    from stance.cli import main

    assert main(["data", "validate", str(CHALLENGE.relative_to(ROOT))]) == 0


def test_no_shipped_config_trains_or_selects_on_the_challenge_set():
    for config in sorted((ROOT / "configs").glob("*.y*ml")):
        assert "challenge" not in config.read_text("utf-8"), f"{config.name} refers to the challenge set"


def challenge_tables(rows: list[dict], articles: list[dict]) -> str:
    """The count tables of data/CHALLENGE.md, generated from the files."""
    n = len(rows)
    labels = Counter(r["label"] for r in rows)
    article_labels = Counter(a["label"] for a in articles)
    tags = Counter(tag for r in rows for tag in r["phenomena"])
    by_tag = defaultdict(Counter)
    for r in rows:
        for tag in r["phenomena"]:
            by_tag[tag][r["label"]] += 1
    out = ["| | count |", "|---|---:|", f"| sentences | {n} |", f"| articles | {len(articles)} |", ""]
    out += ["| label | sentences | articles |", "|---|---:|---:|"]
    out += [f"| {label} | {labels[label]} ({labels[label] / n:.1%}) | {article_labels[label]} |" for label in LABELS]
    out += ["", "| phenomenon | sentences | supportive | denying | neutral |", "|---|---:|---:|---:|---:|"]
    for tag in sorted(guideline_tags()):
        c = by_tag[tag]
        out.append(f"| {tag} | {tags[tag]} | {c['supportive']} | {c['denying']} | {c['neutral']} |")
    untagged = Counter(r["label"] for r in rows if not r["phenomena"])
    out.append(
        f"| (no tag) | {sum(untagged.values())} | {untagged['supportive']} | {untagged['denying']} "
        f"| {untagged['neutral']} |"
    )
    return "\n".join(out)


def test_challenge_card_counts_match_the_files(rows, articles):
    card = CARD.read_text("utf-8")
    expected = challenge_tables(rows, articles).splitlines()
    missing = [line for line in expected if line.startswith("|") and line not in card]
    assert not missing, "data/CHALLENGE.md is out of date; first stale line: " + missing[0]
    assert "never use this set for training or model selection" in card.lower()


REVIEW = DATA / "challenge_review.jsonl"


def test_second_review_covers_every_sentence_and_its_agreement_matches_the_card(rows):
    from stance.annotation.agreement import measure

    review = _read_jsonl(REVIEW)
    ids = [row["id"] for row in rows]
    assert [row["id"] for _, row in review] == ids, "challenge_review.jsonl must list every challenge id once, in order"
    for n, row in review:
        assert row["label"] in LABELS, f"{REVIEW.name}:{n}: label: {row['label']!r} is not one of {LABELS}"
        assert set(row) == {"id", "label", "note"}, f"{REVIEW.name}:{n}: fields: {sorted(row)}"
    labels = {row["id"]: row["label"] for _, row in review}
    agreement = measure([[("writer", row["label"]), ("reviewer", labels[row["id"]])] for row in rows])
    card = CARD.read_text("utf-8")
    for name, value in (
        ("observed agreement", agreement.observed),
        ("Cohen's kappa", agreement.pairs[0].cohen_kappa),
        ("Krippendorff's alpha", agreement.krippendorff_alpha),
    ):
        assert f"| {name} | {value:.3f} |" in card, f"data/CHALLENGE.md: {name} should read {value:.3f}"
    disagreements = [row["id"] for row in rows if row["label"] != labels[row["id"]]]
    listed = card[card.index("## Agreement with the second review") :]
    assert all(i in listed for i in disagreements), "every disagreement is listed in CHALLENGE.md"
