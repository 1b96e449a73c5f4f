"""`stance predict --engine ray`: a local Ray (2 CPUs) and the tiny model; the same answers as the local engine.

Skipped, with the reason, where Ray Data is not installed (``pip install 'stance[ray]'``); the sizing and
pre-flight checks need no running Ray, the `slow` ones start a local instance (seconds) per test.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from stance.cli import main
from stance.errors import StanceError
from stance.labels import LABELS

try:
    import ray
    import ray.data  # noqa: F401
except ImportError:
    ray = None

needs_ray = pytest.mark.skipif(ray is None, reason="ray[data] is not installed: pip install 'stance[ray]'")
ROOT = Path(__file__).resolve().parents[1]
ROWS = 2000


def _write_rows(path: Path, n: int = ROWS) -> Path:
    """``n`` rows cycling the corpus: ids kept, every third with its own target, a few empty texts."""
    corpus = [
        json.loads(line) for name in ("train", "dev", "test") for line in (ROOT / "data" / f"{name}.jsonl").open()
    ]
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            source = corpus[i % len(corpus)]
            row = {"id": f"r{i:05d}", "text": source["text"] if i % 500 != 7 else "   "}
            if i % 3 == 0:
                row["target"] = source["target"]
            out.write(json.dumps(row) + "\n")
    return path


@pytest.fixture(scope="module")
def rows_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_rows(tmp_path_factory.mktemp("ray_in") / "rows.jsonl")


@pytest.fixture(scope="module")
def local_answers(tiny_model_dir: Path, rows_file: Path) -> list[dict]:
    """The local engine's output for :func:`rows_file`."""
    from stance import StanceClassifier
    from stance.inference.files import classify_file

    out = rows_file.with_name("local.jsonl")
    classify_file(StanceClassifier.from_pretrained(tiny_model_dir), rows_file, out, progress=False)
    return [json.loads(line) for line in out.read_text().splitlines()]


def _same_answers(got: list[dict], expected: list[dict]) -> None:
    assert [r["id"] for r in got] == [r["id"] for r in expected]  # every row once, in input order
    assert [r["label"] for r in got] == [r["label"] for r in expected]
    for a, b in zip(got, expected):
        assert a["target"] == b["target"] and a["text"] == b["text"]
        assert max(abs(a["scores"][k] - b["scores"][k]) for k in LABELS) <= 1e-5, a["id"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------------- no Ray running at all


def test_without_ray_one_message_says_how_to_install(tiny_model_dir, rows_file, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails as if it were not installed
    assert main(["predict", str(tiny_model_dir), "--input", str(rows_file), "--engine", "ray"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    hint = "install it with: pip install 'stance[ray]' (or pip install 'ray[data]')"
    assert err == [f"stance predict: error: --engine ray needs Ray Data, which is not installed; {hint}"]


def test_pool_leaves_room_for_reads_and_caps_workers():
    from stance.inference.cluster import READ_CPUS, READ_RESERVE, plan_pool

    pool = plan_pool(2)  # the deadlock case: two 1-CPU actors would leave reads no CPU
    assert (pool.workers, pool.cpus, pool.threads, pool.notes) == (2, 0.75, 1, [])
    assert pool.workers * pool.cpus + 2 * READ_CPUS <= 2 and READ_RESERVE >= 2 * READ_CPUS
    capped = plan_pool(2, workers=5)
    assert capped.workers == 2 and capped.notes == ["--workers 5 capped to 2: the cluster has 2 CPU(s)"]
    assert plan_pool(2, cpus_per_worker=1).workers == 1
    assert (plan_pool(16, cpus_per_worker=4).workers, plan_pool(16, cpus_per_worker=4).threads) == (3, 4)
    with pytest.raises(StanceError, match="--cpus-per-worker 2 does not fit: the cluster has 2 CPU"):
        plan_pool(2, cpus_per_worker=2)
    gpu = plan_pool(16, 2, gpus_per_worker=1)
    assert (gpu.workers, gpu.cpus, gpu.gpus) == (2, 1.0, 1)
    assert "capped to 2: the cluster has 2 GPU(s)" in plan_pool(16, 2, workers=4, gpus_per_worker=1).notes[0]
    with pytest.raises(StanceError, match="the Ray cluster has 0 GPU"):
        plan_pool(4, 0, gpus_per_worker=1)


def test_inputs_globs_and_formats(tmp_path):
    from stance.inference.distributed import expand_inputs

    for name in ("b.jsonl", "a.jsonl", "c.csv"):
        (tmp_path / name).write_text('{"text": "x"}\n')
    assert [p.name for p in expand_inputs([str(tmp_path / "*.jsonl")])] == ["a.jsonl", "b.jsonl"]
    with pytest.raises(StanceError, match=r"no file matches this pattern"):
        expand_inputs([str(tmp_path / "*.parquet")])
    with pytest.raises(StanceError, match=r"the inputs mix formats \(csv, jsonl\)"):
        expand_inputs([str(tmp_path / "*")])
    with pytest.raises(StanceError, match="input file not found"):
        expand_inputs([str(tmp_path / "missing.jsonl")])


@pytest.mark.parametrize(
    "options, describes",
    [
        ({}, "float32"),
        ({"bf16": True, "backend": "torch"}, "bfloat16"),  # torch pinned: auto means OpenVINO on a bf16 CPU
        ({"quantize": True}, "int8 (encoder)"),
        ({"backend": "onnx"}, ""),
    ],
)
def test_actor_builds_the_local_engines_backend_and_scores_like_it(
    tiny_model_dir, tmp_path, monkeypatch, options, describes
):
    """The pool actor, run in this process: the same from_pretrained options, the same probabilities."""
    import numpy as np
    import torch

    from stance import StanceClassifier
    from stance.inference.actors import RayClassify

    if options.get("backend") == "onnx":
        pytest.importorskip("onnxruntime", reason="the ONNX backend is an optional extra: pip install 'stance[onnx]'")
        pytest.importorskip("onnxscript", reason="exporting to ONNX needs onnxscript: pip install 'stance[onnx]'")
        monkeypatch.setenv("STANCE_HOME", str(tmp_path))  # never into ~/.cache
    threads = torch.get_num_threads()
    try:
        actor = RayClassify(str(tiny_model_dir), {"batch_size": 8, **options}, None, 1, 0.0)
    finally:
        torch.set_num_threads(threads)
    local = StanceClassifier.from_pretrained(tiny_model_dir, batch_size=8, **options)
    backend = actor.classifier.scorer.backend
    assert backend.name == local.scorer.backend.name and backend.describe().startswith(describes)
    texts = ["Moscow will sell tanks to Pakistan.", "", "Talks went on.", "No deal, officials said."]
    targets = [None, None, "Pakistan buys Russian engines.", None]
    column = np.array
    batch = {
        "file": column([0] * 4),
        "ordinal": column(range(4)),
        "id": column(list("abcd"), dtype=object),
        "loc": column(["1", "2", "3", "4"], dtype=object),
        "text": column(texts, dtype=object),
        "target": column(targets, dtype=object),
    }
    out = actor(batch)
    assert list(out["id"]) == list("abcd") and set(out["pid"]) == {os.getpid()}
    assert list(out["target"]) == [local.default_target, "", targets[2], local.default_target]
    kept = [0, 2, 3]
    expected = local.predict_proba([texts[i] for i in kept], [targets[i] for i in kept])
    got = np.stack([out[f"p{k}"] for k in range(len(LABELS))], axis=1)
    assert np.isnan(got[1]).all() and np.abs(got[kept] - expected).max() <= 1e-5


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_output_appears_only_when_complete(tmp_path, fmt):
    from stance.inference.classifier import Prediction
    from stance.inference.files import InputRow
    from stance.inference.outputs import staged

    out = tmp_path / f"out.{fmt}"
    out.write_text("the previous run\n")
    prediction = Prediction("neutral", dict.fromkeys(LABELS, 1 / 3))
    with pytest.raises(RuntimeError), staged(out, fmt) as sink:
        sink.write(InputRow("1", "text", None, "f:1"), "claim", prediction)
        raise RuntimeError("the job failed half way")
    assert out.read_text() == "the previous run\n" and [p.name for p in tmp_path.iterdir()] == [out.name]
    with staged(out, fmt) as sink:
        sink.write(InputRow("1", "text", None, "f:1"), "claim", prediction)
    assert out.stat().st_size and [p.name for p in tmp_path.iterdir()] == [out.name]


def _read_parts(folder: Path, fmt: str) -> list[list[dict]]:
    """Each part's rows, parts in name order, as dicts with id, text, label and scores."""
    import csv

    import pyarrow.parquet as pq

    parts = []
    for path in sorted(folder.iterdir()):
        if fmt == "jsonl":
            rows = [json.loads(line) for line in path.read_text().splitlines()]
        elif fmt == "csv":
            with path.open(newline="") as handle:
                rows = [{**r, "scores": {k: float(r[f"score_{k}"]) for k in LABELS}} for r in csv.DictReader(handle)]
        else:
            rows = [{**r, "scores": {k: r[f"score_{k}"] for k in LABELS}} for r in pq.read_table(path).to_pylist()]
        parts.append(rows)
    return parts


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_a_folder_of_parts_holds_each_row_once_in_order_and_appears_only_when_complete(tmp_path, fmt):
    from stance.inference.classifier import Prediction
    from stance.inference.files import InputRow
    from stance.inference.outputs import check_output, is_folder, output_format, staged

    out = tmp_path / f"preds.{fmt}"
    assert is_folder(f"{out}/") and not is_folder(out) and output_format(f"{out}/", None) == fmt
    prediction = Prediction("neutral", dict.fromkeys(LABELS, 1 / 3))

    def write(sink, n: int) -> None:
        for i in range(n):
            sink.write(InputRow(f"r{i:02d}", f"text {i}", None, f"f:{i + 1}"), "claim", prediction)

    destination = check_output(f"{out}/", overwrite=False)
    with pytest.raises(RuntimeError), staged(destination, fmt, folder=True, part_rows=3) as sink:
        write(sink, 5)
        raise RuntimeError("the job failed half way")
    assert list(tmp_path.iterdir()) == []  # no folder, no hidden partial one
    with staged(destination, fmt, folder=True, part_rows=3) as sink:
        write(sink, 7)
    assert [p.name for p in tmp_path.iterdir()] == [out.name]
    parts = _read_parts(out, fmt)
    assert [p.name for p in sorted(out.iterdir())] == [f"part-0000{k}.{fmt}" for k in range(3)]
    assert [len(rows) for rows in parts] == [3, 3, 1]  # contiguous runs, no empty part
    assert [r["id"] for rows in parts for r in rows] == [f"r{i:02d}" for i in range(7)]  # each once, in order
    with pytest.raises(StanceError, match="the output folder exists; pass --overwrite to replace it"):
        check_output(f"{out}/", overwrite=False)
    with pytest.raises(StanceError, match="the output folder exists"):
        check_output(out, overwrite=False)  # an existing folder is a folder output, slash or not
    with staged(check_output(f"{out}/", overwrite=True), fmt, folder=True, part_rows=10) as sink:
        write(sink, 4)
    assert [len(rows) for rows in _read_parts(out, fmt)] == [4] and [p.name for p in tmp_path.iterdir()] == [out.name]
    (out / "notes.txt").write_text("mine")
    with pytest.raises(StanceError, match=r"holds files that are not parts \(notes.txt\)"):
        check_output(f"{out}/", overwrite=True)  # --overwrite never empties a folder of other files
    with pytest.raises(StanceError, match="is a file, not a folder"):
        check_output(f"{out / 'notes.txt'}/", overwrite=True)


# --------------------------------------------------------------------- refused before Ray starts (fast)


def _error(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith("stance predict: error: ")
    return "\n".join(lines).removeprefix("stance predict: error: ")


@needs_ray
@pytest.mark.parametrize(
    "name, content, message",
    [
        ("bytes.jsonl", b'{"text": "ok"}\n{"text": "caf\xe9"}\n', r"bytes.jsonl:2: row: bytes that are not UTF-8"),
        ("json.jsonl", b'{"text": "ok"}\n{"text": oops}\n', r"json.jsonl:2: row: invalid JSON"),
        ("missing.jsonl", b'{"text": "ok"}\n{"body": "no text"}\n', r"missing.jsonl:2: text: missing field"),
        ("table.parquet", None, r"table.parquet:row 2: text: expected text, got 7"),
    ],
)
def test_bad_row_stops_with_the_local_engines_message(tiny_model_dir, tmp_path, capsys, name, content, message):
    source = tmp_path / name
    if content is None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({"text": pa.array([None, 7], pa.int64())}), source)  # row 1: empty, row 2: a number
    else:
        source.write_bytes(content)
    out = tmp_path / "out.jsonl"
    base = ["predict", str(tiny_model_dir), "--input", str(source), "-o", str(out), "--no-progress"]
    assert main(base) == 2
    local = _error(capsys)
    started = time.perf_counter()
    assert main([*base, "--engine", "ray"]) == 2
    assert _error(capsys) == local  # the same one reader, the same words
    assert re.search(message, local), local
    assert not out.exists() and list(tmp_path.iterdir()) == [source]  # nothing committed, no partial file
    assert not ray.is_initialized() and time.perf_counter() - started < 60


@needs_ray
def test_refusals_name_the_problem(tiny_model_dir, rows_file, tmp_path, capsys):
    base = ["predict", str(tiny_model_dir), "--input", str(rows_file), "--engine", "ray", "--no-progress"]
    exists = tmp_path / "exists.jsonl"
    exists.write_text("keep me\n")
    assert main([*base, "-o", str(exists)]) == 2
    assert _error(capsys) == f"{exists}: the output exists; pass --overwrite to replace it"
    assert exists.read_text() == "keep me\n"
    assert main([*base, "-o", str(tmp_path) + "/"]) == 2
    assert _error(capsys) == f"{tmp_path}: the output folder exists; pass --overwrite to replace it"
    assert main([*base, "-o", str(tmp_path) + "/", "--overwrite"]) == 2
    assert "holds files that are not parts (exists.jsonl); --overwrite replaces only a folder of parts" in _error(
        capsys
    )
    assert main([*base, "-o", str(tmp_path / "new") + "/", "--part-rows", "0"]) == 2
    assert _error(capsys) == "--part-rows must be at least 1, got 0"
    assert main([*base, "-o", str(tmp_path / "one.jsonl"), "--part-rows", "10"]) == 2
    assert _error(capsys).startswith("--part-rows: only for a folder of parts (an --output ending with /)")
    started = time.perf_counter()
    address = f"127.0.0.1:{_free_port()}"  # nothing listens there
    assert main([*base, "-o", str(tmp_path / "o.jsonl"), "--address", address]) == 2
    assert _error(capsys).startswith(f"--address {address}: no Ray cluster answers at {address} within 5 s")
    assert time.perf_counter() - started < 30
    assert main(["predict", str(tiny_model_dir), "--input", str(rows_file), "--workers", "2"]) == 2
    assert _error(capsys) == "--workers: only with --engine ray"
    assert main(["predict", str(tiny_model_dir), "--input", str(rows_file), "--part-rows", "5"]) == 2
    assert _error(capsys) == "--part-rows: only with --engine ray"
    assert main([*base[:3], str(tmp_path / "none*.csv"), *base[4:]]) == 2
    assert _error(capsys) == f"{tmp_path / 'none*.csv'}: no file matches this pattern"


# ------------------------------------------------------------------------------- real Ray runs (slow)


@needs_ray
@pytest.mark.slow
def test_two_cpus_default_pool_completes_with_the_local_engines_answers(
    tiny_model_dir, rows_file, local_answers, tmp_path
):
    from stance.inference.distributed import classify_files_ray

    out = tmp_path / "ray.jsonl"
    summary = classify_files_ray(tiny_model_dir, [rows_file], out, num_cpus=2, progress=False)
    assert (summary.pool.workers, summary.pool.cpus) == (2, 0.75)  # reads keep 0.5 CPU: no deadlock
    assert (summary.classified, summary.empty, summary.duplicates) == (ROWS - 4, 4, 0)
    assert summary.empty_where[0] == f"{rows_file}:8"
    _same_answers([json.loads(line) for line in out.read_text().splitlines()], local_answers)
    assert not ray.is_initialized()  # the local instance started for the run was shut down
    assert [p.name for p in tmp_path.iterdir()] == ["ray.jsonl"]


@needs_ray
@pytest.mark.slow
def test_a_killed_worker_is_restarted_and_every_row_comes_once(tiny_model_dir, rows_file, local_answers, tmp_path):
    import pyarrow.parquet as pq

    from stance.inference.distributed import classify_files_ray

    killed: list[int] = []

    def kill_first_worker(done: int, pids: set[int]) -> None:
        if not killed:  # one worker only: the job can finish only if Ray restarts it and retries its batches
            killed.append(next(iter(pids)))
            os.kill(killed[0], signal.SIGKILL)

    out = tmp_path / "ray.parquet"
    options = {"workers": 1, "chunk_size": 64, "num_cpus": 2, "progress": False}
    summary = classify_files_ray(tiny_model_dir, [rows_file], out, on_batch=kill_first_worker, **options)
    assert killed and summary.workers_seen == 2  # the killed process, then its restart
    table = pq.read_table(out).to_pylist()
    got = [{**r, "scores": {k: r[f"score_{k}"] for k in LABELS}} for r in table]
    _same_answers(got, local_answers)


@needs_ray
@pytest.mark.slow
def test_cli_glob_of_csv_files_in_input_order(tiny_model_dir, tmp_path, capsys):
    texts = ["Russia will deliver helicopters to Pakistan.", "Moscow denied any arms deal.", "Talks went on."]
    for part in ("2", "1"):
        rows = "".join(f"{part}-{i},{texts[i]}\n" for i in range(3))
        (tmp_path / f"part{part}.csv").write_text("id,text\n" + rows + ("\n" if part == "1" else ""))
    out = tmp_path / "out.csv"
    argv = ["predict", str(tiny_model_dir), "--input", str(tmp_path / "part*.csv"), "-o", str(out), "--no-progress"]
    assert main([*argv, "--engine", "ray", "--workers", "5"]) == 0
    err = capsys.readouterr().err
    assert "--workers 5 capped to" in err and "classified 6 text(s)" in err
    lines = out.read_text().splitlines()
    assert lines[0].startswith("id,text,target,label,score_")
    assert [line.split(",")[0] for line in lines[1:]] == ["1-0", "1-1", "1-2", "2-0", "2-1", "2-2"]
    local = tmp_path / "local.csv"
    assert main([*argv[:3], str(tmp_path / "part1.csv"), "-o", str(local), "--format", "csv", "--no-progress"]) == 0
    assert out.read_text().splitlines()[1:4] == local.read_text().splitlines()[1:4]  # byte for byte, scores too


@needs_ray
@pytest.mark.slow
def test_a_folder_of_parquet_parts_from_ray_and_nothing_left_by_a_failed_run(
    tiny_model_dir, rows_file, local_answers, tmp_path
):
    """One local Ray (2 CPUs) for two jobs: parts of 300 rows hold the local engine's answers once each, in
    order; a job that fails half way leaves no folder and no hidden one."""
    from stance.inference.distributed import classify_files_ray

    out = tmp_path / "preds"
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    try:
        options = {"chunk_size": 128, "progress": False}
        summary = classify_files_ray(tiny_model_dir, [rows_file], f"{out}/", fmt="parquet", part_rows=300, **options)
        assert (summary.pool.workers, summary.pool.cpus) == (2, 0.75) and summary.classified == ROWS - 4
        assert summary.output == f"{out}{os.sep} (7 part(s))"
        parts = _read_parts(out, "parquet")
        assert [len(rows) for rows in parts] == [300] * 6 + [ROWS - 4 - 1800]
        _same_answers([row for rows in parts for row in rows], local_answers)

        def fail(done: int, pids: set[int]) -> None:
            raise RuntimeError("the job failed half way")

        with pytest.raises(RuntimeError, match="half way"):
            classify_files_ray(tiny_model_dir, [rows_file], f"{tmp_path / 'failed'}/", on_batch=fail, **options)
        assert [p.name for p in tmp_path.iterdir()] == ["preds"]
    finally:
        ray.shutdown()
