"""The tracking report in a real headless browser: the figures decode, the tables are laid out and sort.

report.html records, on ``<body data-report-check>``, each image's natural size and on-page box and each
table's box, visibility and text once the page has loaded (and, opened at ``#check-sort``, the overview's
article counts before and after clicking their header twice); Chromium's ``--dump-dom`` prints the DOM
after that, so the check is what a browser rendered, not what the HTML claims.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

from browser import MARKS, render

pytestmark = MARKS
TEXTS = (
    "Russia will deliver attack helicopters to Pakistan next year.",
    "Moscow has denied reports of any arms deal with Islamabad.",
    "The two countries held joint drills in the mountains.",
    "Markets in Karachi closed higher on Tuesday.",
)


def test_track_report_renders_its_figures_and_sortable_tables(tiny_model_dir, tmp_path: Path) -> None:
    from stance.coverage import track

    model = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    matrix = {"labels": ["supportive", "denying", "neutral"], "counts": [[8, 1, 1], [1, 8, 1], [2, 2, 6]]}
    (model / "stance_error_matrix.json").write_text(json.dumps({**matrix, "split": "test", "path": "x.jsonl"}))
    rows = []
    for a in range(9):  # three sources of 1, 3 and 5 articles over two months
        source = ("Delhi Courier", "Islamabad Ledger", "Neva News", "Neva News", "Islamabad Ledger")[a % 5]
        day = dt.date(2021, 1, 5) + dt.timedelta(days=7 * a)
        text = " ".join(TEXTS[(a + k) % 4] for k in range(3))
        rows.append({"id": f"a{a}", "text": text, "source": source, "date": day.isoformat()})
    collection = tmp_path / "coverage.jsonl"
    collection.write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = track(model, collection, tmp_path / "out", progress=False, draws=300)
    page = tmp_path / "out" / "report.html"

    check = render(page.resolve().as_uri() + "#check-sort", tmp_path / "profile")
    images = {image["id"]: image for image in check["images"]}
    assert set(images) == {"shares", "heatmap", "counts", "prevalence"}
    for name, image in images.items():
        assert image["complete"] and image["naturalWidth"] > 100 and image["naturalHeight"] > 100, name
        assert image["width"] > 100 and image["height"] > 100, name  # laid out on the page, not hidden
    tables = {table["id"]: table for table in check["tables"]}
    assert set(tables) == {"overview", "source-0", "source-1", "source-2", "source-3"}
    for name, table in tables.items():
        assert table["visibility"] == "visible" and table["display"] == "table", name
        assert table["width"] > 200 and table["height"] > 40 and table["rows"] >= 2, name
    overview = tables["overview"]
    assert overview["rows"] == 1 + 4 and "Neva News" in overview["text"] and "adjusted" in overview["text"]
    total = next(r for r in result.rows if r["source"] == "(all)" and r["period"] == "(all)")
    assert f"{total['verdicts']['supportive']['share']:.0%}" in overview["text"]
    sort = check["sort"]
    counts = [int(n) for n in sort["before"]]
    assert counts == [9, 4, 4, 1] or sorted(counts, reverse=True) == counts  # report order: largest first
    assert [int(n) for n in sort["down"]] == sorted(counts, reverse=True)
    assert [int(n) for n in sort["up"]] == sorted(counts)
