"""``stance predict --input ... --engine ray``: the local engine's classification, spread over Ray actors.

The same rows, scorer and output as :mod:`stance.inference.files`, in this order:

1. every matched file is validated on the driver with :func:`~stance.inference.files.scan_input` (the one
   reader), so a bad row stops the run before Ray starts, with the same ``file:line`` message;
2. Ray Data reads the files (one read task per file, through the same reader, so ids and line numbers are
   the local engine's) and tags each row with a ``(file index, row ordinal)`` key;
3. a fixed pool of actors (:class:`RayClassify`: the model loaded once per actor with the same
   ``from_pretrained`` options, float32/bf16/int8 or ONNX) scores the rows in batches; a killed actor is
   restarted and its batches retried (:data:`RESTARTS`);
4. the driver puts the rows back in key order, drops any duplicate a retry delivered, checks every key came
   exactly once and writes ONE file (JSONL or CSV exactly as the local engine, or Parquet) to a temporary
   name beside the output, renamed only when complete.

The pool leaves :data:`READ_RESERVE` CPUs for read tasks (each asks :data:`READ_CPUS`): a pool holding every
CPU would starve the reads and deadlock (:func:`plan_pool`). Ray is an optional extra (``stance[ray]``).
"""

from __future__ import annotations

import contextlib
import glob
import logging
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data.formats import file_format
from ..errors import StanceError
from ..labels import LABELS
from .cluster import (
    READ_CPUS,
    Pool,
    RayClassify,
    check_address,
    input_source,
    ordered_quiet_data,
    plan_pool,
    ray_session,
    read_args,
    remote_stance_error,
    require_ray,
)
from .files import INPUT_FORMATS, Columns, InputRow, RowWriter, Summary, scan_input

logger = logging.getLogger(__name__)

OUTPUT_FORMATS = ("jsonl", "csv", "parquet")
RESTARTS = 3  # per actor, and retries per batch, after a worker process dies
PARQUET_ROWS = 8192  # rows per Parquet row group written
SUFFIX_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}


@dataclass(frozen=True)
class ModelOptions:
    """What each actor passes to :meth:`StanceClassifier.from_pretrained` (the local engine's options)."""

    quantize: bool | str = False
    bf16: bool = False
    backend: str = "torch"
    batch_size: int = 64
    max_length: int | None = None


@dataclass
class RaySummary(Summary):
    """The local engine's summary, plus how the Ray run went."""

    pool: Pool | None = None
    workers_seen: int = 0  # distinct worker processes that returned rows (a restarted actor counts again)
    duplicates: int = 0  # rows a retried batch delivered twice (dropped)
    startup_s: float = 0.0  # connecting to (or starting) Ray
    first_rows_s: float = 0.0  # from submitting the job to the first classified rows (actors load the model)
    seconds: float = 0.0  # the whole run, start-up included

    def describe(self) -> str:
        pool = self.pool.describe() if self.pool else "no pool"
        return super().describe() + f"; ray: {pool}, start-up {self.startup_s:.1f} s, {self.seconds:.1f} s in all"


def expand_inputs(patterns: Sequence[str | Path]) -> list[Path]:
    """Files named or matched by glob patterns (sorted per pattern, each once), all of one input format."""
    paths: list[Path] = []
    for pattern in map(str, patterns):
        if glob.has_magic(pattern):
            matched = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
            if not matched:
                raise StanceError(f"{pattern}: no file matches this pattern")
        else:
            if not Path(pattern).is_file():
                raise StanceError(f"{pattern}: input file not found")
            matched = [Path(pattern)]
        paths.extend(p for p in matched if p not in paths)
    formats = {file_format(p, INPUT_FORMATS) for p in paths}
    if len(formats) > 1:
        shown = ", ".join(f"{p.name} ({file_format(p)})" for p in paths[:6])
        raise StanceError(
            f"the inputs mix formats ({', '.join(sorted(formats))}): {shown}; pass files of one format per run"
        )
    return paths


def output_format(output: str | Path | None, fmt: str | None) -> str:
    """``fmt``, else the output's suffix (.parquet, .csv; otherwise JSON Lines)."""
    chosen = fmt or SUFFIX_FORMATS.get(Path(str(output or "")).suffix.lower(), "jsonl")
    if chosen not in OUTPUT_FORMATS:
        raise StanceError(f"--engine ray writes {', '.join(OUTPUT_FORMATS)}; got --format {chosen}")
    if chosen == "parquet" and output in (None, "-"):
        raise StanceError("Parquet output needs a file: pass --output FILE.parquet")
    return chosen


def check_output(output: str | Path | None, overwrite: bool) -> Path | None:
    """The output file, refused when it exists (unless ``overwrite``), is a folder or has no folder."""
    if output is None or str(output) == "-":
        return None
    path = Path(output)
    if str(output).endswith(("/", os.sep)) or path.is_dir():
        raise StanceError(f"{output}: is a folder; --engine ray writes one file, e.g. {path / 'predictions.jsonl'}")
    if not path.parent.is_dir():
        raise StanceError(f"{path}: the output folder {path.parent} does not exist")
    if path.exists() and not overwrite:
        raise StanceError(f"{path}: the output exists; pass --overwrite to replace it")
    return path


class _Sink:
    """The output: JSONL/CSV through the local engine's :class:`RowWriter`, or Parquet row groups."""

    def __init__(self, handle: Any, path: Path | None, fmt: str) -> None:
        self.fmt, self.rows = fmt, []
        if fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            names = ["id", "text", "target", "label", *(f"score_{label}" for label in LABELS)]
            kinds = [pa.string()] * 4 + [pa.float64()] * len(LABELS)
            self.schema = pa.schema(list(zip(names, kinds)))
            self.parquet = pq.ParquetWriter(str(path), self.schema)
        else:
            self.writer = RowWriter(handle, fmt)

    def write(self, row: InputRow, target: str, prediction: Any) -> None:
        if self.fmt != "parquet":
            self.writer.write(row, target, prediction)
            return
        self.rows.append([row.id, row.text, target, prediction.label, *(prediction.scores[x] for x in LABELS)])
        if len(self.rows) >= PARQUET_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.fmt == "parquet" and self.rows:
            import pyarrow as pa

            self.parquet.write_table(pa.Table.from_pylist([dict(zip(self.schema.names, r)) for r in self.rows]))
            self.rows = []

    def close(self) -> None:
        self.flush()
        if self.fmt == "parquet":
            self.parquet.close()


@contextlib.contextmanager
def _staged(path: Path | None, fmt: str) -> Iterator[_Sink]:
    """A sink on stdout, or on a hidden ``.NAME.PID.partial`` file beside ``path``, renamed onto it only after
    success (and removed after a failure)."""
    if path is None:
        yield _Sink(sys.stdout, None, fmt)
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    handle = None if fmt == "parquet" else open(tmp, "w", encoding="utf-8", newline="")
    try:
        sink = _Sink(handle, tmp, fmt)
        try:
            yield sink
        finally:
            sink.close()
            if handle is not None:
                handle.close()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _model_target(model: str) -> str | None:
    """The model's stored default target, from its ``config.json`` (the weights stay unread here)."""
    from ..modeling.loading import TARGET_ATTRIBUTE, label_columns, read_hf_config

    config = read_hf_config(model)
    label_columns(config, model)  # a model whose labels do not map onto ours fails here, not in every actor
    return getattr(config, TARGET_ATTRIBUTE, None)


def classify_files_ray(
    model: str | Path,
    inputs: Sequence[str | Path],
    output: str | Path | None = None,
    *,
    fmt: str | None = None,
    target: str | None = None,
    columns: Columns | None = None,
    options: ModelOptions = ModelOptions(),
    address: str | None = None,
    workers: int | None = None,
    cpus_per_worker: float | None = None,
    gpus_per_worker: float = 0.0,
    overwrite: bool = False,
    num_cpus: int | None = None,
    chunk_size: int = 2048,
    progress: bool | None = None,
    on_batch: Callable[[int, set[int]], None] | None = None,
) -> RaySummary:
    """Classify the rows of ``inputs`` (files or globs) on Ray and write them in input order (module doc).

    ``num_cpus`` sizes a local instance started here; ``on_batch(rows so far, worker pids)`` is called as
    results arrive. Each actor call gets up to ``chunk_size`` rows (fewer, so every worker gets several).
    """
    from tqdm.auto import tqdm

    from ..logs import progress_enabled
    from .classifier import to_predictions

    started = time.perf_counter()
    require_ray()  # before anything else: the one message saying how to install it
    columns = columns or Columns()
    paths = expand_inputs(inputs)
    fmt = output_format(output, fmt)
    destination = check_output(output, overwrite)
    if address is not None:
        check_address(address)  # an unreachable cluster is said in seconds, before the files are scanned
    model = str(model)
    default_target = _model_target(model)
    if gpus_per_worker and (options.quantize or options.backend == "onnx"):
        raise StanceError("--quantize and --onnx run on CPUs; drop them or --gpus-per-worker (GPUs: float32 or --bf16)")
    if options.backend == "onnx":
        from .onnx import require_onnxruntime

        require_onnxruntime()
    needs_target = target is None and not default_target
    counts = [scan_input(path, columns, needs_target) for path in paths]  # every bad row, before Ray starts
    total = sum(counts)
    if not total:
        raise StanceError(f"{paths[0] if len(paths) == 1 else inputs[0]}: nothing to classify (0 row(s))")
    summary = RaySummary(output=str(destination or "stdout"))
    joining = time.perf_counter()
    with ray_session(address, num_cpus) as ray, ordered_quiet_data(ray):
        summary.startup_s = time.perf_counter() - joining
        resources = ray.cluster_resources()
        pool = plan_pool(
            resources.get("CPU", 0.0), resources.get("GPU", 0.0), workers, cpus_per_worker, gpus_per_worker
        )
        for note in pool.notes:
            logger.warning("note: %s", note)
        summary.pool = pool
        per_call = max(options.batch_size, min(chunk_size, math.ceil(total / (pool.workers * 4))))
        logger.info(
            "ray: %d row(s) in %d file(s) on %s, %d row(s) per call", total, len(paths), pool.describe(), per_call
        )
        try:
            with warnings.catch_warnings():  # Ray 2.60 deprecates remote arguments as keywords; none replace these
                warnings.filterwarnings("ignore", "`ray_remote_args` is deprecated", DeprecationWarning)
                dataset = ray.data.read_datasource(input_source(paths, columns), **read_args(ray, READ_CPUS))
                dataset = dataset.map_batches(
                    RayClassify,
                    fn_constructor_args=(model, asdict(options), target, pool.threads, pool.gpus),
                    batch_size=per_call,
                    batch_format="numpy",
                    compute=ray.data.ActorPoolStrategy(size=pool.workers),
                    num_cpus=pool.cpus,
                    num_gpus=pool.gpus or None,
                    max_restarts=RESTARTS,  # bounded: a batch that kills its worker every time ends the job
                    max_task_retries=RESTARTS,
                )
            show = progress_enabled() if progress is None else progress
            submitted = time.perf_counter()
            with (
                _staged(destination, fmt) as sink,
                tqdm(total=total, unit="text", disable=not show, file=sys.stderr, desc="classifying") as bar,
            ):
                order = _Order(counts)
                for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                    if not summary.first_rows_s:
                        summary.first_rows_s = time.perf_counter() - submitted
                    pids = set(batch["pid"].tolist())
                    order.workers |= pids
                    for rows, i in order.accept(batch):  # this batch's rows, or earlier ones it frees
                        _emit(rows, i, paths, sink, summary, to_predictions)
                    bar.update(len(batch["pid"]))
                    if on_batch is not None:
                        on_batch(order.done, pids)
                order.check()
                if not summary.classified:
                    raise StanceError(f"{paths[0]}: nothing to classify ({summary.empty} empty row(s))")
        except StanceError:
            raise
        except Exception as exc:
            found = remote_stance_error(exc)
            if found is None:
                raise
            raise found from exc
    summary.workers_seen, summary.duplicates = len(order.workers), order.duplicates
    summary.seconds = time.perf_counter() - started
    return summary


def _emit(
    batch: dict[str, np.ndarray], i: int, paths: list[Path], sink: _Sink, summary: RaySummary, predict: Any
) -> None:
    where = f"{paths[int(batch['file'][i])]}:{batch['loc'][i]}"
    if not batch["text"][i]:
        summary.skip(where)
        return
    if "predictions" not in batch:  # once per batch: the local engine's Prediction (rounded scores)
        batch["predictions"] = predict(np.stack([batch[f"p{k}"] for k in range(len(LABELS))], axis=1))
    row = InputRow(str(batch["id"][i]), str(batch["text"][i]), None, where)
    sink.write(row, str(batch["target"][i]), batch["predictions"][i])
    summary.classified += 1
    summary.truncated += int(batch["truncated"][i])
    summary.max_length = int(batch["limit"][i])


class _Order:
    """Rows back in ``(file, ordinal)`` order, each key once: ``counts[f]`` rows are expected of file ``f``."""

    def __init__(self, counts: list[int]) -> None:
        self.counts, self.file, self.ordinal = counts, 0, 0
        self.held: dict[tuple[int, int], tuple[dict[str, np.ndarray], int]] = {}
        self.done = self.duplicates = 0
        self.workers: set[int] = set()
        self._next_file()

    def _next_file(self) -> None:
        while self.file < len(self.counts) and self.ordinal >= self.counts[self.file]:
            self.file, self.ordinal = self.file + 1, 0

    def accept(self, batch: dict[str, np.ndarray]) -> list[tuple[dict[str, np.ndarray], int]]:
        """The rows to write now, in order: this batch's next ones and any held rows they free; rows that
        come early are held, rows seen before (a retried batch) dropped."""
        ready = []
        for i, key in enumerate(zip(batch["file"].tolist(), batch["ordinal"].tolist())):
            if key < (self.file, self.ordinal) or key in self.held:
                self.duplicates += 1
                continue
            self.held[key] = (batch, i)
            while (self.file, self.ordinal) in self.held:
                ready.append(self.held.pop((self.file, self.ordinal)))
                self.ordinal += 1
                self.done += 1
                self._next_file()
        return ready

    def check(self) -> None:
        if self.file < len(self.counts) or self.held:
            expected = sum(self.counts)
            raise RuntimeError(f"the Ray job returned {self.done} of {expected} row(s) in order; output not written")
