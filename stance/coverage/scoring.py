"""How close summed-up shares come to the gold ones: scored on out-of-fold predictions (``stance cv``).

Each sentence of the shipped corpus is predicted once by a model that did not see it (``predictions.jsonl``
of ``stance cv``, with its ``fold``). Per source, the predicted share of each label is compared with the gold
share, as mean absolute error over the labels:

* **sentence level**: raw = predicted labels counted; adjusted = what ``stance track`` does with a
  schema-2 error matrix, PACC (:mod:`stance.coverage.aggregate`), per fold, with the matrix built from the
  **other** folds' predictions only (never from the predictions being adjusted), then the folds' adjusted
  shares weighted by their sentences (ACC instead where the predictions carry no scores);
* **article level**: each article's verdict from its sentences' out-of-fold probabilities (in ``position``
  order) under an :class:`~stance.inference.articles.AggregationRule`, against the gold article labels;
  ``mixed`` is scored as neutral, as the annotation guidelines file evenly set-out conflicting accounts
  (the gold labels have no mixed). Adjusted the same way, with an article-level matrix from other folds.

The MAE reported is the mean over sources (each source counts once).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..errors import StanceError
from ..evaluation.error_matrix import ErrorMatrix
from ..inference.articles import MIXED, AggregationRule, aggregate
from ..labels import LABEL2ID, LABELS
from .aggregate import acc

K = len(LABELS)


def _shares(labels: list[int]) -> np.ndarray:
    return np.bincount(labels, minlength=K) / max(len(labels), 1)


def score_level(items: list[tuple[str, int, int, int]], probabilities: np.ndarray | None = None) -> dict[str, Any]:
    """``items``: (source, fold, gold id, predicted id); ``probabilities`` (one row per item, optional) make
    the adjustment PACC instead of ACC. Per-source gold/raw/adjusted shares and MAEs."""
    if not items:
        raise StanceError("nothing to score: no predictions")
    folds = sorted({fold for _, fold, _, _ in items})
    if len(folds) < 2:
        raise StanceError("adjusting needs at least 2 folds: the error matrix must come from other folds")
    fold_of = np.array([fold for _, fold, _, _ in items])
    gold_ids = np.array([gold for _, _, gold, _ in items])
    scores = (
        np.asarray(probabilities, dtype=np.float64)
        if probabilities is not None
        else np.eye(K)[np.array([predicted for _, _, _, predicted in items])]
    )
    # PACC's matrix from the other folds; on one-hot rows it is ACC's P(predicted i | gold j) exactly
    rates = {
        k: ErrorMatrix.from_examples(gold_ids[fold_of != k], scores[fold_of != k], None, "other folds").soft_rates()
        for k in folds
    }
    sources: dict[str, list[int]] = defaultdict(list)
    for index, (source, _, _, _) in enumerate(items):
        sources[source].append(index)
    per_source, fallbacks = {}, 0
    for source in sorted(sources):
        rows = np.array(sources[source])
        gold = _shares([items[i][2] for i in rows])
        raw = _shares([items[i][3] for i in rows])
        adjusted = np.zeros(K)
        for k in folds:
            part = rows[fold_of[rows] == k]
            if not len(part):
                continue
            q = scores[part].mean(axis=0)  # mean probabilities (PACC), or label shares (ACC: one-hot rows)
            p = acc(q, rates[k])
            if p is None:  # a singular matrix from the other folds: this fold's part stays raw
                fallbacks += 1
                p = _shares([items[i][3] for i in part])
            adjusted += len(part) * p
        adjusted /= len(rows)
        per_source[source] = {
            "n": len(rows),
            "gold": dict(zip(LABELS, gold.round(4).tolist())),
            "raw": dict(zip(LABELS, raw.round(4).tolist())),
            "adjusted": dict(zip(LABELS, adjusted.round(4).tolist())),
            "mae_raw": float(np.abs(raw - gold).mean()),
            "mae_adjusted": float(np.abs(adjusted - gold).mean()),
        }
    return {
        "per_source": per_source,
        "mae_raw": float(np.mean([s["mae_raw"] for s in per_source.values()])),
        "mae_adjusted": float(np.mean([s["mae_adjusted"] for s in per_source.values()])),
        "method": "PACC" if probabilities is not None else "ACC",
        "unadjusted_parts": fallbacks,
        "folds": folds,
    }


def score_out_of_fold(
    predictions: Iterable[dict[str, Any]],
    sentences: dict[str, dict[str, Any]],
    article_labels: dict[str, str],
    rule: AggregationRule | None = None,
) -> dict[str, Any]:
    """Score per-source shares at sentence and article level (see the module docstring).

    ``predictions``: rows of ``stance cv``'s predictions.jsonl (``id``, ``gold``, ``scores`` or ``predicted``,
    ``fold``); ``sentences``: the corpus by sentence id (``article_id``, ``source``, ``position``);
    ``article_labels``: the gold label of each article id.
    """
    rule = rule or AggregationRule()
    sentence_items: list[tuple[str, int, int, int]] = []
    sentence_scores: list[np.ndarray] = []
    soft = True  # PACC at sentence level when every prediction carries its scores
    articles: dict[str, list[tuple[float, np.ndarray, int]]] = defaultdict(list)
    meta: dict[str, tuple[str, set[int]]] = {}
    for row in predictions:
        ident = str(row["id"])
        info = sentences.get(ident) or sentences.get(ident.split("/", 1)[-1])
        if info is None:
            raise StanceError(f"prediction {ident!r}: no such sentence in the corpus; score the corpus it was run on")
        scores = row.get("scores")
        probabilities = (
            np.array([scores[label] for label in LABELS]) if scores else np.eye(K)[LABEL2ID[row["predicted"]]]
        )
        soft = soft and bool(scores)
        sentence_scores.append(probabilities)
        fold, source = int(row["fold"]), str(info.get("source") or row.get("source") or "(none)")
        sentence_items.append((source, fold, LABEL2ID[row["gold"]], int(probabilities.argmax())))
        article = str(info["article_id"])
        articles[article].append((float(info.get("position") or 0), probabilities, fold))
        meta.setdefault(article, (source, set()))[1].add(fold)
    article_items = []
    for article, parts in articles.items():
        source, folds = meta[article]
        if len(folds) != 1:
            raise StanceError(f"article {article}: its sentences fall in folds {sorted(folds)}; group folds by article")
        if article not in article_labels:
            raise StanceError(f"article {article}: no gold article label (articles.jsonl)")
        parts.sort(key=lambda part: part[0])
        verdict = aggregate(np.array([p for _, p, _ in parts]), rule).label
        predicted = LABEL2ID["neutral" if verdict == MIXED else verdict]
        article_items.append((source, folds.pop(), LABEL2ID[article_labels[article]], predicted))
    sentence = score_level(sentence_items, np.array(sentence_scores) if soft and sentence_scores else None)
    return {
        "sentence": sentence,
        # the count-based ACC on the same predictions, for comparison (the same as "sentence" without scores)
        "sentence_acc": score_level(sentence_items) if sentence["method"] == "PACC" else sentence,
        "article": score_level(article_items),
        "rule": rule.describe(),
    }
