#!/usr/bin/env python
"""Inference speed on a CPU: the naive transformers pipeline against StanceClassifier, in one process.

    python scripts/bench_predict.py [MODEL_DIR] [--data corpus|emergent] [--n 2000] [--onnx] [--quantize]

Both classify the same (target, sentence) pairs. Naive: ``pipeline("text-classification", model=DIR,
batch_size=32)`` over the pairs in input order. Ours: ``StanceClassifier.predict`` (length-sorted batches,
dynamic padding, ``inference_mode``), and the same with ``--bf16``. Prints pairs per second for each, the
ratio and label agreement.
``--onnx`` adds the ONNX Runtime backend (float32, ``pip install 'stance[onnx]'``): export time on a cold cache,
pairs per second, ratio to naive, label agreement with the naive pipeline, and test macro-F1.
``--quantize`` adds the int8 variants of :mod:`stance.inference.quantize` (the one-line recipe included for
comparison): speed, agreement with full precision, and test macro-F1 of full vs quantized on
``data/test.jsonl``. Data: ``corpus`` = every sentence of data/*.jsonl with its target, repeated up to
``--n``; ``emergent`` = ../shared/datasets/emergent/train.jsonl (its own claims as targets), when present.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's package, whatever the working directory
EMERGENT = ROOT.parent / "shared" / "datasets" / "emergent" / "train.jsonl"
# (scope, per-channel weights): ours first; ("all", False) is the one-line quantize_dynamic recipe
VARIANTS = [("encoder", True), ("ffn", True), ("all", True), ("all", False)]


def read_pairs(path: Path) -> list[tuple[str, str, str]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(row["target"], row["text"], row.get("label")) for row in rows]


def load_data(name: str, n: int) -> list[tuple[str, str]]:
    if name == "emergent":
        if not EMERGENT.is_file():
            sys.exit(f"bench_predict: {EMERGENT} not found; use --data corpus")
        pairs = read_pairs(EMERGENT)
    else:
        pairs = [p for split in ("train", "dev", "test") for p in read_pairs(ROOT / "data" / f"{split}.jsonl")]
    return [(t, s) for t, s, _ in itertools.islice(itertools.cycle(pairs), max(n, len(pairs)))]


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", nargs="?", default=str(ROOT / "runs" / "default" / "model"))
    parser.add_argument("--data", choices=("corpus", "emergent"), default="corpus")
    parser.add_argument("--n", type=int, default=2000, help="at least this many pairs")
    parser.add_argument("--batch-size", type=int, default=64, help="ours (the naive pipeline uses 32)")
    parser.add_argument("--quantize", action="store_true", help="also measure the int8 variants")
    parser.add_argument("--onnx", action="store_true", help="also measure the ONNX Runtime backend")
    parser.add_argument("--test", default=str(ROOT / "data" / "test.jsonl"))
    args = parser.parse_args()
    from stance.logs import configure

    configure(-1)  # warnings only: this script prints its own figures; no library noise or bars

    import torch
    from transformers import pipeline
    from transformers.utils import logging as hf_logging

    from stance import StanceClassifier
    from stance.evaluation.metrics import compute_metrics
    from stance.inference.scorer import TorchBackend
    from stance.labels import LABEL2ID, normalize_label

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    warnings.simplefilter("ignore")
    pairs = load_data(args.data, args.n)
    targets, texts = [t for t, _ in pairs], [s for _, s in pairs]
    print(
        f"{len(pairs)} pairs ({args.data}), torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"model {args.model}"
    )

    clf = StanceClassifier.from_pretrained(args.model, batch_size=args.batch_size)
    naive = pipeline("text-classification", model=args.model, batch_size=32)
    inputs = [{"text": t, "text_pair": s} for t, s in pairs]
    # the same truncation as ours, so that long pairs (if any) are read alike
    limit = {"truncation": "longest_first", "max_length": clf.max_length}
    naive(inputs[:32], **limit)  # warm-up, both sides
    out, naive_s = timed(lambda: naive(inputs, **limit))
    naive_labels = [normalize_label(o["label"]) for o in out]

    clf.predict(texts[:32], targets[:32])
    full, ours_s = timed(clf.predict_proba, texts, targets)
    ours_labels = [clf.labels[i] for i in full.argmax(1)]
    agree = sum(a == b for a, b in zip(naive_labels, ours_labels)) / len(pairs)
    rate = len(pairs) / naive_s, len(pairs) / ours_s
    print(f"naive pipeline(batch_size=32, input order): {rate[0]:7.1f} pairs/s ({naive_s:.1f} s)")
    print(f"StanceClassifier (sorted batches of {args.batch_size}):   {rate[1]:7.1f} pairs/s ({ours_s:.1f} s)")
    print(
        f"speed-up {rate[1] / rate[0]:.2f}x, label agreement {agree:.2%} "
        f"({sum(a != b for a, b in zip(naive_labels, ours_labels))} differ)"
    )
    half = StanceClassifier(clf.trained, TorchBackend(clf.trained, "bf16"), batch_size=args.batch_size)
    half.predict(texts[:32], targets[:32])
    bf16, bf16_s = timed(half.predict_proba, texts, targets)
    print(
        f"StanceClassifier --bf16 (autocast):         {len(pairs) / bf16_s:7.1f} pairs/s ({bf16_s:.1f} s); "
        f"{len(pairs) / bf16_s / rate[0]:.2f}x naive, label agreement with float32 "
        f"{(bf16.argmax(1) == full.argmax(1)).mean():.2%}"
    )
    if not (args.quantize or args.onnx):
        return

    test = read_pairs(Path(args.test))
    test_targets, test_texts = [t for t, _, _ in test], [s for _, s, _ in test]
    gold = [LABEL2ID[normalize_label(label)] for _, _, label in test]

    def macro_f1(model_clf: StanceClassifier) -> float:
        probabilities = model_clf.predict_proba(test_texts, test_targets)
        return compute_metrics(probabilities.argmax(1), gold)["macro_f1"]

    full_f1 = macro_f1(clf)
    if args.onnx:
        bench_onnx(clf, texts, targets, naive_labels, rate[0], full, full_f1, macro_f1)
    if not args.quantize:
        return
    print(
        f"\nfull precision: test macro-F1 {full_f1:.4f} on {len(test)} pairs of {args.test}; bf16: {macro_f1(half):.4f}"
    )
    print(f"{'int8 variant':<34} {'pairs/s':>8} {'vs naive':>9} {'agree(full)':>12} {'test F1':>8} {'dF1':>7}")
    for scope, per_channel in VARIANTS:
        backend = TorchBackend(clf.trained, "int8", quantize_scope=scope, per_channel=per_channel)
        q = StanceClassifier(clf.trained, backend, batch_size=args.batch_size)
        q.predict(texts[:32], targets[:32])
        probabilities, seconds = timed(q.predict_proba, texts, targets)
        q_agree = float((probabilities.argmax(1) == full.argmax(1)).mean())
        f1 = macro_f1(q)
        name = (
            f"{scope}, {'per-channel' if per_channel else 'per-tensor'}"
            + (" (one-line recipe)" if (scope, per_channel) == ("all", False) else "")
            + (" (--quantize)" if (scope, per_channel) == ("encoder", True) else "")
        )
        q_rate = len(pairs) / seconds
        print(
            f"{name:<34} {q_rate:8.1f} {q_rate / rate[0]:8.2f}x {q_agree:12.2%} {f1:8.4f} "
            f"{(f1 - full_f1) * 100:+6.2f}pt"
        )


def bench_onnx(clf, texts, targets, naive_labels, naive_rate, full, full_f1, macro_f1) -> None:
    """The ONNX Runtime backend at full precision; the export is timed into a fresh, throwaway cache."""
    import tempfile

    from stance import StanceClassifier
    from stance.inference.onnx import OnnxBackend

    with tempfile.TemporaryDirectory() as cache:
        backend, export_s = timed(lambda: OnnxBackend.for_model(clf.trained, cache=Path(cache)))
    onnx = StanceClassifier(clf.trained, backend, batch_size=clf.batch_size)
    onnx.predict(texts[:32], targets[:32])
    probabilities, seconds = timed(onnx.predict_proba, texts, targets)
    labels = [onnx.labels[i] for i in probabilities.argmax(1)]
    agree = sum(a == b for a, b in zip(naive_labels, labels)) / len(labels)
    onnx_rate = len(labels) / seconds
    print(
        f"\nONNX Runtime float32 (sorted batches of {clf.batch_size}): {onnx_rate:7.1f} pairs/s ({seconds:.1f} s); "
        f"{onnx_rate / naive_rate:.2f}x naive; label agreement with naive {agree:.2%} "
        f"({sum(a != b for a, b in zip(naive_labels, labels))} differ); max |score - torch float32| "
        f"{abs(probabilities - full).max():.1e}; export {export_s:.1f} s (once, then cached)"
    )
    print(f"test macro-F1: ONNX {macro_f1(onnx):.4f}, torch float32 {full_f1:.4f}")


if __name__ == "__main__":
    main()
