"""The tracking folder's summary files, figures and report pages, from the summary of a run.

``summary.json`` (the run's settings, counts, notes and one row per cell), ``summary.csv`` (the rows,
flat), the PNGs of :data:`stance.layout.TRACK_FIGURES`, ``report.html`` (self-contained: figures embedded
as base64, one sortable table per source — click a header) and ``report.md`` (the same, linking the PNGs).
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
from pathlib import Path
from typing import Any

from ..evaluation.pages import figure, md_cell, page_head
from ..inference.articles import VERDICTS
from ..labels import LABELS
from ..layout import REPORT_HTML, REPORT_MARKDOWN, TRACK_FIGURES, TRACK_SUMMARY_CSV, TRACK_SUMMARY_JSON
from . import plots
from .aggregate import ALL, flat

CAPTIONS = {
    "shares": "Share of each source's articles with each verdict, period by period",
    "heatmap": "Article verdicts by source, over the whole span",
    "counts": "Articles per period, by source",
    "prevalence": "Share of sentences per source: raw (hollow) and adjusted for the classifier's errors (filled)",
}
READING = (
    "A verdict share is the fraction of a cell's articles with that verdict; its 95% interval (Wilson) is "
    "the range of shares that sampling would plausibly give. Sentence prevalence is the fraction of all "
    "sentences with each predicted label (raw), and the same corrected for the classifier's measured "
    "mistakes (adjusted: if the model calls 10% of neutral sentences denying, a raw denying share is "
    "partly neutral sentences; the adjustment removes that, from the probabilities the model gave held-out "
    "sentences of each gold label: PACC). The adjusted interval covers both the sampling of "
    "articles and the uncertainty of the measured mistakes; a wide one says the figure is not settled. "
    "Cells with few articles have wide intervals: read the article count."
)
Table = tuple[list[str], list[list[tuple[str, float | str]]]]  # header, rows of (shown, sort key)

SORT_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, column) {
    th.addEventListener("click", function () {
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var down = th.getAttribute("data-dir") !== "down";
      table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("data-dir"); });
      th.setAttribute("data-dir", down ? "down" : "up");
      rows.sort(function (a, b) {
        var x = a.cells[column].getAttribute("data-sort"), y = b.cells[column].getAttribute("data-sort");
        var nx = parseFloat(x), ny = parseFloat(y);
        var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
        return down ? -order : order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""
# Records on <body data-report-check> each image's natural size and box and each table's box: what a
# browser actually rendered (the browser test reads it).
CHECK_SCRIPT = """
window.addEventListener("load", function () {
  var images = Array.prototype.map.call(document.images, function (img) {
    var box = img.getBoundingClientRect();
    return {id: img.id, naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight,
            width: box.width, height: box.height, complete: img.complete};
  });
  var tables = Array.prototype.map.call(document.querySelectorAll("table"), function (table) {
    var box = table.getBoundingClientRect(), css = getComputedStyle(table);
    return {id: table.id, width: box.width, height: box.height, rows: table.rows.length,
            visibility: css.visibility, display: css.display, text: table.innerText.slice(0, 2000)};
  });
  var check = {images: images, tables: tables};
  if (location.hash === "#check-sort") {  // the browser test only: sort the overview by articles, both ways
    var overview = document.getElementById("overview"), header = overview.tHead.rows[0].cells[1];
    var column = function () {
      return Array.prototype.map.call(overview.tBodies[0].rows, function (row) { return row.cells[1].innerText; });
    };
    check.sort = {before: column()};
    header.click(); check.sort.down = column();
    header.click(); check.sort.up = column();
  }
  document.body.setAttribute("data-report-check", JSON.stringify(check));
});
"""
EXTRA_STYLE = """
table.sortable th { cursor: pointer; white-space: nowrap; }
table.sortable th[data-dir="down"]::after { content: " \\25BE"; }
table.sortable th[data-dir="up"]::after { content: " \\25B4"; }
td.num { text-align: right; white-space: nowrap; }
div.scroll { overflow-x: auto; max-width: 100%; }
.warning { background: #fff4e5; border-left: 4px solid #e8a33d; padding: 0.4em 0.8em; }
"""


def write_outputs(summary: dict[str, Any], folder: Path) -> list[Path]:
    """Write summary.json, summary.csv, the figures and both report pages into ``folder``."""
    rows, period = summary["rows"], summary["period"]
    written = [folder / TRACK_SUMMARY_JSON, folder / TRACK_SUMMARY_CSV]
    written[0].write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    flat_rows = [flat(row) for row in rows]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(flat_rows[0]) if flat_rows else ["source", "period"])
    writer.writeheader()
    writer.writerows(flat_rows)
    written[1].write_text(buffer.getvalue(), encoding="utf-8", newline="")
    figures = {key: folder / name for key, name in TRACK_FIGURES.items()}
    plots.shares_over_time(rows, period, figures["shares"])
    plots.heatmap(rows, figures["heatmap"])
    plots.articles_over_time(rows, period, figures["counts"])
    plots.prevalence(rows, figures["prevalence"])
    (folder / REPORT_MARKDOWN).write_text(markdown(summary), encoding="utf-8")
    (folder / REPORT_HTML).write_text(to_html(summary, figures), encoding="utf-8")
    return [*written, *figures.values(), folder / REPORT_MARKDOWN, folder / REPORT_HTML]


# ---------------------------------------------------------------------------------------------------------
# Shared content


def _share(figure: dict[str, Any] | None) -> tuple[str, float | str]:
    if not figure or figure.get("share") is None or math.isnan(figure["share"]):
        return "", -1.0
    text = f"{figure['share']:.0%}"
    if figure.get("low") is not None and figure.get("high") is not None:
        text += f" [{figure['low']:.0%}–{figure['high']:.0%}]"
    return text, figure["share"]


def _table(rows: list[dict[str, Any]], first: str, adjusted: bool) -> Table:
    header = [first, "articles", *(f"{v} (articles)" for v in VERDICTS)]
    header += [f"{label} (sentences, raw)" for label in LABELS]
    if adjusted:
        header += [f"{label} (sentences, adjusted)" for label in LABELS]
    body = []
    for row in rows:
        key = row["source"] if first == "source" else row["period"]
        cells: list[tuple[str, float | str]] = [(key, key), (str(row["articles"]), row["articles"])]
        cells += [_share(row["verdicts"][v]) for v in VERDICTS]
        cells += [_share(row["raw"][label]) for label in LABELS]
        if adjusted:
            cells += [_share((row["adjusted"] or {}).get(label)) for label in LABELS]
        body.append(cells)
    return header, body


def _intro(summary: dict[str, Any]) -> list[str]:
    counts = summary["articles"]
    span = f"{summary['since'] or 'start'} to {summary['until'] or 'end'}"
    lines = [
        f"Model: {summary['model']}",
        (
            f"Collection: {summary['input']} ({summary['input_form']}), {counts['read']} articles read, "
            f"{counts['tracked']} tracked ({span})"
        ),
        f"Target: {summary['target']}",
        f"Grouped {'by source' if summary['by'] == 'source' else 'all together'}, per {summary['period']}",
        f"Article verdict rule: {summary['rule']}",
        "Sentence prevalence: raw and adjusted for the classifier's errors"
        if summary["adjusted"]
        else "Sentence prevalence: raw only (not adjusted; see the notes)",
    ]
    return lines


def _sections(summary: dict[str, Any]) -> list[tuple[str, str, Table]]:
    """(title, table id, table): the overview, then one table per source (periods as rows)."""
    rows, adjusted = summary["rows"], summary["adjusted"]
    overview = [row for row in rows if row["period"] == ALL]
    out = [("Sources over the whole span", "overview", _table(overview, "source", adjusted))]
    for number, total in enumerate(overview):
        source = total["source"]
        periods = [row for row in rows if row["source"] == source and row["period"] != ALL]
        title = "All sources, per period" if source == ALL else f"{source}, per period"
        out.append((title, f"source-{number}", _table(periods + [total], "period", adjusted)))
    return out


# ---------------------------------------------------------------------------------------------------------
# Markdown


def markdown(summary: dict[str, Any]) -> str:
    parts = ["# Stance coverage report\n", "\n".join(f"- {md_cell(line)}" for line in _intro(summary)) + "\n"]
    if summary["notes"]:
        parts.append("## Notes\n")
        parts.append("\n".join(f"- {md_cell(note)}" for note in summary["notes"]) + "\n")
    parts += ["## How to read the figures\n", READING + "\n"]
    captions = _captions(summary)
    parts += [f"![{captions[key]}]({name})\n" for key, name in TRACK_FIGURES.items()]
    for title, _, (header, body) in _sections(summary):
        parts.append(f"## {md_cell(title)}\n")
        lines = ["| " + " | ".join(map(md_cell, header)) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(md_cell(shown) for shown, _ in cells) + " |" for cells in body]
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------------------
# HTML


def _html_table(table_id: str, table: Table) -> str:
    header, body = table
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    lines = []
    for cells in body:
        tds = []
        for i, (shown, key) in enumerate(cells):
            kind = ' class="num"' if i else ""
            tds.append(f'<td{kind} data-sort="{html.escape(str(key))}">{html.escape(shown)}</td>')
        lines.append("<tr>" + "".join(tds) + "</tr>")
    table = f'<table class="sortable" id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{"".join(lines)}</tbody>'
    return f'<div class="scroll">{table}</table></div>'


def _captions(summary: dict[str, Any]) -> dict[str, str]:
    """The figure captions, saying what this run's figures leave out."""
    captions = dict(CAPTIONS)
    sources = sum(1 for row in summary["rows"] if row["period"] == ALL and row["source"] != ALL)
    if sources > plots.MAX_PANELS:
        captions["shares"] += f" (the {plots.MAX_PANELS} largest of {sources} sources; the tables hold all)"
    if sources > 10:
        captions["counts"] += f" (the 10 largest of {sources} sources, and all together)"
    if not summary["adjusted"]:
        captions["prevalence"] = "Share of sentences per source, raw only (not adjusted: see the notes)"
    return captions


def to_html(summary: dict[str, Any], figures: dict[str, Path]) -> str:
    """The whole report as one HTML page; the PNGs in ``figures`` are embedded."""
    parts = page_head("Stance coverage report", _intro(summary), EXTRA_STYLE)
    if summary["notes"]:
        parts.append("<h2>Notes</h2>")
        kind = "warning" if not summary["adjusted"] else "note"
        parts.append(f'<ul class="{kind}">' + "".join(f"<li>{html.escape(n)}</li>" for n in summary["notes"]) + "</ul>")
    parts += ["<h2>How to read the figures</h2>", f'<p class="note">{html.escape(READING)}</p>']
    captions = _captions(summary)
    parts += [figure(key, path, captions[key]) for key, path in figures.items()]
    for title, table_id, table in _sections(summary):
        parts.append(f"<h2>{html.escape(title)}</h2>")
        parts.append('<p class="note">Click a column header to sort by it.</p>' if table_id == "overview" else "")
        parts.append(_html_table(table_id, table))
    parts.append(f"<script>{SORT_SCRIPT}{CHECK_SCRIPT}</script></body></html>")
    return "\n".join(parts) + "\n"
