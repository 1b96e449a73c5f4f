#!/usr/bin/env python
"""Inference speed and latency on this machine, in one process, on the same (target, sentence) pairs.

    python scripts/bench_predict.py [TEACHER_DIR] [--student DIR] [--data corpus|emergent] [--n N]
        [--repeats 3] [--latency-repeats 50] [--compile] [--onnx] [--quantize] [--no-peer] [--json FILE]

Throughput rows (pairs/s = the median of ``--repeats`` timed passes over all pairs, after a warm-up):

* naive: ``pipeline("text-classification", model=TEACHER, batch_size=32)`` over the pairs in input order;
* teacher, ours at float32 (the reference labels), on PyTorch at ``precision="auto"`` (bf16 on a CPU with AMX
  or AVX512-BF16, else float32; length-sorted batches of ``--batch-size``), and on the default path
  (``StanceClassifier.from_pretrained(DIR)``: ``backend="auto"``, OpenVINO at bf16 on such a CPU, else the
  PyTorch row again; :mod:`stance.inference.backends`);
* ``--compile``: the fastest path with ``torch.compile(dynamic=True)`` (compile time shown separately);
* OpenVINO asked for explicitly (:mod:`stance.inference.openvino`; conversion into a scratch cache, timed): at
  the package's automatic precision, fed our batches, so a CPU where ``auto`` picks PyTorch shows what
  OpenVINO would give there; ``--onnx`` adds ONNX Runtime at float32
  (``pip install 'stance[onnx]'``); a runtime that is missing or fails to convert prints why and is skipped;
* student (``--student DIR``, default runs/distilled/model when present): the same rows;
* ``--quantize``: the int8 variants of :mod:`stance.inference.quantize` on the teacher.

Each row: pairs/s, ratio to naive, label agreement with the teacher's float32 labels, with the row model's
own float32 labels, and macro-F1 on the gold labels of ``--test`` (data/test.jsonl). Then latency on the
default path: one sentence (``predict``) and one 20-sentence article (``predict_article``), warm = p50/p95
of ``--latency-repeats`` calls, cold = the first call after loading the model (one fresh load per model and
input kind, so a single sample, not a percentile). Data: ``corpus`` = every sentence of data/*.jsonl with
its target (``--n`` cycles or cuts them to N pairs); ``emergent`` = ../shared/datasets/emergent/train.jsonl.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's package, whatever the working directory
EMERGENT = ROOT.parent / "shared" / "datasets" / "emergent" / "train.jsonl"
STUDENT = ROOT / "runs" / "distilled" / "model"
# (scope, per-channel weights): ours first; ("all", False) is the one-line quantize_dynamic recipe
VARIANTS = [("encoder", True), ("ffn", True), ("all", True), ("all", False)]
ARTICLE_SENTENCES = 20


@dataclass
class Row:
    name: str
    rate: float  # pairs/s, median of the repeats
    agree_teacher: float
    agree_own: float | None
    f1: float | None
    note: str = ""


def read_pairs(path: Path) -> list[tuple[str, str, str | None]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(row["target"], row["text"], row.get("label")) for row in rows]


def load_data(name: str, n: int | None) -> list[tuple[str, str]]:
    if name == "emergent":
        if not EMERGENT.is_file():
            sys.exit(f"bench_predict: {EMERGENT} not found; use --data corpus")
        pairs = read_pairs(EMERGENT)
    else:
        pairs = [p for split in ("train", "dev", "test") for p in read_pairs(ROOT / "data" / f"{split}.jsonl")]
    return [(t, s) for t, s, _ in itertools.islice(itertools.cycle(pairs), n or len(pairs))]


def median_rate(fn: Callable[[], Any], n: int, repeats: int) -> tuple[Any, float]:
    """``fn()``'s result and the median pairs/s over ``repeats`` timed calls."""
    rates, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        rates.append(n / (time.perf_counter() - start))
    return out, statistics.median(rates)


def peer_backends(trained: Any, onnx: bool, cache: Path) -> list[tuple[str, Any | None]]:
    """(label, backend or None when unavailable: the reason was printed) for each other runtime."""
    peers: list[tuple[str, Any | None]] = []
    from stance.errors import StanceError
    from stance.inference.openvino import OpenVinoBackend

    try:  # a missing package or a failed conversion is one StanceError naming it
        start = time.perf_counter()
        backend = OpenVinoBackend(trained, cache=cache)
        peers.append((f"{backend.describe()} (convert {time.perf_counter() - start:.1f} s)", backend))
    except StanceError as exc:
        print(f"  OpenVINO skipped: {exc}")
    if onnx:
        from stance.inference.onnx import OnnxBackend

        try:
            start = time.perf_counter()
            backend = OnnxBackend.for_model(trained, cache=cache)
            peers.append((f"ONNX Runtime float32 (export {time.perf_counter() - start:.1f} s)", backend))
        except StanceError as exc:
            print(f"  ONNX Runtime skipped: {exc}")
    return peers


def latency(
    model_dir: str, name: str, sentence: tuple[str, str], article: tuple[str, str], repeats: int
) -> list[dict[str, Any]]:
    """Cold (first call after a fresh load) and warm p50/p95 for one sentence and one article."""
    from stance import StanceClassifier

    calls = {
        "1 sentence": lambda clf: clf.predict([sentence[1]], sentence[0]),
        f"{ARTICLE_SENTENCES}-sentence article": lambda clf: clf.predict_article(article[1], article[0], warn=False),
    }
    figures = []
    for kind, call in calls.items():
        start = time.perf_counter()
        clf = StanceClassifier.from_pretrained(model_dir)  # the default path: backend and precision auto
        loaded = time.perf_counter()
        out = call(clf)
        cold = time.perf_counter() - loaded
        for _ in range(3):
            call(clf)
        warm = []
        for _ in range(repeats):
            t = time.perf_counter()
            call(clf)
            warm.append(time.perf_counter() - t)
        p50, p95 = np.percentile(np.array(warm) * 1000, [50, 95])
        split = f", split into {len(out.sentences)}" if hasattr(out, "sentences") else ""
        path = clf.runtime
        print(
            f"{name:<9} {kind:<22} {path:<10} {cold * 1000:8.1f} {p50:7.1f} {p95:7.1f}   "
            f"(load {loaded - start:.1f} s{split})"
        )
        figures.append(
            {"model": name, "input": kind, "path": path, "cold_ms": cold * 1000, "p50_ms": p50, "p95_ms": p95}
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", nargs="?", default=str(ROOT / "runs" / "default" / "model"), help="the teacher")
    parser.add_argument("--student", default=str(STUDENT) if STUDENT.is_dir() else None, help="the small model")
    parser.add_argument("--data", choices=("corpus", "emergent"), default="corpus")
    parser.add_argument("--n", type=int, help="this many pairs (default: all of the data)")
    parser.add_argument("--batch-size", type=int, default=64, help="ours (the naive pipeline uses 32)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per row (median)")
    parser.add_argument("--latency-repeats", type=int, default=50, help="warm calls per latency figure")
    parser.add_argument("--compile", action="store_true", help="also measure torch.compile on the fastest path")
    parser.add_argument("--onnx", action="store_true", help="also measure ONNX Runtime (float32)")
    parser.add_argument("--no-peer", action="store_true", help="skip the peer runtimes")
    parser.add_argument("--quantize", action="store_true", help="also measure the int8 variants on the teacher")
    parser.add_argument("--test", default=str(ROOT / "data" / "test.jsonl"))
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = parser.parse_args()
    from stance.logs import configure

    configure(-1)  # warnings only: this script prints its own figures; no library noise or bars

    import torch
    from transformers import pipeline
    from transformers.utils import logging as hf_logging

    from stance import StanceClassifier
    from stance.evaluation.metrics import compute_metrics
    from stance.inference.backends import make_backend
    from stance.inference.precision import auto_precision
    from stance.inference.scorer import TorchBackend
    from stance.labels import LABEL2ID, LABELS, normalize_label

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    warnings.simplefilter("ignore")
    pairs = load_data(args.data, args.n)
    targets, texts = [t for t, _ in pairs], [s for _, s in pairs]
    test = read_pairs(Path(args.test))
    test_targets, test_texts = [t for t, _, _ in test], [s for _, s, _ in test]
    gold = [LABEL2ID[normalize_label(label)] for _, _, label in test]
    auto, why = auto_precision("cpu")
    print(
        f"{len(pairs)} pairs ({args.data}), torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"precision auto = {auto} ({why}); median of {args.repeats} passes; test: {len(test)} pairs of {args.test}"
    )
    rows: list[Row] = []

    def report(row: Row) -> None:
        rows.append(row)
        own = f"{row.agree_own:8.2%}" if row.agree_own is not None else f"{'':>8}"
        f1 = f"{row.f1:8.4f}" if row.f1 is not None else f"{'':>8}"
        ratio = row.rate / rows[0].rate
        print(f"{row.name:<60} {row.rate:8.1f} {ratio:7.2f}x {row.agree_teacher:8.2%} {own} {f1}  {row.note}")

    def timed(clf: StanceClassifier) -> tuple[np.ndarray, float, float]:
        """Labels of the pairs, median pairs/s, test macro-F1."""
        clf.predict(texts[:32], targets[:32])  # warm-up
        probabilities, rate = median_rate(lambda: clf.predict_proba(texts, targets), len(pairs), args.repeats)
        f1 = compute_metrics(clf.predict_proba(test_texts, test_targets).argmax(1), gold)["macro_f1"]
        return probabilities.argmax(1), rate, f1

    def measure(name: str, clf: StanceClassifier, own: np.ndarray | None, note: str = "") -> None:
        labels, rate, f1 = timed(clf)
        agree_own = float((labels == own).mean()) if own is not None else None
        report(Row(name, rate, float((labels == reference).mean()), agree_own, f1, note))

    # -- the teacher's float32 labels (the reference of every row), then the naive pipeline
    teacher32 = StanceClassifier.from_pretrained(args.model, precision="float32", batch_size=args.batch_size)
    reference, ours32_rate, ours32_f1 = timed(teacher32)
    naive = pipeline("text-classification", model=args.model, batch_size=32)
    limit = {"truncation": "longest_first", "max_length": teacher32.max_length}  # the same truncation as ours

    def run_naive(items: list[tuple[str, str]]) -> np.ndarray:
        out = naive([{"text": t, "text_pair": s} for t, s in items], **limit)
        return np.array([LABELS.index(normalize_label(o["label"])) for o in out])

    run_naive(pairs[:32])
    naive_labels, naive_rate = median_rate(lambda: run_naive(pairs), len(pairs), args.repeats)
    naive_f1 = compute_metrics(run_naive(list(zip(test_targets, test_texts))), gold)["macro_f1"]
    print(
        f"\n{'throughput':<60} {'pairs/s':>8} {'/naive':>8} {'=teacher':>8} {'=own f32':>8} {'test F1':>8}\n{'-' * 106}"
    )
    agree = float((naive_labels == reference).mean())
    report(Row("naive pipeline, teacher (batch 32, input order, float32)", naive_rate, agree, None, naive_f1))
    name = f"teacher, ours float32 (sorted batches of {args.batch_size})"
    report(Row(name, ours32_rate, 1.0, 1.0, ours32_f1))
    fast = StanceClassifier(teacher32.trained, TorchBackend(teacher32.trained, "auto"), batch_size=args.batch_size)
    measure(f"teacher, ours PyTorch (precision auto: {fast.runtime})", fast, reference)
    del fast
    default = StanceClassifier(teacher32.trained, make_backend(teacher32.trained), batch_size=args.batch_size)
    measure(f"teacher, ours default ({default.backend}, {default.runtime})", default, reference)
    del default
    if args.compile:
        bench_compile(teacher32.trained, args.batch_size, measure, reference, (texts, targets))
    with tempfile.TemporaryDirectory() as cache:
        if not args.no_peer:
            for label, backend in peer_backends(teacher32.trained, args.onnx, Path(cache)):
                peer = StanceClassifier(teacher32.trained, backend, batch_size=args.batch_size)
                measure(f"teacher, explicit {label}", peer, reference)
        if args.quantize:
            for scope, per_channel in VARIANTS:
                backend = TorchBackend(teacher32.trained, "int8", quantize_scope=scope, per_channel=per_channel)
                recipe = " (one-line recipe)" if (scope, per_channel) == ("all", False) else ""
                name = f"teacher, int8 {scope}, {'per-channel' if per_channel else 'per-tensor'}{recipe}"
                measure(name, StanceClassifier(teacher32.trained, backend, batch_size=args.batch_size), reference)
        if args.student:
            student32 = StanceClassifier.from_pretrained(args.student, precision="float32", batch_size=args.batch_size)
            own, rate, f1 = timed(student32)
            report(Row("student, ours float32", rate, float((own == reference).mean()), 1.0, f1))
            backend = TorchBackend(student32.trained, "auto")
            student = StanceClassifier(student32.trained, backend, batch_size=args.batch_size)
            measure(f"student, ours PyTorch (precision auto: {student.runtime})", student, own)
            student = StanceClassifier(student32.trained, make_backend(student32.trained), batch_size=args.batch_size)
            measure(f"student, ours default ({student.backend}, {student.runtime})", student, own)
            if not args.no_peer:
                for label, backend in peer_backends(student32.trained, args.onnx, Path(cache)):
                    peer = StanceClassifier(student32.trained, backend, batch_size=args.batch_size)
                    measure(f"student, explicit {label}", peer, own)
        else:
            print("  student rows skipped: no --student DIR (default runs/distilled/model, absent)")

    # -- latency on the default path
    middle = sorted(range(len(test)), key=lambda i: len(test_texts[i]))[len(test) // 2]
    sentence = (test_targets[middle], test_texts[middle])
    article = (test_targets[0], "\n".join(test_texts[:ARTICLE_SENTENCES]))  # one a line: 20 sentences
    print(
        f"\n{'latency (ms)':<9} {'input':<22} {'path':<10} {'cold':>8} {'p50':>7} {'p95':>7}   "
        f"warm: {args.latency_repeats} calls; cold: the first call after one fresh load (one sample)"
    )
    figures = latency(args.model, "teacher", sentence, article, args.latency_repeats)
    if args.student:
        figures += latency(args.student, "student", sentence, article, args.latency_repeats)
    if args.json:
        result = {"pairs": len(pairs), "throughput": [asdict(r) for r in rows], "latency": figures}
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


def bench_compile(
    trained: Any, batch_size: int, measure: Callable[..., None], own: np.ndarray, data: tuple[list[str], list[str]]
) -> None:
    """The fastest path under ``torch.compile(dynamic=True)``; the first calls (compilation) timed apart."""
    import torch

    from stance import StanceClassifier
    from stance.inference.scorer import TorchBackend

    texts, targets = data
    backend = TorchBackend(trained, "auto")
    backend.model = torch.compile(trained.model, dynamic=True)
    clf = StanceClassifier(trained, backend, batch_size=batch_size)
    start = time.perf_counter()
    try:
        clf.predict_proba(texts[: batch_size * 2], targets[: batch_size * 2])
    except Exception as exc:  # noqa: BLE001 - a failed compile is reported, not fatal
        print(f"  torch.compile skipped: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        return
    note = f"compile + first batches {time.perf_counter() - start:.0f} s"
    measure(f"teacher, fastest path + torch.compile ({backend.describe()})", clf, own, note)


if __name__ == "__main__":
    main()
