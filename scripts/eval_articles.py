#!/usr/bin/env python
"""How well ``predict_article`` recovers the article-level labels of data/articles.jsonl.

    python scripts/eval_articles.py [MODEL_DIR] [--split test] [--min-share 0.4] [--min-margin 1]

Each article's text is rebuilt from its annotated sentences in data/{train,dev,test}.jsonl, ordered by
``position``: the headline (position 0) on its own line, a blank line, then the body as one paragraph.
``predict_article`` splits it again (so segmentation is part of what is measured), classifies every
sentence and aggregates. Prints, per split: how often segmentation gave back exactly the annotated sentences,
then accuracy and macro-F1 of every aggregation rule on the model's sentence predictions, and the same rules
applied to the gold sentence labels (what the rule could reach with a perfect sentence classifier). Train
articles were seen in training: read the test (and dev) rows.
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
    parser.add_argument("--data", default=str(ROOT / "data"))
    parser.add_argument(
        "--split", action="append", choices=("train", "dev", "test", "all"), help="repeatable; default: test, dev, all"
    )
    parser.add_argument("--min-share", type=float, default=0.4)
    parser.add_argument("--min-margin", type=float, default=1.0)
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="also print the share rule's macro-F1 over a grid of min_share x min_margin (choose on dev, report test)",
    )
    args = parser.parse_args()

    from transformers.utils import logging as hf_logging

    from stance import StanceClassifier
    from stance.evaluation.metrics import compute_metrics
    from stance.inference.articles import METHODS, AggregationRule, aggregate
    from stance.labels import LABEL2ID, LABELS

    hf_logging.disable_progress_bar()
    warnings.simplefilter("ignore")
    articles, texts, gold_sentences = rebuild(Path(args.data))
    clf = StanceClassifier.from_pretrained(args.model)
    default = AggregationRule(min_share=args.min_share, min_margin=args.min_margin)
    rules = {m: AggregationRule(m, args.min_share, args.min_margin) for m in METHODS}
    predicted: dict[str, dict[str, str]] = {m: {} for m in METHODS}
    oracle: dict[str, dict[str, str]] = {m: {} for m in METHODS}
    exact = {}
    sentence_probs: dict[str, np.ndarray] = {}
    for article in articles:
        key = article["article_id"]
        result = clf.predict_article(texts[key], article.get("target"), rule=default, warn=False)
        found = [s.text for s in result.sentences]
        exact[key] = found == [" ".join(r["text"].split()) for r in gold_sentences[key]]
        probabilities = np.array([[s.scores[label] for label in LABELS] for s in result.sentences])
        sentence_probs[key] = probabilities
        gold = np.eye(len(LABELS))[[LABEL2ID[r["label"]] for r in gold_sentences[key]]]
        for method, rule in rules.items():
            predicted[method][key] = aggregate(probabilities, rule).label
            oracle[method][key] = aggregate(gold, rule).label
        assert predicted["share"][key] == result.label or default.method != "share"

    print(f"model {args.model}; {len(articles)} articles; default rule: {default.describe()}")
    for split in args.split or ["test", "dev", "all"]:
        chosen = [a for a in articles if split == "all" or a["split"] == split]
        if not chosen:
            continue
        refs = [LABEL2ID[a["label"]] for a in chosen]
        same = sum(exact[a["article_id"]] for a in chosen)
        print(
            f"\n[{split}] {len(chosen)} articles; segmentation gave back exactly the annotated sentences "
            f"in {same}/{len(chosen)}"
        )
        print(f"  {'rule':<11} {'accuracy':>9} {'macro-F1':>9}   {'gold-sentence acc':>17} {'gold F1':>8}")
        for method in METHODS:
            ours = compute_metrics([LABEL2ID[predicted[method][a["article_id"]]] for a in chosen], refs)
            best = compute_metrics([LABEL2ID[oracle[method][a["article_id"]]] for a in chosen], refs)
            print(
                f"  {method:<11} {ours['accuracy']:9.3f} {ours['macro_f1']:9.3f}   "
                f"{best['accuracy']:17.3f} {best['macro_f1']:8.3f}"
            )
        if args.sweep:
            shares, margins = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5), (1.0, 2.0, 3.0)
            print("  share rule macro-F1, min_share (rows) x min_margin (columns):")
            print("  " + " " * 9 + "".join(f"{m:>8g}" for m in margins))
            for share in shares:
                cells = []
                for margin in margins:
                    rule = AggregationRule("share", share, margin)
                    labels = [LABEL2ID[aggregate(sentence_probs[a["article_id"]], rule).label] for a in chosen]
                    cells.append(compute_metrics(labels, refs)["macro_f1"])
                print(f"  {share:>9g}" + "".join(f"{c:8.3f}" for c in cells))


if __name__ == "__main__":
    main()
