"""Self-contained report pages, the pieces every report shares: the style, the page head, embedded
figures and Markdown cells. The evaluation report (:mod:`stance.evaluation.report`) and the coverage
report (:mod:`stance.coverage.report`) are written with them."""

from __future__ import annotations

import base64
import html
from pathlib import Path

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 70em;
       padding: 0 1em; color: #222; line-height: 1.4; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f0f3f7; }
td.text { max-width: 40em; }
figure { display: inline-block; margin: 0.5em 1em 1em 0; vertical-align: top; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #555; max-width: 28em; }
.note { color: #555; }
"""


def page_head(title: str, intro: list[str], extra_style: str = "") -> list[str]:
    """The start of a page: head, style, the title and the introductory list."""
    return [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{STYLE}{extra_style}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in intro) + "</ul>",
    ]


def figure(key: str, path: Path, caption: str) -> str:
    """A PNG embedded as base64 (the page needs no other file), with its caption."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    caption = html.escape(caption)
    return (
        f'<figure><img id="{key}" alt="{caption}" src="data:image/png;base64,{data}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def md_cell(text: object) -> str:
    """A value as one Markdown table cell: whitespace collapsed, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")
