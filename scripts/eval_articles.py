#!/usr/bin/env python
"""How well ``predict_article`` recovers the article-level labels of data/articles.jsonl.

    python scripts/eval_articles.py [MODEL_DIR | --gold-only] [--split test] [--min-share 0.4] [--min-margin 1]
        [--mixed-share 0.4] [--min-side 2] [--no-mixed]

Each article's text is rebuilt from its annotated sentences in data/{train,dev,test}.jsonl, ordered by
``position``: the headline (position 0) on its own line, a blank line, then the body as one paragraph.
``predict_article`` splits it again (so segmentation is part of what is measured), classifies every
sentence and aggregates. Prints, per split: how often segmentation gave back exactly the annotated sentences,
then accuracy and macro-F1 of every aggregation rule on the model's sentence predictions, and the same rules
applied to the gold sentence labels (what the rule could reach with a perfect sentence classifier). Train
articles were seen in training: read the test (and dev) rows. ``--gold-only`` needs no model: the rules on the
gold sentence labels alone.

An article can be ``mixed`` (both sides in substance, see AggregationRule); the gold article labels have no
mixed (the guidelines file evenly set-out conflicting accounts under neutral). So each rule is scored twice:
with mixed as its own class (always wrong against the gold) and with mixed read as neutral; the script also
prints how many articles each rule calls mixed and, for the default rule, the gold x predicted table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's package, whatever the working directory


def rebuild(data: Path) -> tuple[list[dict], dict[str, str], dict[str, list[dict]]]:
    """Articles, their rebuilt texts, and their annotated sentences in order."""
    articles = [json.loads(line) for line in (data / "articles.jsonl").read_text().splitlines() if line.strip()]
    sentences: dict[str, list[dict]] = defaultdict(list)
    for split in ("train", "dev", "test"):
        for line in (data / f"{split}.jsonl").read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                sentences[row["article_id"]].append(row)
    texts = {}
    for article in articles:
        rows = sorted(sentences[article["article_id"]], key=lambda r: r["position"])
        sentences[article["article_id"]] = rows
        texts[article["article_id"]] = rows[0]["text"] + "\n\n" + " ".join(r["text"] for r in rows[1:])
    return articles, texts, sentences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", nargs="?", default=str(ROOT / "runs" / "default" / "model"))
    parser.add_argument("--gold-only", action="store_true", help="no model: the rules on gold sentence labels only")
    parser.add_argument("--data", default=str(ROOT / "data"))
    parser.add_argument(
        "--split", action="append", choices=("train", "dev", "test", "all"), help="repeatable; default: test, dev, all"
    )
    parser.add_argument("--min-share", type=float, default=0.4)
    parser.add_argument("--min-margin", type=float, default=1.0)
    parser.add_argument("--mixed-share", type=float, default=0.4)
    parser.add_argument("--min-side", type=float, default=2.0)
    parser.add_argument("--no-mixed", action="store_true")
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="also print the share rule's macro-F1 over a grid of min_share x min_margin (choose on dev, report test)",
    )
    args = parser.parse_args()

    from transformers.utils import logging as hf_logging

    from stance import StanceClassifier
    from stance.inference.articles import METHODS, AggregationRule, aggregate
    from stance.labels import LABEL2ID, LABELS

    hf_logging.disable_progress_bar()
    warnings.simplefilter("ignore")
    articles, texts, gold_sentences = rebuild(Path(args.data))
    clf = None if args.gold_only else StanceClassifier.from_pretrained(args.model)
    mixing = {"mixed_share": args.mixed_share, "min_side": args.min_side, "mixed": not args.no_mixed}
    default = AggregationRule(min_share=args.min_share, min_margin=args.min_margin, **mixing)
    rules = {m: AggregationRule(m, args.min_share, args.min_margin, **mixing) for m in METHODS}
    sources = {"gold sentences": {m: {} for m in METHODS}}
    if clf is not None:
        sources = {"model": {m: {} for m in METHODS}, **sources}
    exact = {}
    sentence_probs: dict[str, np.ndarray] = {}
    for article in articles:
        key = article["article_id"]
        gold = np.eye(len(LABELS))[[LABEL2ID[r["label"]] for r in gold_sentences[key]]]
        if clf is not None:
            result = clf.predict_article(texts[key], article.get("target"), rule=default, warn=False)
            found = [s.text for s in result.sentences]
            exact[key] = found == [" ".join(r["text"].split()) for r in gold_sentences[key]]
            probabilities = np.array([[s.scores[label] for label in LABELS] for s in result.sentences])
            sentence_probs[key] = probabilities
            assert aggregate(probabilities, default).label == result.label
        for method, rule in rules.items():
            if clf is not None:
                sources["model"][method][key] = aggregate(probabilities, rule).label
            sources["gold sentences"][method][key] = aggregate(gold, rule).label

    what = "gold sentence labels only" if clf is None else f"model {args.model}"
    print(f"{what}; {len(articles)} articles; default rule: {default.describe()}")
    for split in args.split or ["test", "dev", "all"]:
        chosen = [a for a in articles if split == "all" or a["split"] == split]
        if not chosen:
            continue
        refs = [a["label"] for a in chosen]
        line = f"\n[{split}] {len(chosen)} articles"
        if clf is not None:
            same = sum(exact[a["article_id"]] for a in chosen)
            line += f"; segmentation gave back exactly the annotated sentences in {same}/{len(chosen)}"
        print(line)
        print(
            f"  {'labels from':<15} {'rule':<11} {'mixed':>5} {'acc (mixed own)':>15} {'F1 (mixed own)':>14} "
            f"{'acc (mixed=neutral)':>19} {'F1':>6}"
        )
        for origin, verdicts in sources.items():
            for method in METHODS:
                labels = [verdicts[method][a["article_id"]] for a in chosen]
                own, merged = scores(labels, refs, merge=False), scores(labels, refs, merge=True)
                print(
                    f"  {origin:<15} {method:<11} {labels.count('mixed'):>5} {own[0]:15.3f} {own[1]:14.3f} "
                    f"{merged[0]:19.3f} {merged[1]:6.3f}"
                )
        for origin, verdicts in sources.items():
            print(f"  {origin}, default rule: gold (rows) x predicted (columns)")
            print(confusion([verdicts["share"][a["article_id"]] for a in chosen], refs))
        if args.sweep and clf is not None:
            shares, margins = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5), (1.0, 2.0, 3.0)
            print("  share rule macro-F1 (mixed read as neutral), min_share (rows) x min_margin (columns):")
            print("  " + " " * 9 + "".join(f"{m:>8g}" for m in margins))
            for share in shares:
                cells = []
                for margin in margins:
                    rule = AggregationRule("share", share, margin, **mixing)
                    labels = [aggregate(sentence_probs[a["article_id"]], rule).label for a in chosen]
                    cells.append(scores(labels, refs, merge=True)[1])
                print(f"  {share:>9g}" + "".join(f"{c:8.3f}" for c in cells))


def scores(predicted: list[str], gold: list[str], *, merge: bool) -> tuple[float, float]:
    """Accuracy and macro-F1 over the gold labels; ``mixed`` is its own (always wrong) class, or neutral."""
    from stance.evaluation.metrics import compute_metrics
    from stance.inference.articles import VERDICTS

    if merge:
        predicted = ["neutral" if p == "mixed" else p for p in predicted]
    result = compute_metrics([VERDICTS.index(p) for p in predicted], [VERDICTS.index(g) for g in gold])
    return result["accuracy"], result["macro_f1"]


def confusion(predicted: list[str], gold: list[str]) -> str:
    from stance.inference.articles import VERDICTS
    from stance.labels import LABELS

    lines = ["    " + " " * 12 + "".join(f"{v:>11}" for v in VERDICTS)]
    for g in LABELS:
        counts = [sum(1 for p, r in zip(predicted, gold) if r == g and p == v) for v in VERDICTS]
        lines.append(f"    {g:<12}" + "".join(f"{c:>11}" for c in counts))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
