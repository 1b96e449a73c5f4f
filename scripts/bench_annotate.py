#!/usr/bin/env python
"""Measured savings of the annotation loop: a simulation in which the gold labels play the annotator.

    python scripts/bench_annotate.py [--config configs/default.yaml] [--start 100] [--step 100] [--rounds 8]
        [--seeds 2] [--first-seed 0] [--epochs E] [--strategies uncertainty diverse clusters random]
        [--without-random] [--per-article K] [--output DIR]
    python scripts/bench_annotate.py --combine RUN_A/results.json RUN_B/results.json [--output DIR]

The config's training split is the unlabelled pool, its test split scores every model. Each seed starts
from the same ``--start`` random sentences for every strategy; each round trains a model on what is
labelled so far (:func:`stance.training.train`, the config's recipe, no dev split: fixed epochs), scores
the test split (macro-F1, :class:`stance.StanceClassifier`), then asks the strategy for ``--step`` more
(:func:`stance.annotation.select.select`, as ``stance annotate select`` does) and "labels" them with
their gold labels. Prints the test macro-F1 per round and strategy (mean ± sd over seeds), how many labels
each strategy needs to reach the macro-F1 that ``random`` (the naive way to annotate) reaches with the
largest budget (linear interpolation between rounds), writes ``DIR/learning_curve.png`` and
``DIR/results.json``. Default sizes train 2 × (1 + 3 × 7) = 44 models: run it when the CPU is free.
Seeds can be added later: ``--first-seed 2 --seeds 2`` runs seeds 2 and 3, and ``--combine`` pools the
per-seed curves of several ``results.json`` files (same config and budgets, no seed of a strategy twice) into
one table, verdict and plot without training anything (its ``seconds``: the pooled runs' total). A
strategy added later runs alone: ``--strategies clusters --without-random --seeds 4`` reuses, through
``--combine``, the random curves an earlier run holds for the same seeds.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STRATEGIES = ("uncertainty", "diverse", "clusters", "random")


class UsageError(Exception):
    """A bad config or results file: printed as one line, exit status 2."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/default.yaml", help="any config (e.g. configs/fast.yaml)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--start", type=int, default=100, help="random sentences labelled before round 1")
    parser.add_argument("--step", type=int, default=100, help="sentences added a round")
    parser.add_argument("--rounds", type=int, default=8, help="models trained per strategy and seed")
    parser.add_argument("--seeds", type=int, default=2, help="simulations per strategy (seeds K..K+N-1)")
    parser.add_argument("--first-seed", type=int, default=0, metavar="K", help="the first seed (default 0)")
    parser.add_argument("--combine", nargs="+", metavar="RESULTS", help="pool these results.json files; no training")
    parser.add_argument("--epochs", type=float, help="training epochs (default: the config's)")
    parser.add_argument(
        "--strategies",
        nargs="+",
        choices=STRATEGIES,
        help="default: uncertainty diverse random; with --combine, pool only these (default: all in the files)",
    )
    parser.add_argument(
        "--without-random",
        action="store_true",
        help="skip the random baseline: its curves for these seeds come from another run (pool with --combine)",
    )
    parser.add_argument("--measure", choices=("margin", "entropy"), default="margin")
    parser.add_argument("--per-article", type=int, help="cap picks per article (article_id)")
    parser.add_argument("--output", default="runs/bench_annotate", help="folder for the PNG and results.json")
    args = parser.parse_args(argv)
    if args.start < 1 or args.step < 1 or args.rounds < 1 or args.seeds < 1 or args.first_seed < 0:
        parser.error("--start, --step, --rounds and --seeds must be at least 1, --first-seed at least 0")
    if args.combine:
        return args
    args.strategies = args.strategies or ["uncertainty", "diverse", "random"]
    if "random" not in args.strategies and not args.without_random:
        args.strategies.append("random")  # the baseline every strategy is measured against
    return args


class Simulation:
    """The pool with gold labels, the test split, and one function that trains and scores a labelled set."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        from stance.config import load_config
        from stance.data.examples import read_examples

        self.config = load_config(args.config, args.overrides)
        data = self.config.data
        if not data.test:
            raise UsageError(f"{args.config}: data.test is not set; the benchmark scores on the test split")
        self.pool = [dict(row) for row in read_examples(data.train, data)]
        self.test = read_examples(data.test, data)
        budget = args.start + args.step * (args.rounds - 1)
        if budget > len(self.pool):
            raise UsageError(f"{data.train}: {len(self.pool)} sentences, fewer than the largest budget {budget}")
        self.args, self.workdir, self.trained = args, workdir, 0

    def train_and_score(self, indices: list[int], seed: int) -> tuple[Any, float]:
        """Train on the pool rows ``indices``; the classifier and its test macro-F1."""
        from stance.data.examples import write_jsonl
        from stance.evaluation.metrics import compute_metrics
        from stance.inference.classifier import StanceClassifier
        from stance.labels import LABEL2ID
        from stance.training.trainer import train

        self.trained += 1
        folder = self.workdir / f"round-{self.trained}"
        folder.mkdir()
        write_jsonl([self.pool[i] for i in indices], folder / "train.jsonl")
        config = copy.deepcopy(self.config)
        config.data.train, config.data.dev, config.data.test, config.data.dev_fraction = (
            str(folder / "train.jsonl"),
            None,
            None,
            0.0,
        )
        config.output.report = False
        config.training.seed = seed
        if self.args.epochs:
            config.training.epochs = self.args.epochs
        result = train(config, folder / "run")
        classifier = StanceClassifier.from_pretrained(result.model_dir, batch_size=config.training.eval_batch_size)
        probabilities = classifier.predict_proba(list(self.test["text"]), list(self.test["target"]))
        metrics = compute_metrics(probabilities.argmax(axis=1), [LABEL2ID[label] for label in self.test["label"]])
        shutil.rmtree(folder, ignore_errors=True)  # the weights are in memory; 44 MiniLM folders would be 4 GB
        return classifier, float(metrics["macro_f1"])

    def pick(self, classifier: Any, labelled: list[int], strategy: str, seed: int) -> list[int]:
        """``--step`` more pool rows chosen by ``strategy`` (the same code as ``stance annotate select``)."""
        from stance.annotation.pool import Candidate, Pool
        from stance.annotation.select import select

        chosen = set(labelled)
        remaining = [i for i in range(len(self.pool)) if i not in chosen]
        candidates = [
            Candidate(str(i), self.pool[i]["text"], self.pool[i]["target"], f"pool {i}", self.pool[i].get("group"))
            for i in remaining
        ]
        done = [(self.pool[i]["text"], self.pool[i]["target"]) for i in labelled]
        selection = select(
            classifier,
            Pool(candidates, rows=len(candidates)),
            self.args.step,
            strategy=strategy,
            measure=self.args.measure,
            per_article=self.args.per_article,
            seed=seed,
            labelled=done,
        )
        return [int(p.candidate.id) for p in selection.picked]


def labels_to_reach(budgets: list[int], curve: list[float], goal: float) -> float | None:
    """The smallest budget at which ``curve`` reaches ``goal`` (linear between rounds); None if never."""
    for k, value in enumerate(curve):
        if value >= goal:
            if k == 0:
                return float(budgets[0])
            lo, hi = curve[k - 1], value
            return budgets[k - 1] + (budgets[k] - budgets[k - 1]) * (goal - lo) / (hi - lo)
    return None


def plot(budgets: list[int], curves: dict[str, np.ndarray], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for strategy, scores in curves.items():
        mean, sd = scores.mean(axis=0), scores.std(axis=0)
        ax.plot(budgets, mean, marker="o", label=strategy, linestyle="--" if strategy == "random" else "-")
        ax.fill_between(budgets, mean - sd, mean + sd, alpha=0.15)
    ax.set_xlabel("labelled sentences")
    ax.set_ylabel("test macro-F1")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    partial = path.with_name(f".{path.name}.partial")
    fig.savefig(partial, dpi=120, format="png")
    plt.close(fig)
    os.replace(partial, path)


def combine(paths: list[str], only: list[str] | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The pooled per-seed curves of several results.json files, checked to come from the same simulation.

    A file may hold other strategies than the next (a strategy added later, run with --without-random for
    seeds whose random curves an earlier run holds); in the end every strategy needs the same seeds, and no
    (strategy, seed) may come twice. ``only``: pool these strategies (and random) alone."""
    first: dict[str, Any] | None = None
    runs: dict[str, dict[int, list[float]]] = {}
    seconds = 0.0
    for path in paths:
        try:
            results = json.loads(Path(path).read_text(encoding="utf-8"))
            same = ("config", "budgets", "epochs")
            if first is None:
                first = results
            elif any(results.get(k) != first.get(k) for k in same):
                raise UsageError(f"{path}: another simulation than {paths[0]} (config, budgets or epochs)")
            run_seeds = results.get("seed_list", list(range(results["seeds"])))
            seconds += float(results.get("seconds", 0.0))
            for strategy, curve in results["curves"].items():
                if only and strategy not in only and strategy != "random":
                    continue
                if len(curve["macro_f1"]) != len(run_seeds):
                    raise UsageError(f"{path}: {strategy} has {len(curve['macro_f1'])} curves for seeds {run_seeds}")
                if any(len(run) != len(first["budgets"]) for run in curve["macro_f1"]):
                    raise UsageError(f"{path}: a {strategy} curve without one figure per budget {first['budgets']}")
                seen = runs.setdefault(strategy, {})
                if set(run_seeds) & set(seen):
                    twice = sorted(set(run_seeds) & set(seen))
                    raise UsageError(f"{path}: {strategy} seed(s) {twice} already in an earlier file")
                seen.update(zip(run_seeds, curve["macro_f1"]))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise UsageError(f"{path}: not a bench_annotate results.json ({error})") from None
    assert first is not None
    if "random" not in runs:
        raise UsageError(f"no random curves in {', '.join(paths)}: add the results.json of a run with random")
    seeds = sorted(runs["random"])
    for strategy, by_seed in runs.items():
        if sorted(by_seed) != seeds:
            raise UsageError(f"{strategy} has seeds {sorted(by_seed)} but random has {seeds}: pool the same seeds")
    meta = {"config": first["config"], "budgets": first["budgets"], "epochs": first["epochs"], "seed_list": seeds}
    curves = {strategy: np.array([by_seed[k] for k in seeds]) for strategy, by_seed in runs.items()}
    return {**meta, "seconds": round(seconds, 1)}, curves


def simulate(args: argparse.Namespace, budgets: list[int], seeds: list[int]) -> dict[str, np.ndarray]:
    """Per strategy, one test macro-F1 curve per seed (rows) over ``budgets`` (columns)."""
    scores: dict[str, list[list[float]]] = {strategy: [] for strategy in args.strategies}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_annotate.") as tmp:
        sim = Simulation(args, Path(tmp))
        print(f"pool {sim.config.data.train} ({len(sim.pool)}), test {sim.config.data.test} ({len(sim.test)}); "
              f"budgets {budgets}, seed(s) {seeds}, config {args.config}")  # fmt: skip
        for seed in seeds:
            start = [int(i) for i in np.random.default_rng(seed).choice(len(sim.pool), args.start, replace=False)]
            first, first_f1 = sim.train_and_score(start, seed)  # round 1 is the same for every strategy
            for strategy in args.strategies:
                labelled, classifier, curve = list(start), first, [first_f1]
                for budget in budgets[1:]:
                    labelled += sim.pick(classifier, labelled, strategy, seed * 1000 + budget)
                    classifier, f1 = sim.train_and_score(labelled, seed)
                    curve.append(f1)
                scores[strategy].append(curve)
                elapsed = time.perf_counter() - started
                shown = " ".join(f"{f:.3f}" for f in curve)
                print(f"seed {seed} {strategy:<11} macro-F1 by round: {shown}  ({elapsed:.0f} s so far)", flush=True)
    return {strategy: np.array(runs) for strategy, runs in scores.items()}


def main(argv: list[str] | None = None) -> int:
    from stance.logs import configure

    args = parse_args(argv)
    configure(-1)
    try:
        return run(args)
    except UsageError as error:
        print(error, file=sys.stderr)
        return 2


def run(args: argparse.Namespace) -> int:
    from stance.layout import atomic_write_text

    output = Path(args.output)
    if args.combine:
        meta, curves = combine(args.combine, args.strategies)
        budgets = meta["budgets"]
        print(f"pooled {len(args.combine)} file(s): seeds {meta['seed_list']}, config {meta['config']}")
    else:
        budgets = [args.start + args.step * k for k in range(args.rounds)]
        seeds = list(range(args.first_seed, args.first_seed + args.seeds))
        started = time.perf_counter()
        curves = simulate(args, budgets, seeds)
        seconds = round(time.perf_counter() - started, 1)
        meta = {"config": args.config, "budgets": budgets, "epochs": args.epochs, "seed_list": seeds}
        meta["seconds"] = seconds
    output.mkdir(parents=True, exist_ok=True)
    print("\ntest macro-F1 (mean ± sd over seeds)")
    print("labels  " + "".join(f"{s:>17}" for s in curves))
    for k, budget in enumerate(budgets):
        cells = "".join(f"{c[:, k].mean():>10.3f} ± {c[:, k].std():.3f}" for c in curves.values())
        print(f"{budget:>6}  {cells}")
    goal, needed = None, {}
    if "random" in curves:
        goal = float(curves["random"].mean(axis=0)[-1])
        print(f"\nlabels to reach random's macro-F1 at {budgets[-1]} ({goal:.3f}):")
        for strategy, runs in curves.items():
            needed[strategy] = labels_to_reach(budgets, list(runs.mean(axis=0)), goal)
            value = needed[strategy]
            shown = f"{value:.0f} ({value / budgets[-1]:.0%})" if value is not None else f"not reached by {budgets[-1]}"
            print(f"  {strategy:<11} {shown}")
        best = min((v for s, v in needed.items() if s != "random" and v is not None), default=None)
        verdict = "met" if best is not None and best <= 0.7 * budgets[-1] else "not met"
        print(f"goal (best strategy needs <= 70% of random's labels): {verdict}")
    else:
        print("\nno random curves in this run (--without-random): pool it with --combine for the verdict")
    title = f"{meta['config']}: test macro-F1 by labelled sentences ({len(meta['seed_list'])} seeds)"
    plot(budgets, curves, output / "learning_curve.png", title)
    results = {
        **meta,
        "seeds": len(meta["seed_list"]),
        "curves": {
            s: {"labels": budgets, "macro_f1": c.tolist(), "mean": c.mean(axis=0).round(4).tolist()}
            for s, c in curves.items()
        },
        "random_goal": round(goal, 4) if goal is not None else None,
        "labels_needed": needed,
    }
    atomic_write_text(output / "results.json", json.dumps(results, indent=2) + "\n")
    print(f"learning curve: {output / 'learning_curve.png'}; figures: {output / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
