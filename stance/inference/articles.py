"""Whole articles: split into sentences, then sum sentence stances up into the article's stance.

Segmentation is two-level. A news text carries structure that a sentence segmenter cannot see: a headline
or a dateline has no final punctuation and would be glued to the next sentence. So the text is first cut
into *blocks* at blank lines and (by default) at single line breaks, and each block is then split into
sentences by pysbd, which handles abbreviations ("Mr.", "U.S."), decimals and quotations. A line break
inside a sentence (hard-wrapped text: the next line starts with a lower-case letter, or the line ends
with a hyphen or comma) does not cut it; ``split_lines=False`` cuts at blank lines only.

The aggregation rule is :class:`AggregationRule`; see its docstring for the exact definition. An article's
verdict is one of :data:`VERDICTS`: a sentence label, or ``mixed`` when it reports the claim and its denial
in substance.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from ..errors import StanceError
from ..labels import LABELS

STANCES = ("supportive", "denying")  # the labels that take a side; "neutral" is the default verdict
MIXED = "mixed"  # an article verdict only: both sides in substance (see AggregationRule)
VERDICTS: tuple[str, ...] = (*LABELS, MIXED)  # what an article can be
METHODS = ("share", "soft_share", "majority", "headline")
_PARAGRAPH = re.compile(r"\n[ \t\r\f\v]*\n")
_CONTINUES = re.compile(r"[-,;:(\u2013\u2014]$")  # a line ending like this goes on on the next line
_FINAL = re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*$")  # sentence-final punctuation, closing quotes allowed
# A news-agency dateline that pysbd takes for a sentence of its own: "MOSCOW, March 1." / "ISLAMABAD, Oct. 11."
_DATELINE = re.compile(r"^[A-Z][A-Z'.\- ]+(?:\s*\([^)]*\))?,\s*[A-Z][a-z]{2,}\.?\s+\d{1,2}\s*\.$")
# A footnote marker after a full stop ("... exchanges.¹ Rumours ..."), which pysbd gives to the next sentence.
_MARKS = "\u00b9\u00b2\u00b3\u2070\u2074-\u2079\u2020\u2021"  # superscript 0-9, daggers
_FOOTNOTE = re.compile(rf"^([{_MARKS}]+)\s*")
# ... and the boundary pysbd misses when a number precedes the stop ("... in 2014.¹ Rumours ...").
_MISSED_BREAK = re.compile(rf"\d[.!?][{_MARKS}]+(\s+)(?=[\"\u201c\u2018(]?[A-Z])")
HEADLINE_WORDS = 25  # a block this short without final punctuation is a headline: one sentence, uncut


@dataclass(frozen=True)
class Sentence:
    """One sentence of an article, with its character span in the original text."""

    text: str
    start: int
    end: int


@lru_cache(maxsize=1)
def _segmenter() -> Any:
    import pysbd

    return pysbd.Segmenter(language="en", clean=False)


def split_blocks(text: str, split_lines: bool = True) -> list[tuple[int, int]]:
    """Character spans of the blocks no sentence crosses: paragraphs, and lines unless they run on."""
    spans: list[tuple[int, int]] = []
    position = 0
    for paragraph in _PARAGRAPH.split(text):
        start = text.index(paragraph, position)
        position = start + len(paragraph)
        if not split_lines:
            spans.append((start, position))
            continue
        block_start = start
        offset = start
        lines = paragraph.split("\n")
        for i, line in enumerate(lines):
            offset_end = offset + len(line)
            following = lines[i + 1].lstrip() if i + 1 < len(lines) else ""
            runs_on = bool(following) and (following[0].islower() or bool(_CONTINUES.search(line.rstrip())))
            if not runs_on:
                spans.append((block_start, offset_end))
                block_start = offset_end + 1
            offset = offset_end + 1
    return [(s, e) for s, e in spans if text[s:e].strip()]


def _split_missed(piece: str) -> list[str]:
    """``piece`` cut at each boundary pysbd missed after a number, a stop and a footnote marker."""
    parts, start = [], 0
    for match in _MISSED_BREAK.finditer(piece):
        parts.append(piece[start : match.start(1)])
        start = match.end(1)
    return [*parts, piece[start:]]


def _segment(block: str) -> list[str]:
    """pysbd's sentences of one block, with our corrections.

    A headline stays whole, a boundary pysbd missed after a number and a footnote marker is cut, a marker
    pysbd gave to the next sentence goes back to its own, and a dateline joins its sentence.
    """
    stripped = block.strip()
    if len(stripped.split()) <= HEADLINE_WORDS and not _FINAL.search(stripped):
        return [stripped]  # "Su-35 for Pakistan? Russian Official Rules It Out" is one headline
    pieces = [part for piece in _segmenter().segment(block) for part in _split_missed(piece.strip()) if part]
    merged: list[str] = []
    for piece in pieces:
        marker = _FOOTNOTE.match(piece) if merged else None
        if marker:  # the marker belongs to the sentence before it, as in the text
            merged[-1] += marker.group(1)
            piece = piece[marker.end() :]
            if not piece:
                continue
        if merged and _DATELINE.match(merged[-1]):
            merged[-1] = merged[-1] + " " + piece  # the separator is restored from the text by the caller
        else:
            merged.append(piece)
    return merged


def _locate(block: str, piece: str, cursor: int) -> tuple[int, int]:
    """The span of ``piece`` in ``block`` at or after ``cursor``, whitespace aside."""
    chars = "".join(piece.split())
    start, i, k = -1, cursor, 0
    while i < len(block) and k < len(chars):
        if not block[i].isspace():
            if block[i] != chars[k]:
                break
            start = i if start < 0 else start
            k += 1
        i += 1
    if k == len(chars):
        return start, i
    found = block.find(piece, cursor)  # pysbd changed some characters: fall back to a plain search
    return (found, found + len(piece)) if found >= 0 else (cursor, min(len(block), cursor + len(piece)))


def split_sentences(text: str, split_lines: bool = True) -> list[Sentence]:
    """The sentences of ``text`` in order, each with its span; empty text gives an empty list."""
    sentences: list[Sentence] = []
    for block_start, block_end in split_blocks(text, split_lines):
        # Line breaks left inside a block run on; pysbd would cut there, so they become spaces (same offsets).
        block = text[block_start:block_end].replace("\r", " ").replace("\n", " ")
        cursor = 0
        for piece in _segment(block):
            start, end = _locate(block, piece, cursor)
            cursor = end
            # A hard-wrapped sentence keeps its line breaks in the span; the text reads as one line.
            sentences.append(Sentence(" ".join(block[start:end].split()), block_start + start, block_start + end))
    return sentences


@dataclass(frozen=True)
class AggregationRule:
    """How sentence stances add up to the article's stance: one of :data:`VERDICTS`.

    Let *n* be the number of sentences and *s*, *d* the number predicted supportive and denying
    (``soft_share`` uses the sums of the sentence probabilities instead of counts). The rule is applied
    in this order:

    1. **mixed** — the article reports the claim *and* its denial in substance: each side holds at least
       ``min_side`` sentences (predicted with its label, also for ``soft_share``: diffuse probability
       mass from an unsure model is not a side), the smaller side holds at least ``mixed_share`` of the side-taking
       sentences (``min(s, d) >= mixed_share * (s + d)``), and the side-taking sentences together make at
       least ``min_share`` of all sentences (``s + d >= min_share * n``). With the defaults (2, 40%, 40%)
       4 supportive and 4 denying sentences of 14 are mixed; 2 supportive against 4 denying are not (the
       denial is the piece's point, the claim is recapped). ``mixed=False`` turns this step off.
    2. **one side** — the side with more sentences leads; it becomes the article's stance when it holds at
       least ``min_share`` of all sentences **and** leads the other side by at least ``min_margin``
       sentences.
    3. **neutral** — otherwise: no side, an even split of a few sentences, or a side mentioned only in
       passing. Background and off-topic sentences thus dilute a side rather than outvote it: an
       article is judged by what it asserts, not by how much context it adds.

    The annotation guidelines (data/GUIDELINES.md, section 6) file "conflicting accounts set out evenly"
    under neutral: a gold label of neutral is the counterpart of ``mixed`` when scoring against them.

    Other methods, as baselines (never mixed): ``majority`` is the most frequent predicted label (neutral
    on a tie); ``headline`` is the stance of the first sentence.

    The deciding sentences are those predicted with the article's label, most confident first, at most
    ``evidence`` of them (for ``headline``: the first sentence). A mixed article's deciding sentences
    come from both sides in turn, the larger side first, at least one from each (so ``max(evidence, 2)``).
    """

    method: str = "share"
    min_share: float = 0.4
    min_margin: float = 1.0
    evidence: int = 3
    mixed_share: float = 0.4
    min_side: float = 2.0
    mixed: bool = True

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise StanceError(f"aggregation method {self.method!r} is unknown; choose one of {', '.join(METHODS)}")
        if not 0.0 <= self.min_share <= 1.0:
            raise StanceError(f"aggregation min_share must lie in [0, 1], got {self.min_share}")
        if self.min_margin < 0 or self.evidence < 0:
            raise StanceError("aggregation min_margin and evidence must not be negative")
        if not 0.0 <= self.mixed_share <= 0.5:
            raise StanceError(
                f"aggregation mixed_share must lie in [0, 0.5] (the smaller side's share of the side-taking "
                f"sentences), got {self.mixed_share}"
            )
        if self.min_side < 1:
            raise StanceError(f"aggregation min_side must be at least 1 (sentences on each side), got {self.min_side}")

    @property
    def can_mix(self) -> bool:
        return self.mixed and self.method in ("share", "soft_share")

    def describe(self) -> str:
        if self.method in ("share", "soft_share"):
            what = "probability mass" if self.method == "soft_share" else "sentences"
            mixed = (
                f"mixed when each side has >= {self.min_side:g} and the smaller >= {self.mixed_share:.0%} of the "
                f"side-taking {what}, together >= {self.min_share:.0%} of all; else "
                if self.mixed
                else ""
            )
            return (
                f"{self.method}: {mixed}the leading side wins with >= {self.min_share:.0%} of the {what} "
                f"and a lead of >= {self.min_margin:g}, else neutral"
            )
        return {
            "majority": "majority: the most frequent sentence label (neutral on a tie)",
            "headline": "headline: the stance of the first sentence",
        }[self.method]


@dataclass
class SentenceResult:
    """One classified sentence. ``index`` is its place in ``ArticleResult.sentences`` (from 0, for Python);
    ``number`` is what a reader calls it (from 1): tables, CSV and JSON show ``number``."""

    index: int
    text: str
    start: int
    end: int
    label: str
    scores: dict[str, float]

    @property
    def number(self) -> int:
        return self.index + 1


@dataclass
class ArticleResult:
    """The article's stance, the sentences that decided it, per-label sentence counts, every sentence."""

    label: str  # one of VERDICTS
    target: str
    counts: dict[str, int]
    deciding: list[int]  # indices into ``sentences``
    sentences: list[SentenceResult] = field(default_factory=list)
    rule: str = ""
    reason: str = ""  # why the rule gave this label
    truncated: int = 0  # sentences longer than the model reads (their tail was ignored)

    @property
    def deciding_sentences(self) -> list[SentenceResult]:
        return [self.sentences[i] for i in self.deciding]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for sentence in out["sentences"]:
            sentence["number"] = sentence["index"] + 1
        out["deciding_numbers"] = [i + 1 for i in self.deciding]
        return out


@dataclass(frozen=True)
class Verdict:
    label: str
    deciding: list[int]  # sentence indices, most confident first
    reason: str  # one line a reader can check against the table


def aggregate(probabilities: np.ndarray, rule: AggregationRule | None = None) -> Verdict:
    """The article's verdict from an (n_sentences, len(LABELS)) array of sentence probabilities."""
    rule = rule or AggregationRule()
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(-1, len(LABELS))
    n = len(probabilities)
    if n == 0:
        return Verdict("neutral", [], "no sentences")
    predicted = probabilities.argmax(axis=1)
    counts = np.bincount(predicted, minlength=len(LABELS))
    if rule.method == "headline":
        return Verdict(LABELS[int(predicted[0])], [0], "the headline's stance")
    if rule.method == "majority":
        top = np.flatnonzero(counts == counts.max())
        label = LABELS[int(top[0])] if len(top) == 1 else "neutral"
        reason = (
            f"{label} is the most frequent label"
            if len(top) == 1
            else f"a tie between {' and '.join(LABELS[int(t)] for t in top)}"
        )
    else:
        soft = rule.method == "soft_share"
        mass = probabilities.sum(axis=0) if soft else counts.astype(np.float64)
        support, deny = (mass[LABELS.index(side)] for side in STANCES)
        lead, other = (STANCES[0], deny) if support > deny else (STANCES[1], support)
        top = max(support, deny)
        unit = "of the probability mass" if soft else "of the sentences"
        sides, fewer = support + deny, min(support, deny)
        if (
            rule.can_mix
            and min(counts[LABELS.index(side)] for side in STANCES) >= rule.min_side
            and fewer >= rule.mixed_share * sides
            and sides >= rule.min_share * n
        ):
            label = MIXED
            reason = (
                f"both sides in substance: {support:.3g} supportive and {deny:.3g} denying (the smaller side "
                f"{fewer / sides:.0%} of the side-taking, >= {rule.mixed_share:.0%}; together {sides / n:.0%} "
                f"{unit})"
            )
            return Verdict(label, _both_sides(probabilities, predicted, rule.evidence), reason)
        if support == deny:
            label, reason = "neutral", f"supportive and denying tie at {top:g}"
        elif top < rule.min_share * n:
            label, reason = "neutral", f"{lead} leads with only {top / n:.0%} {unit} (< {rule.min_share:.0%})"
        elif top - other < rule.min_margin:
            label, reason = "neutral", f"{lead} leads by only {top - other:.3g} (< {rule.min_margin:g})"
        else:
            label = lead
            reason = f"{lead}: {top / n:.0%} {unit} (>= {rule.min_share:.0%}), ahead by {top - other:.3g}"
    return Verdict(label, _most_confident(probabilities, predicted, LABELS.index(label))[: rule.evidence], reason)


def _most_confident(probabilities: np.ndarray, predicted: np.ndarray, column: int) -> list[int]:
    """The sentences predicted as ``column``, most confident first (ties: in reading order)."""
    mine = [i for i in range(len(predicted)) if predicted[i] == column]
    mine.sort(key=lambda i: -probabilities[i, column])
    return mine


def _both_sides(probabilities: np.ndarray, predicted: np.ndarray, evidence: int) -> list[int]:
    """A mixed article's deciding sentences: each side's most confident in turn, the larger side first."""
    if evidence == 0:
        return []
    ranked = [_most_confident(probabilities, predicted, LABELS.index(side)) for side in STANCES]
    ranked.sort(key=len, reverse=True)
    turns = [i for pair in itertools.zip_longest(*ranked) for i in pair if i is not None]
    return turns[: max(evidence, 2)]
