#!/usr/bin/env python
"""Training speed: the shipped recipe against the naive one a user would write, in one run.

    python scripts/bench_train.py [CONFIG] [--set k=v]... [--epochs N]

Both train the same base model on the same train/dev files for the same number of epochs. The naive recipe
is the plain Trainer with static padding to ``model.max_length``, no length grouping, lr 5e-5, batch 16 and
no class weights. Each recipe runs in its own process so that peak memory (max RSS) is its own. Prints wall
time, training examples per second, peak memory and dev macro-F1 of each, and the speed ratio.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # naive_recipe.py beside this file


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_ours(config_path: str, overrides: list[str], queue: mp.Queue) -> None:
    from stance.config import load_config
    from stance.training.trainer import train

    config = load_config(config_path, overrides)
    with tempfile.TemporaryDirectory() as tmp:
        result = train(config, Path(tmp) / "run")
        # trainer.train() only (as for the naive recipe): model loading and tokenising excluded
        seconds = json.loads((Path(tmp) / "run" / "train_metrics.json").read_text())["train_seconds"]
    epochs = result.dev_metrics.get("epoch", config.training.epochs)
    queue.put(
        {
            "recipe": "stance default",
            "seconds": seconds,
            "epochs": epochs,
            "examples": len(result.splits["train"]) * epochs,
            "macro_f1": result.dev_metrics["eval_macro_f1"],
            "peak_mb": _peak_rss_mb(),
        }
    )


def run_naive(config_path: str, overrides: list[str], queue: mp.Queue) -> None:
    from naive_recipe import train_naive

    from stance.config import load_config
    from stance.data import load_splits

    config = load_config(config_path, overrides)
    splits = load_splits(config.data, with_test=False)
    run = train_naive(
        splits["train"],
        splits["dev"],
        config.model.base,
        config.training.epochs,
        config.model.max_length,
        config.training.seed,
    )
    dev = run.trainer.evaluate()
    queue.put(
        {
            "recipe": "naive Trainer",
            "seconds": run.train_seconds,
            "epochs": config.training.epochs,
            "examples": run.train_examples,
            "macro_f1": dev["eval_macro_f1"],
            "peak_mb": _peak_rss_mb(),
        }
    )


def _in_child(target: Any, *args: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", nargs="?", default="configs/default.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--epochs", type=float, help="epochs for both recipes (default: the config's)")
    args = parser.parse_args(argv)
    from stance.logs import configure

    configure(-1)  # warnings only: this script prints its own figures; no library noise or bars
    overrides = list(args.overrides)
    if args.epochs:
        overrides.append(f"training.epochs={args.epochs}")
    # The shipped recipe may stop early; the naive one runs the epochs ours actually ran, so the
    # comparison is per epoch of work, not "stopped early vs ran to the end".
    ours = _in_child(run_ours, args.config, overrides)
    naive = _in_child(run_naive, args.config, overrides + [f"training.epochs={ours['epochs']}"])
    print(f"\n{'recipe':<16}{'epochs':>7}{'wall s':>9}{'examples/s':>12}{'peak MB':>9}{'dev macro-F1':>14}")
    for r in (naive, ours):
        print(
            f"{r['recipe']:<16}{r['epochs']:>7.1f}{r['seconds']:>9.1f}{r['examples'] / r['seconds']:>12.1f}"
            f"{r['peak_mb']:>9.0f}{r['macro_f1']:>14.4f}"
        )
    ratio = (ours["examples"] / ours["seconds"]) / (naive["examples"] / naive["seconds"])
    print(
        f"\nspeed ratio (examples/s, ours / naive): {ratio:.2f}x; "
        f"dev macro-F1 difference (ours - naive): {ours['macro_f1'] - naive['macro_f1']:+.4f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
