#!/usr/bin/env python
"""Quality of a training config on real news data nobody here wrote: Emergent, cross-validated by claim.

    python scripts/bench_quality.py configs/default.yaml [--data PATH] [--folds 5] [--systems ...]
                                    [--save-full DIR] [--no-cv] [--set k=v]...

Runs K-fold cross-validation grouped by ``claim_id`` (a claim's pairs never sit in train and test at once),
stratified by label, and prints accuracy and macro-F1 per fold and as mean ± standard deviation for:
the given config, the naive recipe (plain Trainer on the same base model: lr 5e-5, batch 16, 3 epochs, max
length 128, no class weights), TF-IDF + logistic regression, and the majority class. With
``--student-config`` (e.g. configs/fast.yaml) two more systems can run: ``student`` (that config trained on
the gold labels alone) and ``distilled`` (that config distilled from the fold's ``config`` model, which
must run too; ``--swap-targets`` adds each training headline paired with another claim, unlabelled).

Emergent labels the headline writer's own stance (attributed claims are ``neutral`` there), unlike the
shipped corpus; the two are never mixed in one training set. ``--cross-policy MODEL_DIR`` additionally
scores a model trained on the shipped corpus on the whole file, as a separate figure. ``--headline-only``
is the ablation that replaces every claim by one constant, in training and test alike: what the pair adds is
the difference to the same run without it, on the same folds and seed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # naive_recipe.py beside this file

from stance.config import DataConfig, StanceConfig, load_config, replace  # noqa: E402
from stance.data import Problems, read_examples  # noqa: E402
from stance.data.splits import group_folds  # noqa: E402
from stance.errors import StanceError  # noqa: E402
from stance.evaluation.metrics import compute_metrics  # noqa: E402
from stance.labels import LABEL2ID  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "emergent" / "train.jsonl"
SYSTEMS = ("config", "naive", "student", "distilled", "tfidf_logreg", "majority")


def read_benchmark(path: Path) -> Any:
    """The benchmark as published: rows that cannot be read stop the run; inconsistencies of the source
    itself (Emergent has a few identical pairs with conflicting labels) are reported and kept."""
    problems = Problems()
    ds = read_examples(path, DataConfig(group_column="claim_id", default_target="(no target)"), problems=problems)
    if problems.rows_skipped:
        problems.raise_if_any(f"{path}: invalid data")
    for item in problems.items:
        print(f"note: {item} (kept in the test folds, left out of training)")
    return ds


HEADLINE_ONLY_TARGET = "claim"


def headline_only(ds: Any) -> Any:
    """``ds`` with every target replaced by one constant: the model sees the headline alone."""
    return ds.map(lambda _: {"target": HEADLINE_ONLY_TARGET})


def _key(target: str, text: str) -> tuple[str, str]:
    return target, " ".join(text.lower().split())


def conflicting_pairs(ds: Any) -> set[tuple[str, str]]:
    """(target, text) pairs that the source labels in two different ways."""
    labels: dict[tuple[str, str], set[str]] = {}
    for target, text, label in zip(ds["target"], ds["text"], ds["label"]):
        labels.setdefault(_key(target, text), set()).add(label)
    return {key for key, seen in labels.items() if len(seen) > 1}


def _write_jsonl(ds: Any, path: Path) -> str:
    """Training rows as JSON lines; pairs labelled both ways are left out of training only (they are
    contradictory supervision, and the trainer refuses them), never out of the test folds."""
    conflicts = conflicting_pairs(ds)
    with path.open("w", encoding="utf-8") as handle:
        for row in ds:
            if _key(row["target"], row["text"]) in conflicts:
                continue
            handle.write(json.dumps({k: row[k] for k in ("id", "text", "target", "label", "group")}) + "\n")
    return str(path)


def fold_config(config: StanceConfig, train: Any, folder: Path) -> StanceConfig:
    """``config`` training on ``train``, written as JSON lines into ``folder`` once (every system of a fold
    reads the same file); the dev part is a grouped ``data.dev_fraction`` slice of it, or none."""
    path = folder / "train.jsonl"
    if not path.is_file():
        _write_jsonl(train, path)
    data = {"train": str(path), "dev": None, "test": None, "group_column": "group"}
    return replace(config, data=data, output={"report": False})


def train_config(config: StanceConfig, train: Any, folder: Path, output: Path | None = None) -> Path:
    """Train ``config`` on ``train`` (see :func:`fold_config`) into ``output`` (default ``folder/run``);
    the model folder."""
    from stance.training.trainer import train as train_model

    return train_model(fold_config(config, train, folder), output or folder / "run").model_dir


class Student(NamedTuple):
    """The small model's recipe for the ``student`` and ``distilled`` systems."""

    config: StanceConfig
    temperature: float = 2.0
    alpha: float = 0.5
    swap_targets: bool = False


def distill_config(student: Student, teacher: Path, train: Any, folder: Path) -> Path:
    """Distil ``student.config`` from the ``teacher`` model folder on ``train``; the student's model folder."""
    from stance.training.distill import distill

    return distill(
        fold_config(student.config, train, folder),
        teacher,
        folder / "distilled",
        temperature=student.temperature,
        alpha=student.alpha,
        swap_targets=student.swap_targets,
        teacher_precision="bf16",
    ).model_dir


def score_config(model_dir: Path, ds: Any) -> np.ndarray:
    """Label ids the model at ``model_dir`` predicts for ``ds``."""
    from stance.evaluation.evaluate import predict_probs
    from stance.modeling import load_trained

    return np.argmax(predict_probs(load_trained(model_dir), ds), axis=-1)


def gold_ids(ds: Any) -> list[int]:
    return [LABEL2ID[label] for label in ds["label"]]


def _report(fold: str, name: str, scores: dict) -> dict:
    took = f" ({scores['seconds']:.0f} s)" if "seconds" in scores else ""
    print(
        f"fold {fold} {name:<13} accuracy {scores['accuracy']:.4f}  macro-F1 {scores['macro_f1']:.4f}{took}", flush=True
    )
    return scores


def run_fold(
    config: StanceConfig,
    train: Any,
    test: Any,
    systems: list[str],
    seed: int,
    fold: str = "",
    student: Student | None = None,
    naive_bf16: bool = False,
) -> dict[str, dict]:
    from naive_recipe import predict_naive, train_naive

    from stance.evaluation.statistics import baselines

    if ("student" in systems or "distilled" in systems) and student is None:
        raise StanceError("the student and distilled systems need --student-config")
    if "distilled" in systems and "config" not in systems:
        raise StanceError("the distilled system learns from the fold's config model: add config to --systems")
    gold = gold_ids(test)
    out: dict[str, dict] = {}

    def timed(name: str, model_dir: Callable[[], Path]) -> None:
        started = time.perf_counter()
        pred = score_config(model_dir(), test)
        out[name] = _report(fold, name, {**compute_metrics(pred, gold), "seconds": time.perf_counter() - started})

    with tempfile.TemporaryDirectory() as tmp:
        folder, teacher = Path(tmp), Path(tmp) / "run"
        if "config" in systems:
            timed("config", lambda: train_config(config, train, folder, teacher))
        if "student" in systems:
            timed("student", lambda: train_config(student.config, train, folder, folder / "student"))
        if "distilled" in systems:
            timed("distilled", lambda: distill_config(student, teacher, train, folder))
    if "naive" in systems:
        started = time.perf_counter()
        run = train_naive(train, None, config.model.base, epochs=3, max_length=128, seed=seed, bf16=naive_bf16)
        out["naive"] = _report(
            fold, "naive", {**compute_metrics(predict_naive(run, test), gold), "seconds": time.perf_counter() - started}
        )
    wanted = [s for s in ("tfidf_logreg", "majority") if s in systems]
    if wanted:
        scores, _ = baselines(train, test, seed=seed)
        out.update({name: _report(fold, name, scores[name]) for name in wanted if name in scores})
    return out


def cross_validate(
    config: StanceConfig,
    ds: Any,
    folds: int,
    systems: list[str],
    seed: int,
    only: list[int] | None = None,
    naive_seed: int | None = None,
    student: Student | None = None,
    naive_bf16: bool = False,
) -> dict[str, list]:
    """Folds from ``seed``; the naive recipe trains with ``naive_seed`` (default ``seed``)."""
    held_out = group_folds(list(ds["label"]), list(ds["group"]), folds, seed)
    results: dict[str, list] = {name: [] for name in systems}
    for k, held in enumerate(held_out, 1):
        if only and k not in only:
            continue
        train = ds.select(np.setdiff1d(np.arange(len(ds)), held))
        test = ds.select(np.sort(held))
        naive = seed if naive_seed is None else naive_seed
        fold = run_fold(config, train, test, systems, naive, f"{k}/{folds}", student=student, naive_bf16=naive_bf16)
        for name, scores in fold.items():
            results[name].append(scores)
    return results


def summarise(results: dict[str, list]) -> None:
    print(f"\n{'system':<14}{'accuracy':>20}{'macro-F1':>20}   per fold (macro-F1)")
    for name, folds in results.items():
        if not folds:
            continue
        acc = [f["accuracy"] for f in folds]
        f1 = [f["macro_f1"] for f in folds]

        def sd(xs: list[float]) -> float:
            return statistics.stdev(xs) if len(xs) > 1 else 0.0

        print(
            f"{name:<14}{statistics.mean(acc):>12.4f} ± {sd(acc):.4f}{statistics.mean(f1):>12.4f} ± "
            f"{sd(f1):.4f}   {' '.join(f'{x:.3f}' for x in f1)}"
        )
    if results.get("config") and results.get("naive"):
        gap = statistics.mean(f["macro_f1"] for f in results["config"]) - statistics.mean(
            f["macro_f1"] for f in results["naive"]
        )
        print(f"\nconfig - naive macro-F1: {gap:+.4f}")
    for a, b in (("distilled", "config"), ("distilled", "student")):
        if results.get(a) and results.get(b):
            diffs = [x["macro_f1"] - y["macro_f1"] for x, y in zip(results[a], results[b])]
            each = " ".join(f"{d:+.3f}" for d in diffs)
            print(f"{a} - {b} macro-F1 (paired by fold): {statistics.mean(diffs):+.4f}  ({each})")
    if results.get("config") and "seconds" in results["config"][0]:
        print(f"config training + scoring time: {sum(f['seconds'] for f in results['config']) / 60:.1f} min")


def cross_policy(model_dir: Path, ds: Any) -> dict:
    """A model trained under the shipped corpus's policy, scored on every pair of the benchmark: a separate
    figure, never part of any training set."""
    scores = compute_metrics(score_config(model_dir, ds), gold_ids(ds))
    print(
        f"\ncross-policy: {model_dir} (trained on another label policy) scored on all {len(ds)} pairs: "
        f"accuracy {scores['accuracy']:.4f}  macro-F1 {scores['macro_f1']:.4f}"
    )
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="Emergent-style JSONL (target, text, label, claim_id)"
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0, help="fold assignment and baselines")
    parser.add_argument(
        "--train-seed",
        type=int,
        help="training seed of both recipes (default: the config's training.seed, and --seed for the naive "
        "recipe): a second seed on the same folds, for paired comparisons",
    )
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    parser.add_argument(
        "--save-full",
        type=Path,
        metavar="DIR",
        help="also train the config on every pair and save it as a `stance train` output folder",
    )
    parser.add_argument("--no-cv", action="store_true", help="skip cross-validation")
    parser.add_argument(
        "--only-folds",
        type=int,
        nargs="+",
        metavar="K",
        help="run only these folds (1-based): quick screening of a change",
    )
    parser.add_argument(
        "--cross-policy",
        type=Path,
        metavar="MODEL_DIR",
        help="also score this model (e.g. runs/default/model, trained on the shipped corpus) on "
        "the whole file, as a separate figure",
    )
    parser.add_argument(
        "--headline-only",
        action="store_true",
        help="ablation: replace every claim by one constant (train and test), so only the headline is read",
    )
    parser.add_argument(
        "--naive-bf16",
        action="store_true",
        help="the naive recipe with TrainingArguments(bf16=True): autocast, as a user with an AMX CPU or a GPU "
        "would set it; everything else unchanged",
    )
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--student-config", help="the student and distilled systems' config, e.g. configs/fast.yaml")
    parser.add_argument("--temperature", type=float, default=2.0, help="distillation temperature (default 2)")
    parser.add_argument("--alpha", type=float, default=0.5, help="weight of the teacher's term (default 0.5)")
    parser.add_argument("--swap-targets", action="store_true", help="distil on headlines paired with other claims too")
    args = parser.parse_args(argv)
    from stance.logs import configure

    configure(-1)  # warnings only: this script prints its own figures; no library noise or bars
    if args.folds < 2:
        parser.error(f"--folds {args.folds}: cross-validation needs at least 2 folds")
    if args.only_folds and not all(1 <= k <= args.folds for k in args.only_folds):
        parser.error(f"--only-folds: folds are numbered 1 to {args.folds}")
    if not args.data.is_file():
        print(f"skipped: benchmark data not found at {args.data} (pass --data PATH)")
        return 0
    try:
        config = load_config(args.config, args.overrides)
        naive_seed = args.seed
        if args.train_seed is not None:
            config, naive_seed = replace(config, training={"seed": args.train_seed}), args.train_seed
        student = None
        if args.student_config:
            student_config = load_config(args.student_config)
            if args.train_seed is not None:
                student_config = replace(student_config, training={"seed": args.train_seed})
            student = Student(student_config, args.temperature, args.alpha, args.swap_targets)
        ds = read_benchmark(args.data)
        if args.headline_only:
            ds = headline_only(ds)
        print(
            f"{args.data}: {len(ds)} pairs, {len(set(ds['group']))} claims; config {args.config}"
            + (" (headline only: every claim replaced by a constant)" if args.headline_only else "")
            + ("; naive recipe in bf16 autocast" if args.naive_bf16 and "naive" in args.systems else ""),
            flush=True,
        )
        if not args.no_cv:
            summarise(
                cross_validate(
                    config,
                    ds,
                    args.folds,
                    args.systems,
                    args.seed,
                    only=args.only_folds,
                    naive_seed=naive_seed,
                    student=student,
                    naive_bf16=args.naive_bf16,
                )
            )
        if args.cross_policy:
            cross_policy(args.cross_policy, ds)
        if args.save_full:
            # The training file outlives the run: DIR/config.yaml names it, and `stance evaluate` trains its
            # baselines on it.
            data_folder = Path(tempfile.mkdtemp(prefix="stance-bench-full-"))
            print(f"full model saved to {train_config(config, ds, data_folder, args.save_full)}")
    except StanceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
