"""``stance publish MODEL_DIR --repo-id OWNER/NAME [--private] [--revision BRANCH] [--tag TAG] [--create-pr]
[--commit-message M] [--dry-run OUT_DIR] [--allow-unevaluated] [--metrics PATH]``

Uploads the model folder of a ``stance train`` run, its generated model card, resolved config, metrics.json
and plots to the Hugging Face Hub in one commit. The token comes from HF_TOKEN or `hf auth login`.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model_dir", metavar="MODEL_DIR", help="the model folder of a run, e.g. runs/default/model")
    parser.add_argument("--repo-id", required=True, metavar="OWNER/NAME", help="the hub model repo (created if needed)")
    parser.add_argument("--private", action="store_true", help="create the repo private (refused if it exists public)")
    parser.add_argument("--revision", metavar="BRANCH", help="commit to this branch (created if new; default main)")
    parser.add_argument("--tag", help="tag the new commit, e.g. v1.0")
    parser.add_argument("--create-pr", action="store_true", help="open a pull request instead of committing directly")
    parser.add_argument("--commit-message", metavar="M", help="default: the model's test macro-F1 with its interval")
    parser.add_argument(
        "--dry-run",
        metavar="OUT_DIR",
        help="write exactly the folder that would be uploaded into OUT_DIR, check it, upload nothing",
    )
    parser.add_argument(
        "--allow-unevaluated",
        action="store_true",
        help="publish without metrics.json, with a card that says the model is unevaluated",
    )
    parser.add_argument(
        "--metrics",
        metavar="PATH",
        help="a `stance evaluate` metrics.json (default: "
        "MODEL_DIR/metrics.json, else MODEL_DIR/../report/metrics.json)",
    )


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "publish",
        help="upload a trained model with its model card to the Hugging Face Hub",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..hub.publish import publish

    result = publish(
        args.model_dir,
        args.repo_id,
        private=args.private,
        revision=args.revision,
        tag=args.tag,
        create_pr=args.create_pr,
        commit_message=args.commit_message,
        dry_run=args.dry_run,
        allow_unevaluated=args.allow_unevaluated,
        metrics_path=args.metrics,
    )
    for item in result.skipped:
        print(f"left out: {item}")
    evaluated = f"metrics from {result.metrics_path}" if result.metrics_path else "UNEVALUATED"
    if result.dry_run is not None:
        print(f"dry run: wrote {len(result.files)} files to {result.dry_run} ({evaluated}); offline checks passed:")
        for name in result.files:
            print(f"  {name}")
        return 0
    print(f"committed {len(result.files)} files to {result.repo_id} ({evaluated}): {result.commit_url}")
    if result.branch_created:
        print(f"created branch {result.revision}")
    if result.pr_url:
        print(f"pull request: {result.pr_url}")
    if result.tag:
        print(f"tagged {result.commit_oid} as {result.tag}")
    return 0
