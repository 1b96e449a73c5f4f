"""The HTML report in a real headless browser: the figures decode and the metrics table is laid out.

report.html records, on ``<body data-report-check>``, each image's natural size and on-page box and the
metrics table's box, visibility and text once the page has loaded; Chromium's ``--dump-dom`` prints the
DOM after that, so the check is what a browser actually rendered, not what the HTML claims.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from browser import MARKS, render

pytestmark = MARKS


def test_report_renders_its_figures_and_metrics_table(tiny_run, tmp_path: Path) -> None:
    folder = tiny_run.output_dir / "report"
    metrics = json.loads((folder / "metrics.json").read_text("utf-8"))
    check = render((folder / "report.html").resolve().as_uri(), tmp_path / "profile")

    images = {image["id"]: image for image in check["images"]}
    assert set(images) == set(metrics["images"])
    for name, image in images.items():
        assert image["complete"] and image["naturalWidth"] > 100 and image["naturalHeight"] > 100, name
        assert image["width"] > 100 and image["height"] > 100, name  # laid out on the page, not hidden
    matrix = images["confusion_matrix"]
    assert matrix["naturalWidth"] == pytest.approx(matrix["width"], abs=4)  # shown at its own size

    table = check["metricsTable"]
    assert table["visibility"] == "visible" and table["display"] == "table"
    assert table["width"] > 200 and table["height"] > 50 and table["rows"] >= 4
    text = table["text"]
    assert "accuracy" in text and "macro_f1" in text and "majority class" in text
    assert f"{metrics['metrics']['accuracy']:.3f}" in text and f"{metrics['metrics']['macro_f1']:.3f}" in text
