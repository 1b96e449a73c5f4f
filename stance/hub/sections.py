"""The Markdown body of a model card, section by section, from the run's own files.

Nothing here is boilerplate praise: each sentence quotes a figure from ``metrics.json``,
``train_metrics.json`` or the resolved config, and the limitations are chosen by those figures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..config import StanceConfig
from ..evaluation.schema import BASELINE_NAMES, MetricsFile, format_interval
from ..labels import DEFINITIONS, LABELS
from ..layout import (
    ERROR_MATRIX_FILE,
    METRICS_FILE,
    MODEL_CONFIG_FILE,
    TRAIN_METRICS_FILE,
)
from ..modeling.bases import base_hub_id, base_license

REQUIRED_SECTIONS = (
    "Labels",
    "Target claim",
    "Training data",
    "Training configuration",
    "Evaluation",
    "How to use",
    "Limitations",
)
WEAK_GAP = 0.05  # a group this far below the overall accuracy is listed as a weakness
MIN_GROUP = 5  # smaller groups are too noisy to name
IMAGE_TITLES = {
    "confusion_matrix": "Confusion matrix (counts)",
    "confusion_matrix_normalized": "Confusion matrix (row-normalised)",
    "per_class_f1": "Per-class F1 with 95% interval",
    "reliability": "Reliability diagram",
}
LANGUAGES = {"en": "English"}
FILE_ROLES = {
    "model.safetensors": "weights (safetensors)",
    "config.json": "architecture, `id2label`, default target",
    "tokenizer.json": "tokenizer",
    "tokenizer_config.json": "tokenizer settings",
    "vocab.txt": "vocabulary",
    "special_tokens_map.json": "tokenizer special tokens",
    MODEL_CONFIG_FILE: "resolved training config",
    TRAIN_METRICS_FILE: "dev metrics, label counts, timing, library versions",
    ERROR_MATRIX_FILE: "held-out confusion matrix (for error-adjusted prevalence)",
    METRICS_FILE: "evaluation figures (`stance evaluate`, schema_version 1)",
    "README.md": "this card",
}
SYNTHETIC_TAGS = {"synthetic"}  # a dataset card tag that marks written-for-purpose (not collected) text


@dataclass
class DataProvenance:
    """What the training data's own dataset card (a ``README.md`` beside the training file) says of it."""

    card_path: str
    name: str | None = None
    license: str | None = None
    synthetic: bool = False
    date_range: str | None = None


@dataclass
class CardContext:
    """Everything a card is made from (all read from the staged folder's files)."""

    repo_id: str
    model_config: dict[str, Any]  # config.json
    train_config: StanceConfig  # stance_config.yaml, through load_config
    train_metrics: dict[str, Any] | None
    metrics: MetricsFile | None  # None: unevaluated
    files: list[str] = field(default_factory=list)
    license: str = "apache-2.0"
    language: str = "en"
    provenance: DataProvenance | None = None

    @property
    def name(self) -> str:
        return self.repo_id.split("/")[-1]

    @property
    def target(self) -> str:
        return str(self.model_config.get("stance_default_target") or self.train_config.data.default_target)

    @property
    def base(self) -> str | None:
        """The hub id the model was fine-tuned from, or None (random init or a local folder)."""
        model = self.train_config.model
        return None if model.init == "random" else base_hub_id(model.base)


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
        f"**{_f(m['metrics']['macro_f1'])}** (95% CI {_ci(ci['macro_f1'])}), accuracy "
        f"**{_f(m['metrics']['accuracy'])}** (95% CI {_ci(ci['accuracy'])}). Read "
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
    table = "\n".join(f"| {name} | {_cell(value)} |" for name, value in rows)
    return (
        "## Training configuration\n\n| setting | value |\n|---|---|\n" + table + "\n\nThe full resolved config "
        "is `stance_config.yaml` in this repository; `stance train stance_config.yaml --output DIR` repeats "
        "the run given the same data files."
    )


def evaluation(ctx: CardContext) -> str:
    m, dev = ctx.metrics, (ctx.train_metrics or {}).get("dev") or {}
    dev_line = (
        f"Dev-set figures of the selected checkpoint (the dev set chose it, so they are optimistic): "
        f"accuracy {_f(dev.get('accuracy'))}, macro-F1 {_f(dev.get('macro_f1'))}."
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
            f"| accuracy | {_f(s['accuracy'])} | {_ci(ci['accuracy'])} |\n"
            f"| macro-F1 | {_f(s['macro_f1'])} | {_ci(ci['macro_f1'])} |\n"
            f"| micro-F1 | {_f(s['micro_f1'])} | — |\n| weighted-F1 | {_f(s['weighted_f1'])} | — |"
        )
    ]
    if m.get("baselines"):
        rows = [
            f"| {BASELINE_NAMES.get(k, k)} | {_f(v['accuracy'])} | {_f(v['macro_f1'])} |"
            for k, v in m["baselines"].items()
        ]
        out.append(
            "### Baselines\n\nThe same test set, baselines trained on the model's own training split.\n\n"
            "| model | accuracy | macro-F1 |\n|---|---|---|\n"
            f"| **this model** | {_f(s['accuracy'])} | {_f(s['macro_f1'])} |\n" + "\n".join(rows)
        )
    rows = []
    for label in LABELS:
        r = m["per_class"][label]
        rows.append(
            f"| `{label}` | {_f(r['precision'])} | {_f(r['recall'])} | {_f(r['f1'])} | "
            f"{_ci(r['f1_ci']) if r.get('f1_ci') else '—'} | {r['support']} |"
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
            "### Confusion matrix\n\n" + _image(ctx, "confusion_matrix") + "Rows are the gold label, columns the "
            "prediction.\n\n| gold \\ predicted | "
            + " | ".join(cm["labels"])
            + " |\n|---|"
            + "---|" * len(cm["labels"])
            + "\n"
            + "\n".join(rows)
            + "\n\n"
            + _image(ctx, "confusion_matrix_normalized")
            + _image(ctx, "per_class_f1")
        ).rstrip()
    )
    if m.get("calibration"):
        out.append(
            (
                f"### Calibration\n\nExpected calibration error {_f(m['calibration']['ece'])} over "
                f"{m['calibration']['bins']} bins.\n\n" + _image(ctx, "reliability")
            ).rstrip()
        )
    for kind, groups in (m.get("breakdowns") or {}).items():
        if groups:
            ordered = sorted(groups.items(), key=lambda item: (item[1]["accuracy"], item[0]))
            rows = [f"| {_cell(name)} | {g['n']} | {_f(g['accuracy'])} | {_f(g['macro_f1'])} |" for name, g in ordered]
            out.append(
                f"### By {kind}\n\nWorst first.\n\n| {kind} | n | accuracy | macro-F1 |\n|---|---|---|---|\n"
                + "\n".join(rows)
            )
    wrong = ((m.get("errors") or {}).get("confident_wrong") or [])[:5]
    if wrong:
        rows = [f"| {_cell(e['text'])} | `{e['gold']}` | `{e['predicted']}` | {_f(e['confidence'])} |" for e in wrong]
        out.append(
            "### Most confident errors\n\n| sentence | gold | predicted | confidence |\n|---|---|---|---|\n"
            + "\n".join(rows)
        )
    if m.get("notes"):
        out.append("### Notes from the evaluation\n\n" + "\n".join(f"- {_cell(note)}" for note in m["notes"]))
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


def limitations(ctx: CardContext) -> str:
    items = [_provenance(ctx)]
    m = ctx.metrics
    if m is None:
        items.append("It has **not been evaluated**: no figure on this card describes how it does on unseen text.")
    else:
        items += _baselines(m) + _weak_classes(m) + _weak_groups(m) + _uncertainty(m)
        items += _calibration(m) + _confident_errors(m)
    counts = ((ctx.train_metrics or {}).get("label_counts") or {}).get("train") or {}
    if counts:
        total = sum(counts.values()) or 1
        mix = ", ".join(f"{label} {100 * counts.get(label, 0) / total:.0f}%" for label in LABELS)
        items.append(
            f"It learnt from {total} training sentences ({mix}). Coverage with a different label mix "
            "shifts precision and recall away from the figures above."
        )
    length = ctx.model_config.get("stance_max_length") or ctx.train_config.model.max_length
    items.append(
        f"It reads one sentence at a time; pairs longer than {length} tokens (claim + sentence) are "
        f"truncated. It was trained on {LANGUAGES.get(ctx.language, ctx.language)} text only."
    )
    return "## Limitations\n\n" + "\n".join(f"- {item}" for item in items)


def files(ctx: CardContext) -> str:
    rows = [f"| `{name}` | {FILE_ROLES.get(name, 'plot' if name.endswith('.png') else '')} |" for name in ctx.files]
    return "## Files\n\n| file | what it is |\n|---|---|\n" + "\n".join(rows) if rows else ""


# ---------------------------------------------------------------------------------------------------------
# limitations, each chosen by a figure


def _provenance(ctx: CardContext) -> str:
    if ctx.provenance is not None and ctx.provenance.synthetic:
        return (
            "Its training data is tagged **synthetic** by its dataset card: text written for the purpose is "
            "cleaner and less ambiguous than real coverage and covers fewer events and voices. Expect lower "
            "figures on real news than the ones above."
        )
    if ctx.metrics is None:
        return "This card records no provenance for its training data and no measurement on other coverage."
    return (
        f"The figures on this card describe `{ctx.metrics['data']['path']}` only; how well they carry over to "
        "other coverage is unmeasured."
    )


def _baselines(m: MetricsFile) -> list[str]:
    macro = m["metrics"]["macro_f1"]
    return [
        f"Its macro-F1 ({_f(macro)}) is **not above** the {BASELINE_NAMES.get(name, name)} baseline's "
        f"({_f(row['macro_f1'])}): on this test set it does no better than that baseline."
        for name, row in (m.get("baselines") or {}).items()
        if macro <= row["macro_f1"]
    ]


def _weak_classes(m: MetricsFile) -> list[str]:
    per_class, macro = m["per_class"], m["metrics"]["macro_f1"]
    ranked = sorted(LABELS, key=lambda label: per_class[label]["f1"])
    weak = [label for label in ranked if per_class[label]["f1"] < macro] or ranked[:1]
    cm = m["confusion_matrix"]
    out = []
    for i, label in enumerate(weak):
        r = per_class[label]
        text = (
            f"Weakest class `{label}`" if i == 0 else f"Also below the macro-F1: `{label}`"
        ) + f": F1 {_f(r['f1'])}, recall {_f(r['recall'])}, precision {_f(r['precision'])}"
        if label in cm["labels"]:
            row = cm["counts"][cm["labels"].index(label)]
            misses = [(n, cm["labels"][j]) for j, n in enumerate(row) if cm["labels"][j] != label and n > 0]
            if misses:
                n, other = max(misses)
                text += f"; {n} of its {sum(row)} evaluated sentences were predicted `{other}`"
        out.append(text + ".")
    return out


def _weak_groups(m: MetricsFile) -> list[str]:
    overall = m["metrics"]["accuracy"]
    weak, small = [], 0
    for kind, groups in (m.get("breakdowns") or {}).items():
        for name, g in groups.items():
            if g["n"] < MIN_GROUP:
                small += 1
            elif g["accuracy"] < overall - WEAK_GAP:
                weak.append((g["accuracy"], kind, name, g))
    weak.sort(key=lambda item: (item[0], item[1], item[2]))
    if not weak:
        return (
            [
                f"No source, target or phenomenon group of at least {MIN_GROUP} sentences scores more than "
                f"{int(WEAK_GAP * 100)} points below the overall accuracy ({_f(overall)})"
                + (f"; {small} smaller groups were not judged." if small else ".")
            ]
            if m.get("breakdowns")
            else []
        )
    listed = "; ".join(
        f"{kind} `{name}` (n={g['n']}): accuracy {_f(g['accuracy'])}, macro-F1 {_f(g['macro_f1'])}"
        for _, kind, name, g in weak[:5]
    )
    return [f"It does worst on these groups (overall accuracy {_f(overall)}): {listed}."]


def _uncertainty(m: MetricsFile) -> list[str]:
    ci = m["confidence_intervals"]["macro_f1"]
    return [
        (
            f"The evaluation has {m['data']['n_examples']} sentences, so macro-F1 is only known to within "
            f"{_ci(ci)} (width {_f(ci['high'] - ci['low'])}); smaller differences between models are not evidence."
        )
    ]


def _calibration(m: MetricsFile) -> list[str]:
    ece = (m.get("calibration") or {}).get("ece")
    if ece is None:
        return []
    verdict = (
        "read scores as rankings, not probabilities" if ece > 0.05 else "scores are roughly calibrated on this set"
    )
    return [f"Expected calibration error is {_f(ece)}: {verdict}."]


def _confident_errors(m: MetricsFile) -> list[str]:
    wrong = ((m.get("errors") or {}).get("confident_wrong") or [])[:3]
    if not wrong:
        return []
    listed = "; ".join(
        f'"{_short(e["text"])}" (gold `{e["gold"]}`, predicted `{e["predicted"]}` at {_f(e["confidence"])})'
        for e in wrong
    )
    return [f"It is confidently wrong on sentences such as {listed}."]


def _f(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "—"


def _ci(ci: Any) -> str:
    return format_interval(ci["low"], ci["high"])


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _image(ctx: CardContext, key: str) -> str:
    name = ((ctx.metrics or {}).get("images") or {}).get(key)
    if not name or name not in ctx.files:
        return ""
    return f"![{IMAGE_TITLES.get(key, key)}]({name})\n\n"
