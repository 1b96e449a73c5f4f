"""The label set shared by every claim, and the one explicit table of aliases from other schemes."""

from __future__ import annotations

from collections.abc import Iterable

LABELS: tuple[str, ...] = ("supportive", "denying", "neutral")
LABEL2ID: dict[str, int] = {label: i for i, label in enumerate(LABELS)}
ID2LABEL: dict[int, str] = dict(enumerate(LABELS))

DEFINITIONS: dict[str, str] = {
    "supportive": "asserts, reports as fact, or endorses that the claim holds (attributed reports included)",
    "denying": "asserts or reports that the claim does not hold, or that reports of it are false",
    "neutral": "on topic without either (questions, background, other cooperation), or off topic",
}

# Other annotation schemes mapped onto ours. Keys are compared lower-cased with spaces/hyphens as "_".
# A label outside this table is an error: we never guess and never drop a row silently.
ALIASES: dict[str, str] = {
    # ours
    "supportive": "supportive",
    "denying": "denying",
    "neutral": "neutral",
    # SemEval-2016 Task 6: FAVOR / AGAINST / NONE
    "favor": "supportive",
    "favour": "supportive",
    "against": "denying",
    "none": "neutral",
    # FNC-1 / RumourEval-like: agree / disagree / discuss (unrelated → neutral)
    "agree": "supportive",
    "disagree": "denying",
    "discuss": "neutral",
    "unrelated": "neutral",
    # Emergent: for / against / observing
    "for": "supportive",
    "observing": "neutral",
    # pro / con
    "pro": "supportive",
    "con": "denying",
    # RumourEval: support / deny / query / comment
    "support": "supportive",
    "supports": "supportive",
    "supporting": "supportive",
    "deny": "denying",
    "denies": "denying",
    "denial": "denying",
    "comment": "neutral",
    "query": "neutral",
    "question": "neutral",
    # plain words
    "positive": "supportive",
    "negative": "denying",
    "refute": "denying",
    "refutes": "denying",
    "refuting": "denying",
    "confirm": "supportive",
    "confirms": "supportive",
    "neither": "neutral",
    "other": "neutral",
    "off_topic": "neutral",
    # more plain words seen in stance data sets
    "in_favor": "supportive",
    "in_favour": "supportive",
    "anti": "denying",
    "oppose": "denying",
    "opposes": "denying",
    "opposed": "denying",
    "irrelevant": "neutral",
    "no_stance": "neutral",
}


def _key(raw: str) -> str:
    return "_".join(raw.strip().lower().replace("-", " ").split())


def normalize_label(raw: object) -> str | None:
    """Map a raw label (any scheme in :data:`ALIASES`, or an id 0-2) to ours; ``None`` if unknown."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return ID2LABEL.get(raw)
    if not isinstance(raw, str):
        return None
    return ALIASES.get(_key(raw))


def describe_aliases() -> str:
    """A short human-readable list of accepted labels, for error messages."""
    by_label: dict[str, list[str]] = {label: [] for label in LABELS}
    for alias, label in ALIASES.items():
        by_label[label].append(alias)
    return "; ".join(f"{label} ← {', '.join(sorted(a))}" for label, a in by_label.items())


def label_counts(labels: Iterable[str | None]) -> dict[str, int]:
    """How often each of :data:`LABELS` occurs (every label present, zeros included; ``None`` ignored)."""
    counts = dict.fromkeys(LABELS, 0)
    for label in labels:
        if label in counts:
            counts[label] += 1
    return counts
