"""Writing an :class:`~stance.evaluation.evaluate.Evaluation` to a report folder.

Files written into ``DIR`` (those of an earlier report there are replaced; nothing else is touched)::

    report.html                      one self-contained page: figures embedded as base64 PNGs, no
                                     network, readable offline in any browser
    report.md                        the same content as Markdown, linking the PNG files below
    metrics.json                     the machine-readable results; the publishing step reads it
    predictions.jsonl                one row per example: id, target, text, gold, predicted, correct,
                                     confidence, scores {label: probability} (+ source, phenomena if present)
    confusion_matrix.png, confusion_matrix_normalized.png, reliability.png, per_class_f1.png

``metrics.json`` is the typed record of :mod:`stance.evaluation.schema` (the one definition of its fields).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from ..layout import (
    METRICS_FILE,
    PREDICTIONS_FILE,
    REPORT_HTML,
    REPORT_MARKDOWN,
    atomic_write_text,
)
from . import plots
from .evaluate import Evaluation
from .pages import figure, md_cell, page_head
from .schema import BASELINE_NAMES, HEADLINE, MetricsFile, format_interval

IMAGES = {
    "confusion_matrix": "confusion_matrix.png",
    "confusion_matrix_normalized": "confusion_matrix_normalized.png",
    "reliability": "reliability.png",
    "per_class_f1": "per_class_f1.png",
}
CAPTIONS = {
    "confusion_matrix": "Confusion matrix, counts (rows: gold, columns: predicted)",
    "confusion_matrix_normalized": "Confusion matrix, each row divided by its total (the diagonal is recall)",
    "reliability": "Reliability diagram: accuracy per confidence bin against the diagonal",
    "per_class_f1": "Per-class F1 with its 95% bootstrap interval",
}
Table = tuple[list[str], list[list[str]]]  # header, rows
Section = tuple[str, str, Table | None, list[str]]  # title, explanation, table, figure keys


def write_report(evaluation: Evaluation, output_dir: str | Path) -> Path:
    """Write every file listed in the module docstring; returns the path of ``report.html``."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = evaluation.results.model_copy(update={"images": dict(IMAGES)})
    cm = results["confusion_matrix"]
    plots.confusion_matrix(cm["counts"], cm["labels"], out / IMAGES["confusion_matrix"])
    plots.confusion_matrix(cm["counts"], cm["labels"], out / IMAGES["confusion_matrix_normalized"], normalize=True)
    plots.reliability(evaluation.reliability, results["calibration"]["ece"], out / IMAGES["reliability"])
    plots.per_class_f1(results["per_class"], out / IMAGES["per_class_f1"])
    results.write(out / METRICS_FILE)
    atomic_write_text(
        out / PREDICTIONS_FILE,
        "".join(json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in evaluation.predictions),
    )
    atomic_write_text(out / REPORT_MARKDOWN, markdown(results))
    atomic_write_text(out / REPORT_HTML, to_html(results, out))
    return out / REPORT_HTML


# ---------------------------------------------------------------------------------------------------------
# Shared content: every section as (title, header, rows), rendered to Markdown or HTML.


def _f(value: float) -> str:
    return f"{value:.3f}"


def _ci(ci: Any) -> str:
    return format_interval(ci["low"], ci["high"])


def _summary_table(r: MetricsFile) -> Table:
    header = ["", *HEADLINE]
    rows = [["**this model**", *(_f(r["metrics"][k]) for k in HEADLINE)]]
    ci = r["confidence_intervals"]
    rows.append(
        [
            f"95% interval ({ci['accuracy']['resamples']} bootstrap resamples, seed {ci['accuracy']['seed']})",
            _ci(ci["accuracy"]),
            _ci(ci["macro_f1"]),
            "",
            "",
        ]
    )
    for name, scores in r["baselines"].items():
        rows.append([f"baseline: {BASELINE_NAMES.get(name, name)}", *(_f(scores[k]) for k in HEADLINE)])
    return header, rows


def _per_class_table(r: MetricsFile) -> Table:
    rows = [
        [label, _f(c["precision"]), _f(c["recall"]), _f(c["f1"]), _ci(c["f1_ci"]), str(c["support"])]
        for label, c in r["per_class"].items()
    ]
    return ["label", "precision", "recall", "F1", "F1 95% interval", "support"], rows


def _confusion_table(r: MetricsFile) -> Table:
    labels = r["confusion_matrix"]["labels"]
    rows = [[f"gold {label}", *map(str, counts)] for label, counts in zip(labels, r["confusion_matrix"]["counts"])]
    return ["", *(f"predicted {label}" for label in labels)], rows


def _breakdown_table(slices: dict[str, dict[str, Any]]) -> Table:
    rows = [[key, str(s["n"]), _f(s["accuracy"]), _f(s["macro_f1"])] for key, s in slices.items()]
    return ["value", "n", "accuracy", "macro-F1"], rows


def _error_table(errors: list[dict[str, Any]]) -> Table:
    rows = [[e["id"], e["text"], e["gold"], e["predicted"], _f(e["confidence"])] for e in errors]
    return ["id", "text", "gold", "predicted", "confidence"], rows


def _intro(r: MetricsFile) -> list[str]:
    data = r["data"]
    split = f" ({data['split']} split)" if data["split"] else ""
    lines = [
        f"Model: {r['model']}",
        f"Data: {data['path']}{split}, {data['n_examples']} examples",
        f"Targets: {'; '.join(data['targets'])}",
        f"Expected calibration error: {_f(r['calibration']['ece'])} ({r['calibration']['bins']} bins)",
    ]
    if not r["baselines"]:
        lines.append("Baselines: not computed (see the notes)")
    return lines


def _sections(r: MetricsFile) -> list[Section]:
    """(title, explanation, table, figure keys) in report order."""
    ece = r["calibration"]
    out: list[Section] = [
        (
            "Metrics",
            (
                "The model's figures with their bootstrap interval, and baselines trained on the model's own "
                "training split: a figure is only as good as its margin over these."
            ),
            _summary_table(r),
            [],
        ),
        ("Per class", "", _per_class_table(r), ["per_class_f1"]),
        (
            "Confusion matrix",
            "Rows are gold labels, columns predictions.",
            _confusion_table(r),
            ["confusion_matrix", "confusion_matrix_normalized"],
        ),
        (
            "Calibration",
            (
                f"Expected calibration error {_f(ece['ece'])} over {ece['bins']} equal-width bins of the "
                "predicted label's probability: how far confidence is from accuracy, on average."
            ),
            None,
            ["reliability"],
        ),
    ]
    titles = {"source": "By source", "target": "By target", "phenomena": "By phenomenon tag"}
    for column, slices in r["breakdowns"].items():
        if slices:
            note = "A sentence counts once under each of its tags. " if column == "phenomena" else ""
            out.append(
                (
                    titles.get(column, f"By {column}"),
                    note + "Small slices have wide margins: read n.",
                    _breakdown_table(slices),
                    [],
                )
            )
    out.append(("Most confident wrong predictions", "", _error_table(r["errors"]["confident_wrong"]), []))
    out.append(("Least confident right predictions", "", _error_table(r["errors"]["unsure_right"]), []))
    return out


# ---------------------------------------------------------------------------------------------------------
# Markdown.


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return "_none_\n"
    lines = ["| " + " | ".join(map(md_cell, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(md_cell, row)) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def markdown(r: MetricsFile) -> str:
    parts = ["# Stance evaluation report\n", "\n".join(f"- {line}" for line in _intro(r)) + "\n"]
    for title, note, table, figures in _sections(r):
        parts.append(f"## {title}\n")
        if note:
            parts.append(note + "\n")
        if table is not None:
            parts.append(_md_table(*table))
        parts += [f"![{CAPTIONS[key]}]({r['images'][key]})\n" for key in figures]
    if r.get("notes"):
        parts.append("## Notes\n")
        parts.append("\n".join(f"- {md_cell(note)}" for note in r["notes"]) + "\n")
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------------------
# HTML.

# Records on <body data-report-check> whether every figure decoded (natural size) and the metrics table is
# laid out. Only automated viewers read it (the browser test); the page needs no script to display.
CHECK_SCRIPT = """
window.addEventListener("load", function () {
  var images = Array.prototype.map.call(document.images, function (img) {
    var box = img.getBoundingClientRect();
    return {id: img.id, naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight,
            width: box.width, height: box.height, complete: img.complete};
  });
  var table = document.getElementById("metrics");
  var box = table.getBoundingClientRect(), css = getComputedStyle(table);
  document.body.setAttribute("data-report-check", JSON.stringify({images: images,
    metricsTable: {width: box.width, height: box.height, rows: table.rows.length, visibility: css.visibility,
                   display: css.display, text: table.innerText}}));
});
"""


def _html_table(header: list[str], rows: list[list[str]], table_id: str = "") -> str:
    if not rows:
        return '<p class="note">none</p>'
    ident = f' id="{table_id}"' if table_id else ""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            text = html.escape(str(cell))
            if text.startswith("**") and text.endswith("**"):
                text = f"<strong>{text[2:-2]}</strong>"
            wide = ' class="text"' if header[i] == "text" else ""
            cells.append(f"<td{wide}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def to_html(r: MetricsFile, folder: Path) -> str:
    """The whole report as one HTML page; the PNGs in ``folder`` are embedded."""
    parts = page_head("Stance evaluation report", _intro(r))
    for title, note, table, figures in _sections(r):
        parts.append(f"<h2>{html.escape(title)}</h2>")
        if note:
            parts.append(f'<p class="note">{html.escape(note)}</p>')
        if table is not None:
            parts.append(_html_table(*table, table_id="metrics" if title == "Metrics" else ""))
        parts += [figure(key, folder / r["images"][key], CAPTIONS[key]) for key in figures]
    if r.get("notes"):
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in r["notes"]) + "</ul>")
    parts.append(f"<script>{CHECK_SCRIPT}</script></body></html>")
    return "\n".join(parts) + "\n"
