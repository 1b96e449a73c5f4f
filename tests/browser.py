"""Headless Chromium for the report tests: find it, render a page, read what the page's check script recorded."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
BROWSER = next((path for path in map(shutil.which, BROWSERS) if path), None)
MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(
        BROWSER is None,
        reason="headless Chromium not installed (Debian: apt-get install chromium; .ci/run installs it)",
    ),
]


def render(url: str, profile: Path) -> dict:
    """The JSON a page's load handler wrote into ``<body data-report-check>``, after headless rendering."""
    command = [
        str(BROWSER),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-extensions",
        f"--user-data-dir={profile}",
        "--window-size=1280,2000",
        "--virtual-time-budget=5000",
        "--dump-dom",
        url,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    found = re.search(r'data-report-check="([^"]*)"', result.stdout)
    assert found, "the page's load handler did not run: " + result.stdout[:500]
    return json.loads(html.unescape(found.group(1)))
