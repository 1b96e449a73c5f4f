"""Sentence segmentation of news articles and the sentence → article aggregation rule."""

from __future__ import annotations

import numpy as np
import pytest

from stance.errors import StanceError
from stance.inference.articles import VERDICTS, AggregationRule, aggregate, split_sentences
from stance.labels import LABELS

ARTICLE = (
    "Moscow denies arms sale to Islamabad\n"
    "MOSCOW, June 5 - Russia's foreign ministry said on Tuesday it had not agreed to\n"
    "sell weapons to Pakistan. \u201cWe have no such plans. None at all,\u201d spokeswoman Maria Zakharova said.\n"
    "\n"
    "Mr. Lavrov will visit the U.S. next week. Dr. Khan, a defence analyst, disagreed.\n"
    "Will Moscow change course?\n"
)


def texts(text: str, **kwargs) -> list[str]:
    return [s.text for s in split_sentences(text, **kwargs)]


def test_headline_quotes_abbreviations_and_hard_wraps():
    assert texts(ARTICLE) == [
        "Moscow denies arms sale to Islamabad",  # headline without final punctuation stays alone
        "MOSCOW, June 5 - Russia's foreign ministry said on Tuesday it had not agreed to sell weapons to Pakistan.",
        "\u201cWe have no such plans. None at all,\u201d spokeswoman Maria Zakharova said.",  # one quoted sentence
        "Mr. Lavrov will visit the U.S. next week.",  # abbreviations do not end sentences
        "Dr. Khan, a defence analyst, disagreed.",
        "Will Moscow change course?",
    ]


def test_a_footnote_marker_stays_with_the_sentence_it_follows():
    text = (
        "Talks went on through diplomatic channels.\u00b9 Rumours of a fighter offer had no basis.\u00b2\u2020"
        " It rained."
    )
    assert texts(text) == [
        "Talks went on through diplomatic channels.\u00b9",
        "Rumours of a fighter offer had no basis.\u00b2\u2020",
        "It rained.",
    ]
    spans = split_sentences(text)
    assert [text[s.start : s.end] for s in spans] == texts(text)


def test_a_footnote_marker_after_a_number_ends_its_sentence():
    # pysbd leaves "2014.¹ Rumours" in one piece; a marker before a lower-case word does not split
    text = (
        "Deliveries began in 2014.\u00b9 Rumours of more followed in 2016.\u00b2\u2020"
        " \u201cNone,\u201d he said. Clause 2.\u00b9 was kept."
    )
    assert texts(text) == [
        "Deliveries began in 2014.\u00b9",
        "Rumours of more followed in 2016.\u00b2\u2020",
        "\u201cNone,\u201d he said.",
        "Clause 2.\u00b9 was kept.",
    ]
    spans = split_sentences(text)
    assert [text[s.start : s.end] for s in spans] == texts(text)


def test_question_headline_stays_whole_and_a_dateline_joins_its_sentence():
    text = (
        "Su-35 for Pakistan? Russian Trade Official Rules It Out\n\n"
        "MOSCOW, March 1. The issue was not  discussed. It was fine."
    )
    assert texts(text) == [
        "Su-35 for Pakistan? Russian Trade Official Rules It Out",
        "MOSCOW, March 1. The issue was not discussed.",
        "It was fine.",
    ]
    spans = split_sentences(text)
    assert text[spans[1].start : spans[1].end] == "MOSCOW, March 1. The issue was not  discussed."


def test_spans_point_into_the_original_text():
    for sentence in split_sentences(ARTICLE):
        assert ARTICLE[sentence.start : sentence.end].split() == sentence.text.split()


def test_blank_lines_only_mode_and_empty_text():
    joined = texts("Short headline\nRussia sells jets. Pakistan buys them.\n", split_lines=False)
    assert joined[0] == "Short headline Russia sells jets."
    assert texts("Short headline\r\nRussia sells jets.\r\n\r\nNew paragraph here.") == [
        "Short headline",
        "Russia sells jets.",
        "New paragraph here.",
    ]
    assert split_sentences("") == [] and split_sentences(" \n\n \t\n") == []


def probs(labels: str, confidence: float = 0.8) -> np.ndarray:
    """One row per letter: s(upportive), d(enying), n(eutral)."""
    rows = []
    for letter in labels:
        row = np.full(len(LABELS), (1 - confidence) / 2)
        row["sdn".index(letter)] = confidence
        rows.append(row)
    return np.array(rows)


@pytest.mark.parametrize(
    "sentences, rule, expected",
    [
        ("ssnnn", AggregationRule(), "supportive"),  # 40% supportive, lead 2
        ("snnnn", AggregationRule(), "neutral"),  # one supportive sentence in passing
        ("ssddn", AggregationRule(), "mixed"),  # an even split of two a side: was neutral before mixed
        ("ssddn", AggregationRule(mixed=False), "neutral"),  # the older rule: an even split is neutral
        ("sdnnn", AggregationRule(), "neutral"),  # one sentence a side is not "in substance"
        ("ssssddn", AggregationRule(), "supportive"),  # the smaller side 33% of the side-taking (< 40%)
        ("ssssddn", AggregationRule(mixed_share=0.3), "mixed"),
        ("sssddnnnnnnnnn", AggregationRule(), "neutral"),  # 5 of 14 take a side (< 40%): in passing
        ("sssdddn", AggregationRule(min_side=4), "neutral"),  # 3 a side, 4 needed; then an even split
        ("ssddn", AggregationRule("majority"), "neutral"),  # baselines are never mixed
        ("dddsnn", AggregationRule(), "denying"),
        ("dddsnn", AggregationRule(min_margin=3), "neutral"),  # lead of 2 is not enough
        ("snnnn", AggregationRule(min_share=0.2), "supportive"),
        ("ssnnn", AggregationRule("majority"), "neutral"),
        ("ssnn", AggregationRule("majority"), "neutral"),  # a tie
        ("sssnn", AggregationRule("majority"), "supportive"),
        ("dnnnn", AggregationRule("headline"), "denying"),
        ("", AggregationRule(), "neutral"),
    ],
)
def test_aggregation_rules(sentences, rule, expected):
    verdict = aggregate(probs(sentences).reshape(-1, 3), rule)
    label, deciding = verdict.label, verdict.deciding
    assert label == expected and verdict.reason
    if sentences and expected == "mixed":
        assert {sentences[i] for i in deciding} == {"s", "d"}  # deciding sentences from both sides
    elif sentences:
        assert deciding and all(sentences[i] == expected[0] for i in deciding)


def test_mixed_evidence_comes_from_both_sides_most_confident_first():
    p = probs("ssssnddddnnnnn")  # 4 supportive and 4 denying of 14, as the example article
    p[2] = [0.95, 0.03, 0.02]
    p[7] = [0.02, 0.97, 0.01]
    verdict = aggregate(p, AggregationRule(evidence=3))
    assert verdict.label == "mixed" and verdict.deciding[:2] == [2, 7] and len(verdict.deciding) == 3
    assert verdict.reason.startswith("both sides in substance: 4 supportive and 4 denying")
    assert aggregate(p, AggregationRule(evidence=1)).deciding == [2, 7]  # at least one from each side
    assert aggregate(p, AggregationRule(evidence=0)).deciding == []
    assert aggregate(p, AggregationRule(mixed=False)).label == "neutral"  # what it was before


def test_soft_share_can_be_mixed_and_describe_states_the_rule():
    p = np.array([[0.9, 0.05, 0.05]] * 3 + [[0.05, 0.9, 0.05]] * 3 + [[0.1, 0.1, 0.8]] * 2)
    assert aggregate(p, AggregationRule("soft_share")).label == "mixed"
    unsure = np.array([[0.34, 0.33, 0.33]] * 10)  # mass on both sides, but no sentence takes one
    assert aggregate(unsure, AggregationRule("soft_share")).label == "neutral"
    assert "mixed when each side has >= 2" in AggregationRule().describe()
    assert "mixed" not in AggregationRule(mixed=False).describe()


def test_soft_share_uses_probability_mass():
    # two confident supportive sentences and three neutral ones leaning supportive
    p = np.array([[0.9, 0.05, 0.05]] * 2 + [[0.45, 0.0, 0.55]] * 3)
    assert aggregate(p, AggregationRule("soft_share", min_share=0.5)).label == "supportive"
    assert aggregate(p, AggregationRule("share", min_share=0.5)).label == "neutral"


def test_deciding_sentences_are_the_most_confident_capped_by_evidence():
    p = probs("sssns")
    p[1] = [0.95, 0.03, 0.02]
    p[4] = [0.9, 0.05, 0.05]
    verdict = aggregate(p, AggregationRule(evidence=2))
    assert verdict.label == "supportive" and verdict.deciding == [1, 4]
    assert verdict.reason == "supportive: 80% of the sentences (>= 40%), ahead by 4"


def test_bad_rules_are_refused():
    with pytest.raises(StanceError, match="unknown"):
        AggregationRule("vote")
    with pytest.raises(StanceError, match="min_share"):
        AggregationRule(min_share=1.5)
    with pytest.raises(StanceError, match="mixed_share must lie in"):
        AggregationRule(mixed_share=0.6)
    with pytest.raises(StanceError, match="min_side"):
        AggregationRule(min_side=0)


def test_predict_article_on_the_example(tiny_model_dir):
    from stance import StanceClassifier

    clf = StanceClassifier.from_pretrained(tiny_model_dir)
    text = open("data/examples/russia_pakistan_article.txt", encoding="utf-8").read()
    result = clf.predict_article(text, rule=AggregationRule(evidence=2), warn=False)
    assert len(result.sentences) == 14 and result.sentences[0].text.startswith("Russia Offers Pakistan")
    assert sum(result.counts.values()) == 14 and result.label in VERDICTS
    assert len(result.deciding) <= 2
    sides = {"supportive", "denying"} if result.label == "mixed" else {result.label}
    assert all(result.sentences[i].label in sides for i in result.deciding)
    assert result.target == clf.default_target and "share" in result.rule
    assert result.to_dict()["sentences"][0]["scores"].keys() == set(LABELS)


def test_the_example_article_with_both_sides_is_mixed(tiny_model_dir, monkeypatch):
    """The example reports Moscow's offer (4 sentences) and its denial (4): mixed, evidence from both."""
    from stance import StanceClassifier

    clf = StanceClassifier.from_pretrained(tiny_model_dir)
    text = open("data/examples/russia_pakistan_article.txt", encoding="utf-8").read()
    # what a good model says of its 14 sentences: the headline plays the reports down, 1-4 report the
    # offer, 6-8 deny the deal, the rest is background, a question and an off-topic line
    gold = "dssssndddnnnnn"
    monkeypatch.setattr(clf, "_score", lambda texts, target, batch_size: (probs(gold), 0))
    result = clf.predict_article(text, rule=AggregationRule(evidence=4), warn=False)
    assert result.label == "mixed" and result.counts == {"supportive": 4, "denying": 4, "neutral": 6}
    assert {result.sentences[i].label for i in result.deciding} == {"supportive", "denying"}
    assert not any(result.sentences[i].label == "neutral" for i in result.deciding)
    before = clf.predict_article(text, rule=AggregationRule(mixed=False), warn=False)
    assert before.label == "neutral"  # the older rule: background sentences "decided" it
