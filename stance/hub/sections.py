"""The Markdown body of a model card, section by section, from the run's own files.

Nothing here is boilerplate praise: each sentence quotes a figure from ``metrics.json``,
``train_metrics.json`` or the resolved config, and the limitations (:mod:`stance.hub.limitations`) are
chosen by those figures.
"""

from __future__ import annotations

import json

from ..evaluation.schema import BASELINE_NAMES
from ..labels import DEFINITIONS, LABELS
from ..layout import ERROR_MATRIX_FILE, METRICS_FILE, MODEL_CONFIG_FILE, TRAIN_METRICS_FILE
from ..modeling.bases import base_license
from .context import CardContext, cell, ci_text, fmt, image
from .limitations import limitations

REQUIRED_SECTIONS = (
    "Labels",
    "Target claim",
    "Training data",
    "Training configuration",
    "Evaluation",
    "How to use",
    "Limitations",
)
FILE_ROLES = {
    "model.safetensors": "weights (safetensors)",
    "config.json": "architecture, `id2label`, default target",
    "tokenizer.json": "tokenizer",
    "tokenizer_config.json": "tokenizer settings",
    "vocab.txt": "vocabulary",
    "special_tokens_map.json": "tokenizer special tokens",
    MODEL_CONFIG_FILE: "resolved training config",
    TRAIN_METRICS_FILE: "dev metrics, label counts, timing, library versions",
    ERROR_MATRIX_FILE: "held-out confusion matrix and probabilities (for error-adjusted prevalence)",
    METRICS_FILE: "evaluation figures (`stance evaluate`, schema_version 1)",
    "README.md": "this card",
}


def render(ctx: CardContext) -> str:
    parts = [
        intro(ctx),
        labels(ctx),
        target(ctx),
        training_data(ctx),
        training_configuration(ctx),
        evaluation(ctx),
        how_to_use(ctx),
        limitations(ctx),
        files(ctx),
    ]
    return "\n\n".join(part.strip() for part in parts) + "\n"


# ---------------------------------------------------------------------------------------------------------


def intro(ctx: CardContext) -> str:
    base = ctx.base
    model = ctx.train_config.model
    if base:
        origin = f"fine-tuned from [`{base}`](https://huggingface.co/{base})"
        if base_license(model.base):
            origin += f" (licence {base_license(model.base)})"
    elif model.init == "random":
        origin = (
            f"a {ctx.model_config.get('num_hidden_layers', '?')}-layer {ctx.model_config.get('model_type', '')} "
            f"(hidden size {ctx.model_config.get('hidden_size', '?')}) trained from random initialisation"
        )
    else:
        origin = f"fine-tuned from a local model folder (`{model.base}`)"
    teacher = ctx.model_config.get("stance_distilled_from")
    if teacher:
        origin += f", distilled from the teacher model `{teacher}` (its probabilities and the gold labels)"
    text = (
        f"# {ctx.name}\n\nA stance classifier for news coverage, {origin} with the `stance` package. Given a "
        "**claim** (the target) and a **sentence**, it says whether the sentence is `supportive` of the claim, "
        "`denying` it, or `neutral`.\n\n"
    )
    m = ctx.metrics
    if m is None:
        return text + (
            "> **Unevaluated.** This model was published without an evaluation on held-out data: "
            "nothing on this card says how good it is. See [Evaluation](#evaluation)."
        )
    ci = m["confidence_intervals"]
    return text + (
        f"On {m['data']['n_examples']} held-out sentences (`{m['data']['path']}`): macro-F1 "
        f"**{fmt(m['metrics']['macro_f1'])}** (95% CI {ci_text(ci['macro_f1'])}), accuracy "
        f"**{fmt(m['metrics']['accuracy'])}** (95% CI {ci_text(ci['accuracy'])}). Read "
        "[Limitations](#limitations) before relying on it."
    )


def labels(ctx: CardContext) -> str:
    id2label = {int(k): v for k, v in (ctx.model_config.get("id2label") or {}).items()}
    rows = [f"| {i} | `{name}` | {DEFINITIONS.get(name, '')} |" for i, name in sorted(id2label.items())]
    return (
        "## Labels\n\nThe label is the stance the sentence *conveys* toward the claim, attributed statements "
        'included ("X said Russia will supply ..." is supportive).\n\n| id | label | meaning |\n|---|---|---|\n'
        + "\n".join(rows)
    )


def target(ctx: CardContext) -> str:
    evaluated = (ctx.metrics or {}).get("data", {}).get("targets") or []
    text = (
        f"## Target claim\n\nThe model was trained for the claim:\n\n> {ctx.target}\n\nIt is stored in "
        "`config.json` as `stance_default_target` and used when no target is given. The claim is the "
        "first input of every pair, so other claims can be passed, "
    )
    if evaluated == [ctx.target]:
        return text + "but the evaluation below covers only this one."
    if evaluated:
        listed = "; ".join(f'"{t}"' for t in evaluated[:5]) + (" ..." if len(evaluated) > 5 else "")
        return text + f"but the evaluation below covers only {len(evaluated)} claim(s): {listed}."
    return text + "but nothing on this card measures how the model does on them."


def training_data(ctx: CardContext) -> str:
    data = ctx.train_config.data
    counts = (ctx.train_metrics or {}).get("label_counts") or {}
    p = ctx.provenance
    if p is None:
        text = "Trained on the files below; this card has no information on where they come from beyond their figures."
    else:
        named = f"**{p.name}**" if p.name else "the training data"
        text = f"The dataset card of {named} (`{p.card_path}`" + (f", licence {p.license}" if p.license else "") + ")"
        text += (
            " tags it as **synthetic**: text written for the purpose rather than collected from real outlets, "
            "so it is no evidence about real events."
            if p.synthetic
            else " describes where it comes from."
        )
        if p.date_range:
            text += f" Its sentences are dated {p.date_range}."
    rows = []
    for split in ("train", "dev", "test"):
        row = counts.get(split) or {}
        path = getattr(data, split) or ("a grouped slice of train" if split == "dev" else "none")
        total = sum(row.values()) if row else None
        cells = " | ".join(str(row.get(label, "—")) for label in LABELS)
        rows.append(f"| {split} | `{path}` | {total if total is not None else '—'} | {cells} |")
    return (
        f"## Training data\n\n{text}\n\n| split | file | sentences | {' | '.join(LABELS)} |\n"
        f"|---|---|---|{'---|' * len(LABELS)}\n"
        + "\n".join(rows)
        + f"\n\n`stance train` refuses data where the same text, or the same "
        f"`{data.group_column}` (where the files have that column), appears in two splits."
    )


def training_configuration(ctx: CardContext) -> str:
    model, t = ctx.train_config.model, ctx.train_config.training
    tm = ctx.train_metrics or {}
    precision = tm.get("precision") or ("bf16" if t.bf16 is True else "fp16" if t.fp16 else "fp32")
    rows = [
        (
            "base model",
            "none: random initialisation (`model.architecture`)"
            if model.init == "random"
            else ctx.base or f"local folder `{model.base}`",
        ),
        ("max length (claim + sentence, tokens)", model.max_length),
        ("epochs (configured / run)", f"{t.epochs:g} / {tm.get('epochs_run', '?')}"),
        ("learning rate, scheduler, warm-up", f"{t.learning_rate}, {t.lr_scheduler}, {t.warmup_ratio}"),
        (
            "batch size × accumulation × devices",
            f"{t.batch_size} × {t.gradient_accumulation_steps} × {tm.get('world_size', 1)}",
        ),
        ("weight decay, label smoothing", f"{t.weight_decay}, {t.label_smoothing}"),
        ("class-weighted loss", t.class_weights),
        ("early stopping (patience, on dev macro-F1)", t.early_stopping_patience),
        ("precision, seed", f"{precision}, {t.seed}"),
        ("training time (s)", tm.get("train_seconds", "?")),
        ("library versions", ", ".join(f"{k} {v}" for k, v in (tm.get("versions") or {}).items()) or "?"),
    ]
    table = "\n".join(f"| {name} | {cell(value)} |" for name, value in rows)
    return (
        "## Training configuration\n\n| setting | value |\n|---|---|\n" + table + "\n\nThe full resolved config "
        "is `stance_config.yaml` in this repository; `stance train stance_config.yaml --output DIR` repeats "
        "the run given the same data files."
    )


def evaluation(ctx: CardContext) -> str:
    m, dev = ctx.metrics, (ctx.train_metrics or {}).get("dev") or {}
    dev_line = (
        f"Dev-set figures of the selected checkpoint (the dev set chose it, so they are optimistic): "
        f"accuracy {fmt(dev.get('accuracy'))}, macro-F1 {fmt(dev.get('macro_f1'))}."
        if dev
        else ""
    )
    if m is None:
        return (
            "## Evaluation\n\n**This model has not been evaluated on held-out data** (it was published with "
            "`--allow-unevaluated`). " + (dev_line or "No figures exist.") + "\n\nRun `stance evaluate MODEL "
            "DATA --output DIR` and publish again with its `metrics.json`."
        )
    info, s, ci = m["data"], m["metrics"], m["confidence_intervals"]
    acc_ci = ci["accuracy"]
    out = [
        (
            f"## Evaluation\n\nEvaluated on `{info['path']}` (split: {info.get('split') or 'none'}): "
            f"{info['n_examples']} sentences. Intervals are {int(acc_ci['level'] * 100)}% bootstrap intervals "
            f"({acc_ci['resamples']} resamples, seed {acc_ci['seed']}); every figure is in `metrics.json`.\n\n"
            "| metric | value | 95% CI |\n|---|---|---|\n"
            f"| accuracy | {fmt(s['accuracy'])} | {ci_text(ci['accuracy'])} |\n"
            f"| macro-F1 | {fmt(s['macro_f1'])} | {ci_text(ci['macro_f1'])} |\n"
            f"| micro-F1 | {fmt(s['micro_f1'])} | — |\n| weighted-F1 | {fmt(s['weighted_f1'])} | — |"
        )
    ]
    if m.get("baselines"):
        rows = [
            f"| {BASELINE_NAMES.get(k, k)} | {fmt(v['accuracy'])} | {fmt(v['macro_f1'])} |"
            for k, v in m["baselines"].items()
        ]
        out.append(
            "### Baselines\n\nThe same test set, baselines trained on the model's own training split.\n\n"
            "| model | accuracy | macro-F1 |\n|---|---|---|\n"
            f"| **this model** | {fmt(s['accuracy'])} | {fmt(s['macro_f1'])} |\n" + "\n".join(rows)
        )
    rows = []
    for label in LABELS:
        r = m["per_class"][label]
        rows.append(
            f"| `{label}` | {fmt(r['precision'])} | {fmt(r['recall'])} | {fmt(r['f1'])} | "
            f"{ci_text(r['f1_ci']) if r.get('f1_ci') else '—'} | {r['support']} |"
        )
    out.append(
        "### Per class\n\n| label | precision | recall | F1 | F1 95% CI | support |\n|---|---|---|---|---|---|\n"
        + "\n".join(rows)
    )
    cm = m["confusion_matrix"]
    rows = [
        f"| **{gold}** | " + " | ".join(map(str, counts)) + " |"
        for gold, counts in zip(cm["labels"], cm["counts"], strict=True)
    ]
    out.append(
        (
            "### Confusion matrix\n\n" + image(ctx, "confusion_matrix") + "Rows are the gold label, columns the "
            "prediction.\n\n| gold \\ predicted | "
            + " | ".join(cm["labels"])
            + " |\n|---|"
            + "---|" * len(cm["labels"])
            + "\n"
            + "\n".join(rows)
            + "\n\n"
            + image(ctx, "confusion_matrix_normalized")
            + image(ctx, "per_class_f1")
        ).rstrip()
    )
    if m.get("calibration"):
        out.append(
            (
                f"### Calibration\n\nExpected calibration error {fmt(m['calibration']['ece'])} over "
                f"{m['calibration']['bins']} bins.\n\n" + image(ctx, "reliability")
            ).rstrip()
        )
    for kind, groups in (m.get("breakdowns") or {}).items():
        if groups:
            ordered = sorted(groups.items(), key=lambda item: (item[1]["accuracy"], item[0]))
            rows = [f"| {cell(name)} | {g['n']} | {fmt(g['accuracy'])} | {fmt(g['macro_f1'])} |" for name, g in ordered]
            out.append(
                f"### By {kind}\n\nWorst first.\n\n| {kind} | n | accuracy | macro-F1 |\n|---|---|---|---|\n"
                + "\n".join(rows)
            )
    wrong = ((m.get("errors") or {}).get("confident_wrong") or [])[:5]
    if wrong:
        rows = [f"| {cell(e['text'])} | `{e['gold']}` | `{e['predicted']}` | {fmt(e['confidence'])} |" for e in wrong]
        out.append(
            "### Most confident errors\n\n| sentence | gold | predicted | confidence |\n|---|---|---|---|\n"
            + "\n".join(rows)
        )
    if m.get("notes"):
        out.append("### Notes from the evaluation\n\n" + "\n".join(f"- {cell(note)}" for note in m["notes"]))
    if dev_line:
        out.append(dev_line)
    return "\n\n".join(out)


def how_to_use(ctx: CardContext) -> str:
    examples = ctx.metrics["errors"]["unsure_right"] + ctx.metrics["errors"]["confident_wrong"] if ctx.metrics else []
    sentence = examples[0]["text"] if examples else "A sentence from the news."
    return f'''## How to use

With the `stance` package (single sentences or whole articles; the target defaults to the claim above):

```python
from stance import StanceClassifier

clf = StanceClassifier.from_pretrained("{ctx.repo_id}")
print(clf.predict([{json.dumps(sentence)}]))
```

With plain transformers, pass the claim as `text` and the sentence as `text_pair`:

```python
from transformers import pipeline

clf = pipeline("text-classification", model="{ctx.repo_id}", top_k=None)
print(clf({{"text": {json.dumps(ctx.target)},
           "text_pair": {json.dumps(sentence)}}}))
```'''


def files(ctx: CardContext) -> str:
    rows = [f"| `{name}` | {FILE_ROLES.get(name, 'plot' if name.endswith('.png') else '')} |" for name in ctx.files]
    return "## Files\n\n| file | what it is |\n|---|---|\n" + "\n".join(rows) if rows else ""
