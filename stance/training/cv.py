"""K-fold cross-validation: grouped by a column, stratified by label, one full training run per fold.

Every labelled example of the config (its train, dev and test files together) is assigned to one of K
folds with :func:`stance.data.splits.group_folds` (seeded with ``training.seed``): all rows sharing a value of
the ``group_by`` column (an article, a claim) fall in one fold, and rows with the same text are joined
into one group too, so no sentence is in train and test at once. For fold k the model is trained with
:func:`stance.training.train` on the other folds (a grouped slice of them, ``data.dev_fraction``, is the dev
set for early stopping) and scored on fold k.

Output folder (``DIR``)::

    cv_metrics.json    {"folds", "group_by", "seed", "n_examples",
                        "summary": {metric: {"mean", "std"}},   # std: sample standard deviation over folds
                        "pooled": {metric},                     # over all out-of-fold predictions
                        "per_fold": [{"fold", "n_train", "n_dev", "n_test", "test_groups", metric...}]}
    cv_report.md       the same as tables
    predictions.jsonl  every example once, predicted by the model that did not see it (with its "fold")
    fold-K/            the fold's train/dev/test.jsonl and run/ (config.yaml, train_log.jsonl,
                       train_metrics.json; the model only with ``keep_models``)
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import StanceConfig, replace
from ..data.examples import load_splits, write_jsonl
from ..data.fields import is_missing, normalize_text
from ..data.splits import group_folds
from ..errors import StanceError
from ..evaluation.evaluate import predict_probs, prediction_rows
from ..evaluation.metrics import compute_metrics
from ..evaluation.statistics import calibration
from ..labels import LABEL2ID, LABELS
from ..layout import (
    CHECKPOINT_DIR,
    CV_METRICS_FILE,
    CV_REPORT_FILE,
    PREDICTIONS_FILE,
    atomic_write_text,
    claim_output_dir,
)
from ..modeling.loading import load_trained
from .trainer import train

log = logging.getLogger(__name__)

GROUP_COLUMN = "cv_group"  # the column written into each fold's files that holds the grouping used
METRICS = ("accuracy", "macro_f1", "micro_f1", "weighted_f1", *(f"f1_{label}" for label in LABELS), "ece")


@dataclass
class CVResult:
    output_dir: Path
    summary: dict[str, Any]  # the content of cv_metrics.json


def pooled_rows(config: StanceConfig) -> list[dict[str, Any]]:
    """Every labelled example of the config's files, validated (leakage included) by :func:`load_splits`.

    Ids are prefixed with their split (``test/rap-1``) only if two files share an id.
    """
    splits = load_splits(config.data)
    rows = [(name, row) for name, ds in splits.items() for row in ds.to_list()]
    ids = [row["id"] for _, row in rows]
    clash = len(set(ids)) != len(ids)
    return [{**row, "id": f"{name}/{row['id']}" if clash else row["id"]} for name, row in rows]


def group_values(rows: list[dict[str, Any]], group_by: str, config: StanceConfig) -> list[str]:
    """The group of each row by ``group_by`` (a row without a value is its own group); rows with the same
    text are merged into one group."""
    data = config.data
    aliases = {data.target_column: "target", data.id_column: "id", "target": "target", "id": "id"}
    source = aliases.get(group_by, group_by)
    if source in ("text", "label", "group") or not any(not is_missing(row.get(source)) for row in rows):
        columns = sorted({key for row in rows for key in row} - {"text", "label", "group"})
        raise StanceError(
            f"--group-by {group_by!r}: no such column (or no value in it) in the data; columns: {', '.join(columns)}"
        )
    raw = [f"id:{row['id']}" if is_missing(row.get(source)) else str(row[source]) for row in rows]
    parent = {g: g for g in raw}  # union-find: groups sharing a text become one

    def find(g: str) -> str:
        while parent[g] != g:
            parent[g] = parent[parent[g]]
            g = parent[g]
        return g

    first: dict[str, str] = {}
    for row, group in zip(rows, raw):
        key = normalize_text(row["text"])
        other = first.setdefault(key, group)
        parent[find(group)] = find(other)
    return [find(g) for g in raw]


def _dev_slice(labels: list[str], groups: list[str], fraction: float, seed: int) -> np.ndarray:
    """Held-out indices of about ``fraction`` of the training folds, grouped; fewer parts on small data."""
    n_groups = len(set(groups))
    if n_groups < 2:
        raise StanceError("a fold's training part has a single group, too few for a dev set; use fewer folds")
    return group_folds(labels, groups, min(max(2, round(1 / fraction)), n_groups), seed)[0]


def fold_files(
    rows: list[dict[str, Any]], groups: list[str], held: np.ndarray, folder: Path, config: StanceConfig
) -> StanceConfig:
    """Write one fold's train/dev/test files and return the config that trains on them."""
    rest = np.setdiff1d(np.arange(len(rows)), held)
    if config.data.dev_fraction > 0:
        dev = rest[
            _dev_slice(
                [rows[i]["label"] for i in rest],
                [groups[i] for i in rest],
                config.data.dev_fraction,
                config.training.seed,
            )
        ]
        parts = {"train": np.setdiff1d(rest, dev), "dev": np.sort(dev), "test": np.sort(held)}
    else:  # data.dev_fraction: 0 — train on every training row for the set epochs, no dev
        parts = {"train": rest, "test": np.sort(held)}
    folder.mkdir(parents=True, exist_ok=True)
    for name, index in parts.items():
        write_jsonl([{**rows[i], GROUP_COLUMN: groups[i]} for i in index], folder / f"{name}.jsonl")
    files = {name: str(folder / f"{name}.jsonl") for name in parts}
    files.setdefault("dev", None)
    return replace(
        config,
        data={
            **files,
            "text_column": "text",
            "target_column": "target",
            "label_column": "label",
            "id_column": "id",
            "group_column": GROUP_COLUMN,
        },
        output={"report": False},
    )


def fold_metrics(gold: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    scores = compute_metrics(probs.argmax(axis=1), gold)
    out = {key: scores[key] for key in METRICS[:4]}
    out.update({f"f1_{label}": scores["per_class"][label]["f1"] for label in LABELS})
    out["ece"] = calibration(gold, probs)[0]
    return out


def cross_validate(
    config: StanceConfig,
    output_dir: str | Path,
    n_folds: int,
    group_by: str | None = None,
    *,
    overwrite: bool = False,
    keep_models: bool = False,
) -> CVResult:
    """Run K-fold cross-validation and write the folder described in the module docstring."""
    if n_folds < 2:
        raise StanceError(f"--folds {n_folds}: cross-validation needs at least 2 folds")
    group_by = group_by or config.data.group_column
    out = Path(output_dir)
    rows = pooled_rows(config)
    groups = group_values(rows, group_by, config)
    labels = [row["label"] for row in rows]
    folds = group_folds(labels, groups, n_folds, config.training.seed)
    claim_output_dir(out, overwrite=overwrite)

    per_fold, predictions = [], []
    for k, held in enumerate(folds, 1):
        folder = out / f"fold-{k}"
        fold_config = fold_files(rows, groups, held, folder, config)
        result = train(fold_config, folder / "run", overwrite=True)
        test = result.splits["test"]
        probs = predict_probs(load_trained(result.model_dir), test, config.training.eval_batch_size)
        gold = np.array([LABEL2ID[label] for label in test["label"]])
        scores = fold_metrics(gold, probs)
        n_dev = len(result.splits["dev"]) if "dev" in result.splits else 0
        per_fold.append(
            {
                "fold": k,
                "n_train": len(result.splits["train"]),
                "n_dev": n_dev,
                "n_test": len(test),
                "test_groups": len(set(test["group"])),
                **scores,
            }
        )
        predictions += [{**row, "fold": k} for row in prediction_rows(test, gold, probs)]
        shutil.rmtree(folder / "run" / CHECKPOINT_DIR, ignore_errors=True)
        if not keep_models:
            shutil.rmtree(result.model_dir, ignore_errors=True)
        log.info(
            "fold %d/%d: macro-F1 %.4f, accuracy %.4f (%d held-out examples)",
            k,
            n_folds,
            scores["macro_f1"],
            scores["accuracy"],
            len(test),
        )

    summary = summarise(per_fold, predictions, n_folds=n_folds, group_by=group_by, seed=config.training.seed)
    atomic_write_text(out / CV_METRICS_FILE, json.dumps(summary, indent=2) + "\n")
    atomic_write_text(out / CV_REPORT_FILE, cv_markdown(summary))
    write_jsonl(predictions, out / PREDICTIONS_FILE)
    return CVResult(out, summary)


def summarise(
    per_fold: list[dict[str, Any]], predictions: list[dict[str, Any]], *, n_folds: int, group_by: str, seed: int
) -> dict[str, Any]:
    """Mean and sample standard deviation of each metric over folds, and the pooled out-of-fold figures."""
    summary = {
        name: {
            "mean": float(np.mean([f[name] for f in per_fold])),
            "std": float(np.std([f[name] for f in per_fold], ddof=1)),
        }
        for name in METRICS
    }
    gold = np.array([LABEL2ID[p["gold"]] for p in predictions])
    probs = np.array([[p["scores"][label] for label in LABELS] for p in predictions])
    return {
        "folds": n_folds,
        "group_by": group_by,
        "seed": seed,
        "n_examples": len(predictions),
        "summary": summary,
        "pooled": fold_metrics(gold, probs),
        "per_fold": per_fold,
    }


def cv_markdown(summary: dict[str, Any]) -> str:
    folds = summary["per_fold"]
    head = "| metric | mean ± std | pooled | " + " | ".join(f"fold {f['fold']}" for f in folds) + " |"
    lines = [
        "# Cross-validation report",
        "",
        (
            f"{summary['folds']} folds grouped by `{summary['group_by']}` (rows with the same text are kept "
            f"together), stratified by label, seed {summary['seed']}; {summary['n_examples']} examples, each "
            "predicted once by the model that did not see it. std is the sample standard deviation over folds; "
            "pooled is computed over all out-of-fold predictions together."
        ),
        "",
        head,
        "|" + "---|" * (3 + len(folds)),
    ]
    for name in METRICS:
        s = summary["summary"][name]
        lines.append(
            f"| {name} | {s['mean']:.3f} ± {s['std']:.3f} | {summary['pooled'][name]:.3f} | "
            + " | ".join(f"{f[name]:.3f}" for f in folds)
            + " |"
        )
    for name in ("n_train", "n_dev", "n_test", "test_groups"):
        lines.append(f"| {name} | | | " + " | ".join(str(f[name]) for f in folds) + " |")
    return "\n".join(lines) + "\n"
