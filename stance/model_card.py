"""The model card (the hub repo's ``README.md``) of a trained stance model, built with ``huggingface_hub``.

Every statement about quality comes from the files of the run: ``metrics.json`` (``stance evaluate`` /
``stance train``'s report), ``train_metrics.json`` and the resolved config. Limitations are derived from
those figures (weakest classes, worst groups, baselines, interval widths, calibration, confident errors);
nothing on the card claims a quality the figures do not show. :func:`check_card` re-reads a written card and
lists what is missing or does not round-trip.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .card_sections import REQUIRED_SECTIONS, CardContext, base_model_id, is_authored_corpus, render
from .errors import StanceError
from .labels import LABELS

SCHEMA_VERSION = 1
CARD_METRICS = {"accuracy": ("accuracy", "Accuracy", None), "macro_f1": ("f1", "Macro F1", {"average": "macro"})}
DIGITS = 4  # figures in the model-index


# ---------------------------------------------------------------------------------------------------------
# metrics.json: read and validate (schema_version 1, written by `stance evaluate` and `stance train`)

def read_metrics(path: str | Path) -> dict[str, Any]:
    """Load ``metrics.json`` and check it against schema version 1; every problem is listed at once."""
    path = Path(path)
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise StanceError(f"{path}: metrics file not found") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StanceError(f"{path}: not valid JSON: {exc}") from None
    problems = validate_metrics(data)
    if problems:
        raise StanceError(f"{path}: not a metrics.json of schema_version {SCHEMA_VERSION} "
                          "(as `stance evaluate` writes it)", problems)
    return data


def validate_metrics(data: Any) -> list[str]:
    """``field: what is wrong`` for each departure from the schema (empty when valid)."""
    problems: list[str] = []

    def get(obj: Any, prefix: str, key: str, kind: Any, optional: bool = False) -> Any:
        """``obj[key]`` checked against ``kind``; None (and a problem naming ``prefix + key``) if wrong.
        A missing parent (``obj`` None) was reported already and adds nothing."""
        where = prefix + str(key)
        if obj is None:
            return None
        if not isinstance(obj, dict) or key not in obj:
            if not optional:
                problems.append(f"{where}: missing")
            return None
        value = obj[key]
        if kind == "number":
            ok, name = isinstance(value, (int, float)) and not isinstance(value, bool), "a number"
        elif kind == "str?":
            ok, name = value is None or isinstance(value, str), "a string or null"
        else:
            ok, name = isinstance(value, kind) and not isinstance(value, bool), kind.__name__
        if not ok:
            problems.append(f"{where}: expected {name}, got {json.dumps(value)[:60]}")
            return None
        return value

    if not isinstance(data, dict):
        return ["top level: expected a JSON object"]
    version = get(data, "", "schema_version", int)
    if version is not None and version != SCHEMA_VERSION:
        problems.append(f"schema_version: expected {SCHEMA_VERSION}, got {version}")
    get(data, "", "model", str)
    info = get(data, "", "data", dict)
    get(info, "data.", "path", str)
    get(info, "data.", "split", "str?")
    get(info, "data.", "n_examples", int)
    targets = get(info, "data.", "targets", list)
    if targets is not None and not all(isinstance(t, str) for t in targets):
        problems.append("data.targets: expected a list of strings")
    labels = get(data, "", "labels", list)
    if labels is not None and sorted(map(str, labels)) != sorted(LABELS):
        problems.append(f"labels: expected {list(LABELS)}, got {labels}")
    scores = get(data, "", "metrics", dict)
    for name in ("accuracy", "macro_f1", "micro_f1", "weighted_f1"):
        get(scores, "metrics.", name, "number")
    intervals = get(data, "", "confidence_intervals", dict)
    for name in ("accuracy", "macro_f1"):
        ci = get(intervals, "confidence_intervals.", name, dict)
        for key, kind in (("low", "number"), ("high", "number"), ("level", "number"), ("resamples", int),
                          ("seed", int)):
            get(ci, f"confidence_intervals.{name}.", key, kind)
    per_class = get(data, "", "per_class", dict)
    for label in LABELS:
        row = get(per_class, "per_class.", label, dict)
        for key, kind in (("precision", "number"), ("recall", "number"), ("f1", "number"), ("support", int)):
            get(row, f"per_class.{label}.", key, kind)
        ci = get(row, f"per_class.{label}.", "f1_ci", dict, optional=True)
        get(ci, f"per_class.{label}.f1_ci.", "low", "number")
        get(ci, f"per_class.{label}.f1_ci.", "high", "number")
    matrix = get(data, "", "confusion_matrix", dict)
    names, counts = get(matrix, "confusion_matrix.", "labels", list), get(matrix, "confusion_matrix.", "counts", list)
    square = counts is not None and names is not None and len(counts) == len(names) and all(
        isinstance(row, list) and len(row) == len(names) and all(type(c) is int for c in row) for row in counts)
    if names is not None and counts is not None and not square:
        problems.append(f"confusion_matrix.counts: expected a {len(names)}×{len(names)} table of integers")
    calibration = get(data, "", "calibration", dict, optional=True)
    get(calibration, "calibration.", "ece", "number")
    get(calibration, "calibration.", "bins", int)
    for name, row in (get(data, "", "baselines", dict, optional=True) or {}).items():
        get(row, f"baselines.{name}.", "accuracy", "number")
        get(row, f"baselines.{name}.", "macro_f1", "number")
    for kind, groups in (get(data, "", "breakdowns", dict, optional=True) or {}).items():
        if not isinstance(groups, dict):
            problems.append(f"breakdowns.{kind}: expected a mapping of group → figures")
            continue
        for value, row in groups.items():
            for key, kind_ in (("n", int), ("accuracy", "number"), ("macro_f1", "number")):
                get(row, f"breakdowns.{kind}.{value}.", key, kind_)
    errors = get(data, "", "errors", dict, optional=True)
    for kind in ("confident_wrong", "unsure_right"):
        for i, row in enumerate(get(errors, "errors.", kind, list) or []):
            missing = [k for k in ("id", "text", "gold", "predicted", "confidence")
                       if not isinstance(row, dict) or k not in row]
            if missing:
                problems.append(f"errors.{kind}[{i}]: missing {', '.join(missing)}")
    notes = get(data, "", "notes", list, optional=True)
    if notes is not None and not all(isinstance(note, str) for note in notes):
        problems.append("notes: expected a list of strings")
    for name, file in (get(data, "", "images", dict, optional=True) or {}).items():
        if not isinstance(file, str) or not file or Path(file).is_absolute() or ".." in Path(file).parts:
            problems.append(f"images.{name}: expected a file name relative to metrics.json, got {file!r}")
    return problems


# ---------------------------------------------------------------------------------------------------------
# the card

def eval_results(ctx: CardContext) -> list[EvalResult]:
    """Accuracy and macro-F1 on the evaluated split, for the ``model-index``."""
    m = ctx.metrics
    if m is None:
        return []
    info = m["data"]
    split = info.get("split") or Path(info["path"]).stem
    corpus = "authored Russia-arms-Pakistan news corpus" if is_authored_corpus(ctx) else "stance corpus"
    return [EvalResult(task_type="text-classification", task_name="Stance detection",
                       dataset_type=_slug(info["path"]), dataset_name=f"{corpus} ({info['path']})",
                       dataset_split=split, metric_type=kind, metric_name=name, metric_args=args,
                       metric_value=round(float(m["metrics"][key]), DIGITS))
            for key, (kind, name, args) in CARD_METRICS.items()]


def build_card(ctx: CardContext) -> ModelCard:
    """The card: YAML metadata (with the model-index when evaluated), then the sections of REQUIRED_SECTIONS."""
    tags = ["stance-detection", "text-classification", "sentence-pair", "news", "stance"]
    results = eval_results(ctx)
    data = ModelCardData(
        license=ctx.license, language=ctx.language, library_name="transformers", pipeline_tag="text-classification",
        tags=tags if results else tags + ["unevaluated"], base_model=base_model_id(ctx.train_config),
        metrics=["accuracy", "f1"] if results else None, model_name=ctx.name if results else None,
        eval_results=results or None,
    )
    return ModelCard.from_template(data, template_str="---\n{{ card_data }}\n---\n\n{{ body }}\n",
                                   body=render(ctx))


def check_card(path: str | Path, metrics: dict[str, Any] | None) -> list[str]:
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
    import re

    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "data"
