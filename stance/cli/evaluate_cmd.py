"""``stance evaluate MODEL_DIR DATA --output DIR [--split train|dev|test] [--resamples N] [--seed N]``

DATA is one of:

* a labelled data file (.jsonl, .csv, .tsv, .parquet, or a Dataset folder saved with ``save_to_disk``),
  evaluated as it is (``--split`` is refused: there is nothing to pick);
* a YAML config: its ``data.<split>`` file, read with its column mapping;
* a corpus folder: its ``<split>.jsonl`` (or .csv/.tsv/.parquet) file, or that split of a saved DatasetDict.

``--split`` defaults to ``test``. Column names come from the config when DATA is one, otherwise from the
model's ``stance_config.yaml``. The baselines train on the model's own training split (``data.train`` of
its ``stance_config.yaml``); the report says when that is unknown and they are skipped. DIR receives
report.html, report.md, metrics.json, predictions.jsonl and the figures (an earlier report there is replaced).
``--store-error-matrix`` also stores the confusion matrix with the model (MODEL_DIR/stance_error_matrix.json),
which ``stance track`` uses to adjust prevalence for the classifier's errors; held-out data only.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..evaluation.schema import MetricsFile


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "evaluate",
        help="evaluate a trained model on labelled data and write a report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL_DIR", help="a `stance train` model folder (DIR/model) or hub id")
    parser.add_argument("data", metavar="DATA", help="labelled data file, YAML config, or corpus folder")
    parser.add_argument("--output", "-o", required=True, metavar="DIR", help="report folder (created if needed)")
    parser.add_argument(
        "--split", choices=("train", "dev", "test"), help="which file of a config or corpus folder (default: test)"
    )
    parser.add_argument(
        "--resamples",
        type=int,
        default=1000,
        metavar="N",
        help="bootstrap resamples for the 95%% intervals (default: 1000)",
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    parser.add_argument("--batch-size", type=int, default=64, metavar="N")
    parser.add_argument(
        "--store-error-matrix",
        action="store_true",
        help="also store the confusion matrix in MODEL_DIR/stance_error_matrix.json, for `stance track` to adjust "
        "prevalence with (held-out data only: refused on the model's training split)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import StanceError
    from ..evaluation.evaluate import evaluate_model
    from ..evaluation.report import write_report

    if args.resamples < 1000:
        raise StanceError(f"--resamples {args.resamples}: use at least 1000 for a stable 95% interval")
    if args.batch_size < 1:
        raise StanceError(f"--batch-size {args.batch_size}: must be >= 1")
    evaluation = evaluate_model(
        args.model, args.data, split=args.split, batch_size=args.batch_size, resamples=args.resamples, seed=args.seed
    )
    if args.store_error_matrix:
        _check_held_out(args.model, evaluation.results)
    page = write_report(evaluation, args.output)
    metrics, ci = evaluation.results["metrics"], evaluation.results["confidence_intervals"]
    print(
        f"{evaluation.results['data']['n_examples']} examples: accuracy {metrics['accuracy']:.3f} "
        f"[{ci['accuracy']['low']:.3f}, {ci['accuracy']['high']:.3f}], macro-F1 {metrics['macro_f1']:.3f} "
        f"[{ci['macro_f1']['low']:.3f}, {ci['macro_f1']['high']:.3f}]"
    )
    for note in evaluation.results["notes"]:
        print(note)
    print(f"report: {page}")
    if args.store_error_matrix:
        from ..training.workflow import store_error_matrix

        print(f"error matrix: {store_error_matrix(args.model, evaluation.results, evaluation.predictions)}")
    return 0


def _check_held_out(model: str, results: MetricsFile) -> None:
    """The stored matrix must measure errors on data the model did not train on."""
    from pathlib import Path

    from ..errors import StanceError
    from ..evaluation.evaluate import model_config

    if not Path(model).is_dir():
        raise StanceError(f"{model}: --store-error-matrix needs a local model folder to store it in")
    data = results["data"]
    saved = model_config(model)
    trained_on = Path(saved.data.train).resolve() if saved is not None and saved.data.train else None
    if data["split"] == "train" or (trained_on is not None and Path(data["path"]).resolve() == trained_on):
        raise StanceError(
            f"--store-error-matrix: {data['path']} is the model's training data; its errors there are not its "
            "errors on new text. Evaluate on held-out data (--split test or dev) to store the matrix"
        )
