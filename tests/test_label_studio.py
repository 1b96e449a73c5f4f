"""The loop against a real Label Studio: tasks from `stance annotate select` go in through its HTTP API, two
annotators label them (one disagreement, skips, one task left alone), the JSON export comes back through
`stance annotate import`, and every row and agreement figure is checked.

Label Studio pins old Django/numpy, so it lives in its own virtualenv, never the project's: ``.ci/run``
creates ``.venv-labelstudio`` (``pip install label-studio==1.23.*``); ``$STANCE_LABEL_STUDIO`` may point at
another ``label-studio`` binary. Without one the test is skipped. The server runs on a free loopback port
with its data in a temporary folder, and is stopped (its whole process group) however the test ends.
Label Studio 1.23 refuses legacy tokens unless the organization allows them: the server is started with
``--enable-legacy-api-token`` so the ``--user-token`` it creates the admin with works.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stance.cli import main
from stance.config import DEFAULT_TARGET

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BINARY = ROOT / ".venv-labelstudio" / "bin" / "label-studio"
TOKEN = "stance0test0token0123456789"
STARTUP_SECONDS = 300

pytestmark = pytest.mark.slow


def _binary() -> Path | None:
    configured = os.environ.get("STANCE_LABEL_STUDIO")
    path = Path(configured).expanduser() if configured else DEFAULT_BINARY
    return path if path.is_file() and os.access(path, os.X_OK) else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    log: Path

    def api(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        url = self.url + path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Token {TOKEN}", "Content-Type": "application/json"}
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path}: HTTP {exc.code}: {exc.read()[:2000]!r}") from exc

    def tail(self) -> str:
        return self.log.read_text("utf-8", errors="replace")[-4000:] if self.log.exists() else ""


@pytest.fixture(scope="module")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    binary = _binary()
    if binary is None:
        pytest.skip(
            f"no label-studio server: set STANCE_LABEL_STUDIO to its binary or create {DEFAULT_BINARY.parent.parent} "
            "(python3 -m venv .venv-labelstudio && .venv-labelstudio/bin/pip install 'label-studio==1.23.*'; "
            ".ci/run does)"
        )
    folder = tmp_path_factory.mktemp("label_studio")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(LABEL_STUDIO_BASE_DATA_DIR=str(folder / "data"), LOG_LEVEL="WARNING", DJANGO_DEBUG="false")
    command = [str(binary), "start", "--no-browser", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--username", "admin@example.com", "--password", "stance-admin-pw", "--user-token", TOKEN]
    command += ["--enable-legacy-api-token"]
    server = Server(f"http://127.0.0.1:{port}", folder / "server.log")
    with server.log.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"label-studio exited with {process.returncode} before answering:\n{server.tail()}")
            try:
                with urllib.request.urlopen(server.url + "/health", timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"label-studio did not answer /health in {STARTUP_SECONDS} s:\n{server.tail()}")
            time.sleep(1)
        yield server
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


POOL = [
    ("Russia will deliver four Mi-35M helicopters to Pakistan this year", "art1", 0),
    ("Moscow will not sell defence equipment to Islamabad.", "art1", 1),
    ("The two countries held joint drills in the mountains.", "art1", 2),
    ("Analysts said reports of the deal were fake news.", "art2", 0),
    ("Pakistan signed a contract for Russian RD-93 engines.", "art2", 1),
    ("The weather in Islamabad was mild on Tuesday.", "art3", 0),
]


def _choice(label: str) -> list[dict[str, Any]]:
    return [{"from_name": "stance", "to_name": "text", "type": "choices", "value": {"choices": [label]}}]


def test_select_label_studio_annotate_export_import(label_studio: Server, tiny_model_dir, tmp_path, capsys):
    started = time.monotonic()
    pool = tmp_path / "pool.jsonl"
    rows = [
        {"id": f"p{i}", "text": t, "article_id": a, "position": k, "source": "Wire"} for i, (t, a, k) in enumerate(POOL)
    ]
    pool.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    tasks_file, config_file = tmp_path / "tasks.json", tmp_path / "config.xml"
    select = ["annotate", "select", str(tiny_model_dir), "--pool", str(pool), "--n", "6", "--output", str(tasks_file)]
    assert main([*select, "--format", "label-studio"]) == 0
    assert main(["annotate", "config", "--output", str(config_file)]) == 0
    tasks = json.loads(tasks_file.read_text("utf-8"))

    server = label_studio
    project = server.api("POST", "/api/projects", {"title": "stance loop", "label_config": config_file.read_text()})
    second = server.api("POST", "/api/users/", {"email": "annotator2@example.com", "username": "annotator2"})["id"]
    first = server.api("GET", "/api/current-user/whoami")["id"]
    imported = server.api("POST", f"/api/projects/{project['id']}/import", tasks)  # the file as it is
    assert imported["task_count"] == 6 and imported["prediction_count"] == 6
    listed = server.api("GET", "/api/tasks", project=project["id"], page_size=100)["tasks"]
    ids = {task["data"]["id"]: task["id"] for task in listed}
    order = [task["data"]["id"] for task in tasks]  # the selection's order: uncertainty first
    plan = {  # data id -> (first annotator's label or "skip", second's), None: not annotated
        order[0]: ("supportive", "supportive"),
        order[1]: ("denying", "neutral"),  # the disagreement: a tie, so a conflict
        order[2]: ("skip", "neutral"),
        order[3]: ("denying", "denying"),
        order[4]: ("skip", None),  # skipped by everyone who saw it
    }  # order[5]: nobody
    for data_id, votes in plan.items():
        for who, label in zip((first, second), votes):
            if label is None:
                continue
            body = {"completed_by": who, "result": [] if label == "skip" else _choice(label)}
            body["was_cancelled"] = label == "skip"
            server.api("POST", f"/api/tasks/{ids[data_id]}/annotations", body)
    export = server.api("GET", f"/api/projects/{project['id']}/export", exportType="JSON", download_all_tasks="true")
    export_file = tmp_path / "export.json"
    export_file.write_text(json.dumps(export), "utf-8")
    out, report, conflicts = tmp_path / "labelled.jsonl", tmp_path / "report.json", tmp_path / "conflicts.jsonl"
    capsys.readouterr()
    args = ["annotate", "import", str(export_file), "--output", str(out), "--report", str(report)]
    assert main([*args, "--conflicts", str(conflicts)]) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out

    by_id = {row["id"]: row for row in rows}
    labelled = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    a, b = str(first), str(second)
    assert {r["id"]: (r["label"], r["annotators"], r["votes"]) for r in labelled} == {
        order[0]: ("supportive", [a, b], 2),
        order[2]: ("neutral", [b], 1),
        order[3]: ("denying", [a, b], 2),
    }
    for row in labelled:
        source = by_id[row["id"]]
        assert (row["text"], row["target"], row["article_id"], row["source"]) == (
            source["text"], DEFAULT_TARGET, source["article_id"], "Wire"
        )  # fmt: skip
        assert row["position"] == source["position"]
    assert [json.loads(line)["id"] for line in conflicts.read_text().splitlines()] == [order[1]]
    figures = json.loads(report.read_text("utf-8"))
    assert (figures["tasks"], figures["labelled"], figures["skipped"], figures["unannotated"]) == (6, 3, 1, 1)
    assert (figures["cancelled"], figures["annotations"]) == (2, 7)
    agreement = figures["agreement"]  # tasks 0, 1, 3: (S,S) (D,N) (D,D)
    assert (agreement["tasks"], agreement["votes"], agreement["observed"]) == (3, 6, pytest.approx(2 / 3, abs=1e-4))
    assert agreement["fleiss_kappa"] == pytest.approx((2 / 3 - 14 / 36) / (1 - 14 / 36), abs=1e-4)
    assert agreement["krippendorff_alpha"] == pytest.approx(1 - 5 * 2 / 22, abs=1e-4)
    assert agreement["pairs"][0]["cohen_kappa"] == pytest.approx(0.5, abs=1e-4)
    assert "1 conflict(s)" in printed and "1 skipped, 1 not annotated" in printed
    assert main(["data", "validate", str(out)]) == 0
    print(f"label studio round trip: {time.monotonic() - started:.1f} s after the server was up")
