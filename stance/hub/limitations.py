"""The card's Limitations section: each item chosen by a figure of the run, none boilerplate."""

from __future__ import annotations

from ..evaluation.schema import BASELINE_NAMES, MetricsFile
from ..labels import LABELS
from .context import CardContext, ci_text, fmt, short

WEAK_GAP = 0.05  # a group this far below the overall accuracy is listed as a weakness
MIN_GROUP = 5  # smaller groups are too noisy to name
LANGUAGES = {"en": "English"}


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
        f"Its macro-F1 ({fmt(macro)}) is **not above** the {BASELINE_NAMES.get(name, name)} baseline's "
        f"({fmt(row['macro_f1'])}): on this test set it does no better than that baseline."
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
        ) + f": F1 {fmt(r['f1'])}, recall {fmt(r['recall'])}, precision {fmt(r['precision'])}"
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
                f"{int(WEAK_GAP * 100)} points below the overall accuracy ({fmt(overall)})"
                + (f"; {small} smaller groups were not judged." if small else ".")
            ]
            if m.get("breakdowns")
            else []
        )
    listed = "; ".join(
        f"{kind} `{name}` (n={g['n']}): accuracy {fmt(g['accuracy'])}, macro-F1 {fmt(g['macro_f1'])}"
        for _, kind, name, g in weak[:5]
    )
    return [f"It does worst on these groups (overall accuracy {fmt(overall)}): {listed}."]


def _uncertainty(m: MetricsFile) -> list[str]:
    ci = m["confidence_intervals"]["macro_f1"]
    return [
        (
            f"The evaluation has {m['data']['n_examples']} sentences, so macro-F1 is only known to within "
            f"{ci_text(ci)} (width {fmt(ci['high'] - ci['low'])}); smaller differences between models are not evidence."
        )
    ]


def _calibration(m: MetricsFile) -> list[str]:
    ece = (m.get("calibration") or {}).get("ece")
    if ece is None:
        return []
    verdict = (
        "read scores as rankings, not probabilities" if ece > 0.05 else "scores are roughly calibrated on this set"
    )
    return [f"Expected calibration error is {fmt(ece)}: {verdict}."]


def _confident_errors(m: MetricsFile) -> list[str]:
    wrong = ((m.get("errors") or {}).get("confident_wrong") or [])[:3]
    if not wrong:
        return []
    listed = "; ".join(
        f'"{short(e["text"])}" (gold `{e["gold"]}`, predicted `{e["predicted"]}` at {fmt(e["confidence"])})'
        for e in wrong
    )
    return [f"It is confidently wrong on sentences such as {listed}."]
