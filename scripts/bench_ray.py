#!/usr/bin/env python
"""``stance predict --engine ray`` against the local engine, on the same rows, in one run.

    python scripts/bench_ray.py MODEL_DIR [--rows 20000] [--num-cpus N | --address ADDR] [--workers N]
        [--cpus-per-worker C] [--gpus-per-worker G] [--batch-size 64] [--chunk-size 2048]
        [--quantize | --bf16 | --onnx]

Writes ``--rows`` (target, sentence) rows (every sentence of data/*.jsonl with its target, cycled; unique ids)
to a temporary JSONL file, then classifies it twice: the local engine (``classify_file``, this process, the
model loaded first and timed apart) and the Ray engine (``classify_files_ray``: a local Ray instance of
``--num-cpus`` CPUs, default all, or the cluster at ``--address``). Prints sentences per second for each,
Ray's both end to end and after its start-up (``ray.init`` plus the actors loading the model until the first
rows come back), the ratio to local (the goal: at least 0.8x at 2 CPUs), and whether the answers agree
(labels, largest score difference). Nothing is kept: the rows and outputs live in a temporary folder.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's package, whatever the working directory
GOAL = 0.8  # Ray after start-up / local, at 2 CPUs


def write_rows(path: Path, n: int) -> None:
    rows = [
        json.loads(line) for split in ("train", "dev", "test") for line in (ROOT / "data" / f"{split}.jsonl").open()
    ]
    with path.open("w", encoding="utf-8") as out:
        for i, row in enumerate(itertools.islice(itertools.cycle(rows), n)):
            out.write(json.dumps({"id": f"b{i}", "text": row["text"], "target": row["target"]}) + "\n")


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a `stance train` model folder (DIR/model)")
    parser.add_argument("--rows", type=int, default=20000)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--num-cpus", type=int, help="size of the local Ray instance (default: every CPU)")
    where.add_argument("--address", help="a running Ray cluster instead (auto, host:port, ray://host:port)")
    parser.add_argument("--workers", type=int)
    parser.add_argument("--cpus-per-worker", type=float)
    parser.add_argument("--gpus-per-worker", type=float, default=0.0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--chunk-size", type=int, default=2048)
    fast = parser.add_mutually_exclusive_group()
    fast.add_argument("--quantize", action="store_true")
    fast.add_argument("--bf16", action="store_true")
    fast.add_argument("--onnx", action="store_true")
    args = parser.parse_args()
    from stance.logs import configure

    configure(-1)  # warnings only: this script prints its own figures

    from stance import StanceClassifier
    from stance.inference.distributed import ModelOptions, classify_files_ray
    from stance.inference.files import classify_file

    options = ModelOptions(
        quantize=bool(args.quantize),
        bf16=args.bf16,
        backend="onnx" if args.onnx else "torch",
        batch_size=args.batch_size,
    )
    with tempfile.TemporaryDirectory(prefix="bench_ray.") as tmp:
        rows = Path(tmp) / "rows.jsonl"
        write_rows(rows, args.rows)

        start = time.perf_counter()
        classifier = StanceClassifier.from_pretrained(
            args.model,
            quantize=options.quantize,
            bf16=options.bf16,
            backend=options.backend,
            batch_size=args.batch_size,
        )
        load_s = time.perf_counter() - start
        start = time.perf_counter()
        classify_file(classifier, rows, Path(tmp) / "local.jsonl", chunk_size=args.chunk_size, progress=False)
        local_s = time.perf_counter() - start
        del classifier

        summary = classify_files_ray(
            args.model,
            [rows],
            Path(tmp) / "ray.jsonl",
            options=options,
            address=args.address,
            num_cpus=args.num_cpus,
            workers=args.workers,
            cpus_per_worker=args.cpus_per_worker,
            gpus_per_worker=args.gpus_per_worker,
            chunk_size=args.chunk_size,
            progress=False,
        )
        local, remote = read(Path(tmp) / "local.jsonl"), read(Path(tmp) / "ray.jsonl")

    n = args.rows
    start_up = summary.startup_s + summary.first_rows_s
    steady_s = max(summary.seconds - start_up, 1e-9)
    same_ids = [r["id"] for r in local] == [r["id"] for r in remote]
    agree = sum(a["label"] == b["label"] for a, b in zip(local, remote)) / max(len(local), 1)
    diff = max((abs(a["scores"][k] - b["scores"][k]) for a, b in zip(local, remote) for k in a["scores"]), default=0)
    cpus = args.num_cpus or os.cpu_count()
    print(f"{n} rows, model {args.model}, {options}")
    print(f"Ray pool: {summary.pool.describe()} (local instance of {cpus} CPUs)" if not args.address else "")
    print(f"{'engine':<26} {'sentences/s':>12} {'seconds':>9} {'x local':>8}")
    print(f"{'local (model loaded)':<26} {n / local_s:>12.1f} {local_s:>9.2f} {1:>8.2f}   (+ {load_s:.2f} s to load)")
    total_s = summary.seconds
    print(f"{'ray, end to end':<26} {n / total_s:>12.1f} {total_s:>9.2f} {local_s / total_s:>8.2f}")
    print(f"{'ray, after start-up':<26} {n / steady_s:>12.1f} {steady_s:>9.2f} {local_s / steady_s:>8.2f}")
    print(
        f"ray start-up: {start_up:.2f} s (ray.init {summary.startup_s:.2f} s, then {summary.first_rows_s:.2f} s "
        "until the first classified rows: actors start and load the model)"
    )
    print(f"answers: same ids in order {same_ids}, labels agree {agree:.2%}, largest score difference {diff:.2g}")
    verdict = "met" if local_s / steady_s >= GOAL else "NOT met"
    print(f"goal >= {GOAL}x local after start-up: {verdict} ({local_s / steady_s:.2f}x at {cpus} CPUs)")


if __name__ == "__main__":
    main()
