"""The model card (the hub repo's ``README.md``) of a trained stance model, built with ``huggingface_hub``.

Every statement about quality comes from the files of the run: ``metrics.json`` (read through the one
schema, :class:`stance.evaluation.schema.MetricsFile`), ``train_metrics.json`` and the resolved config
(through :func:`stance.config.load_config`). Limitations are derived from
those figures (weakest classes, worst groups, baselines, interval widths, calibration, confident errors);
nothing on the card claims a quality the figures do not show. :func:`check_card` re-reads a written card and
lists what is missing or does not round-trip.
"""

from __future__ import annotations

import re
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from ..evaluation.schema import MetricsFile
from .context import CardContext
from .sections import REQUIRED_SECTIONS, render

CARD_METRICS = {"accuracy": ("accuracy", "Accuracy", None), "macro_f1": ("f1", "Macro F1", {"average": "macro"})}
DIGITS = 4  # figures in the model-index


# ---------------------------------------------------------------------------------------------------------
# the card


def eval_results(ctx: CardContext) -> list[EvalResult]:
    """Accuracy and macro-F1 on the evaluated split, for the ``model-index``."""
    m = ctx.metrics
    if m is None:
        return []
    info = m["data"]
    split = info.get("split") or Path(info["path"]).stem
    corpus = (ctx.provenance.name if ctx.provenance is not None and ctx.provenance.name else None) or "stance corpus"
    return [
        EvalResult(
            task_type="text-classification",
            task_name="Stance detection",
            dataset_type=_slug(info["path"]),
            dataset_name=f"{corpus} ({info['path']})",
            dataset_split=split,
            metric_type=kind,
            metric_name=name,
            metric_args=args,
            metric_value=round(float(m["metrics"][key]), DIGITS),
        )
        for key, (kind, name, args) in CARD_METRICS.items()
    ]


def build_card(ctx: CardContext) -> ModelCard:
    """The card: YAML metadata (with the model-index when evaluated), then the sections of REQUIRED_SECTIONS."""
    tags = ["stance-detection", "text-classification", "sentence-pair", "news", "stance"]
    results = eval_results(ctx)
    data = ModelCardData(
        license=ctx.license,
        language=ctx.language,
        library_name="transformers",
        pipeline_tag="text-classification",
        tags=tags if results else tags + ["unevaluated"],
        base_model=ctx.base,
        metrics=["accuracy", "f1"] if results else None,
        model_name=ctx.name if results else None,
        eval_results=results or None,
    )
    return ModelCard.from_template(data, template_str="---\n{{ card_data }}\n---\n\n{{ body }}\n", body=render(ctx))


def check_card(path: str | Path, metrics: MetricsFile | None) -> list[str]:
    """Problems with a written card: it must parse, carry the metadata and sections, and (when evaluated) a
    model-index with the same accuracy and macro-F1 as ``metrics`` (to DIGITS places)."""
    try:
        card = ModelCard.load(Path(path))
    except (ValueError, OSError) as exc:
        return [f"{path}: ModelCard.load cannot parse it: {exc}"]
    problems = []
    meta = card.data
    for key, want in (("library_name", "transformers"), ("pipeline_tag", "text-classification")):
        if getattr(meta, key, None) != want:
            problems.append(f"{path}: metadata {key} is {getattr(meta, key, None)!r}, expected {want!r}")
    for key in ("license", "language", "tags"):
        if not getattr(meta, key, None):
            problems.append(f"{path}: metadata {key} is missing")
    headings = {line.lstrip("#").strip() for line in card.text.splitlines() if line.startswith("## ")}
    problems += [f"{path}: section '## {name}' is missing" for name in REQUIRED_SECTIONS if name not in headings]
    found = model_index_figures(card)
    if metrics is None:
        return problems + ([f"{path}: has a model-index but no metrics.json backs it"] if found else [])
    if not found:
        return problems + [f"{path}: metadata has no model-index with the evaluation results"]
    split = metrics["data"].get("split") or Path(metrics["data"]["path"]).stem
    for key in CARD_METRICS:
        want = round(float(metrics["metrics"][key]), DIGITS)
        got = found.get(key)
        if got is None or abs(got[0] - want) > 10 ** -(DIGITS + 2):
            problems.append(f"{path}: model-index {key} is {got[0] if got else 'missing'}, metrics.json says {want}")
        elif got[1] != split:
            problems.append(f"{path}: model-index {key} is on split {got[1]!r}, metrics.json on {split!r}")
    return problems


def model_index_figures(card: ModelCard) -> dict[str, tuple[float, str | None]]:
    """``{"accuracy": (value, split), "macro_f1": (value, split)}`` read back from a card's model-index."""
    out = {}
    for result in card.data.eval_results or []:
        for key, (kind, _, args) in CARD_METRICS.items():
            if result.metric_type == kind and (result.metric_args or None) == args:
                out[key] = (float(result.metric_value), result.dataset_split)
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "data"
