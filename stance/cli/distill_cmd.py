"""``stance distill TEACHER_DIR --config CONFIG --output DIR [--student embedded|NAME] [--unlabelled FILE...]
[--swap-targets] [--spans] [--augment K] [--temperature T] [--alpha A] [--teacher-precision float32|bf16]
[--set k=v]... [--overwrite]``

Trains a small student (the config's model.base, or --student) to match a trained teacher's probabilities:
loss = alpha * T^2 * KL(teacher || student at temperature T) + (1 - alpha) * cross-entropy on the gold labels;
unlabelled rows (--unlabelled files, any format `stance predict --input` reads) pay the first term only. The
output is a standard `stance train` folder whose train_metrics.json records the teacher (docs/distill.md)."""

from __future__ import annotations

import argparse

from .options import add_overrides


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "distill", help="train a small student on a trained model's probabilities", description=__doc__
    )
    parser.add_argument("teacher", metavar="TEACHER_DIR", help="the teacher: a `stance train` model folder (DIR/model)")
    parser.add_argument("--config", "-c", required=True, help="the student's training config, e.g. configs/fast.yaml")
    parser.add_argument("--output", "-o", required=True, help="output folder (refused if it exists)")
    parser.add_argument(
        "--student",
        metavar="BASE",
        help="student base: embedded, a named base, a local folder or a hub id (default: the config's model.base)",
    )
    parser.add_argument(
        "--unlabelled",
        action="extend",
        nargs="+",
        default=[],
        metavar="FILE",
        help="texts without labels (.txt, .jsonl, .csv/.tsv, .parquet): the teacher labels them",
    )
    parser.add_argument(
        "--swap-targets",
        action="store_true",
        help="also pair each training sentence with another claim of the data, unlabelled (needs 2+ claims)",
    )
    parser.add_argument(
        "--spans",
        action="store_true",
        help="also every two neighbouring training sentences of an article joined into one text, unlabelled "
        "(+1.4 points of test macro-F1 for the MiniLM student on the shipped corpus, two seeds)",
    )
    parser.add_argument(
        "--augment",
        type=int,
        default=0,
        metavar="K",
        help="also K perturbed copies of each training sentence (a random run of its words, some words "
        "dropped), unlabelled: the teacher labels them",
    )
    parser.add_argument("--temperature", "-T", type=float, default=2.0, help="softmax temperature (default 2)")
    parser.add_argument(
        "--alpha", type=float, default=0.5, help="weight of the teacher's term, in [0, 1] (default 0.5)"
    )
    parser.add_argument(
        "--teacher-precision", choices=("float32", "bf16"), default="float32", help="how the teacher runs"
    )
    parser.add_argument("--text-column", default="text", help="text column of the --unlabelled files")
    parser.add_argument("--target-column", default="target", help="target column of the --unlabelled files")
    add_overrides(parser)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output folder")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..inference.files import Columns
    from ..training.distill import check_settings, distill

    check_settings(args.temperature, args.alpha)  # before the config and the teacher are read
    config = load_config(args.config, args.overrides)
    result = distill(
        config,
        args.teacher,
        args.output,
        student=args.student,
        temperature=args.temperature,
        alpha=args.alpha,
        unlabelled=args.unlabelled,
        columns=Columns(text=args.text_column, target=args.target_column),
        swap_targets=args.swap_targets,
        spans=args.spans,
        augment=args.augment,
        teacher_precision=args.teacher_precision,
        overwrite=args.overwrite,
    )
    print(f"student saved to {result.model_dir}")
    return 0
