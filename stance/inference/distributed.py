"""``stance predict --input ... --engine ray``: the local engine's classification, spread over Ray actors.

The same rows, scorer and output as :mod:`stance.inference.files`, in this order:

1. every matched file is validated on the driver with :func:`~stance.inference.files.scan_input` (the one
   reader), so a bad row stops the run before Ray starts, with the same ``file:line`` message;
2. Ray Data reads the files (one read task per file, through the same reader, so ids and line numbers are
   the local engine's) and tags each row with a ``(file index, row ordinal)`` key;
3. a fixed pool of actors (:class:`~stance.inference.actors.RayClassify`: the model loaded once per actor
   with the same ``from_pretrained`` options, float32/bf16/int8 or ONNX) scores the rows in batches; a
   killed actor is restarted and its batches retried (:data:`~stance.inference.actors.RESTARTS`);
4. the driver puts the rows back in key order, drops any duplicate a retry delivered, checks every key came
   exactly once and writes ONE file (JSONL or CSV exactly as the local engine, or Parquet), or a folder of
   parts, under a temporary name beside the output, renamed only when complete
   (:mod:`~stance.inference.outputs`).

The pool leaves :data:`~stance.inference.cluster.READ_RESERVE` CPUs for read tasks: a pool holding every
CPU would starve the reads and deadlock (:func:`~stance.inference.cluster.plan_pool`). Ray is an optional
extra (``stance[ray]``).
"""

from __future__ import annotations

import glob
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data.formats import file_format
from ..errors import StanceError
from ..labels import LABELS
from .actors import Order, input_source, read_args, remote_args_allowed, scored_batches
from .cluster import (
    READ_CPUS,
    ModelOptions,
    Pool,
    RayOptions,
    check_address,
    check_options,
    ordered_quiet_data,
    ray_session,
    require_ray,
    rows_per_call,
    size_pool,
    worker_options,
)
from .files import INPUT_FORMATS, Columns, InputRow, Summary, scan_input
from .outputs import PART_ROWS, Parts, check_output, is_folder, output_format, staged

logger = logging.getLogger(__name__)

DEFAULT_OPTIONS = ModelOptions()


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
    options: ModelOptions = DEFAULT_OPTIONS,
    address: str | None = None,
    workers: int | None = None,
    cpus_per_worker: float | None = None,
    gpus_per_worker: float = 0.0,
    overwrite: bool = False,
    num_cpus: int | None = None,
    chunk_size: int = 2048,
    part_rows: int | None = None,
    progress: bool | None = None,
    on_batch: Callable[[int, set[int]], None] | None = None,
) -> RaySummary:
    """Classify the rows of ``inputs`` (files or globs) on Ray and write them in input order (module doc).

    An ``output`` ending with ``/`` (or an existing folder) receives parts of ``part_rows`` rows (default
    :data:`~stance.inference.outputs.PART_ROWS`; see :mod:`~stance.inference.outputs`). ``num_cpus``
    sizes a local instance started here; ``on_batch(rows so far, worker pids)`` is called as results
    arrive. Each actor call gets up to ``chunk_size`` rows (fewer, so every worker gets several).
    """
    from tqdm.auto import tqdm

    from ..logs import progress_enabled
    from .classifier import to_predictions

    started = time.perf_counter()
    require_ray()  # before anything else: the one message saying how to install it
    columns = columns or Columns()
    paths = expand_inputs(inputs)
    fmt, folder = output_format(output, fmt), is_folder(output)
    if part_rows is not None and not folder:
        raise StanceError(f"--part-rows: only for a folder of parts (an --output ending with /), not {output}")
    if part_rows is not None and part_rows < 1:
        raise StanceError(f"--part-rows must be at least 1, got {part_rows}")
    destination = check_output(output, overwrite)
    if address is not None:
        check_address(address)  # an unreachable cluster is said in seconds, before the files are scanned
    model = str(model)
    default_target = _model_target(model)
    check_options(options, gpus_per_worker)
    options = worker_options(options, gpus_per_worker)
    needs_target = target is None and not default_target
    counts = [scan_input(path, columns, needs_target) for path in paths]  # every bad row, before Ray starts
    total = sum(counts)
    if not total:
        raise StanceError(f"{paths[0] if len(paths) == 1 else inputs[0]}: nothing to classify (0 row(s))")
    summary = RaySummary(output=str(destination or "stdout"))
    joining = time.perf_counter()
    with ray_session(address, num_cpus) as ray, ordered_quiet_data(ray):
        summary.startup_s = time.perf_counter() - joining
        pool = summary.pool = size_pool(ray, RayOptions(address, workers, cpus_per_worker, gpus_per_worker))
        per_call = rows_per_call(total, pool, options.batch_size, chunk_size)
        logger.info(
            "ray: %d row(s) in %d file(s) on %s, %d row(s) per call", total, len(paths), pool.describe(), per_call
        )
        with remote_args_allowed():
            dataset = ray.data.read_datasource(input_source(paths, columns), **read_args(ray, READ_CPUS))
        show = progress_enabled() if progress is None else progress
        submitted = time.perf_counter()
        batches = scored_batches(ray, dataset, model, options, target, pool, per_call)  # lazy: runs when read
        with (
            closing(batches),  # the job stops (its executor shut down) before Ray does, even after a failure
            staged(destination, fmt, folder=folder, part_rows=part_rows or PART_ROWS) as sink,
            tqdm(total=total, unit="text", disable=not show, file=sys.stderr, desc="classifying") as bar,
        ):
            order = Order(counts)
            for batch in batches:
                if not summary.first_rows_s:
                    summary.first_rows_s = time.perf_counter() - submitted
                for rows, i in order.accept(batch):  # this batch's rows, or earlier ones it frees
                    _emit(rows, i, paths, sink, summary, to_predictions)
                bar.update(len(batch["pid"]))
                if on_batch is not None:
                    on_batch(order.done, set(batch["pid"].tolist()))
            order.check()
            if not summary.classified:
                raise StanceError(f"{paths[0]}: nothing to classify ({summary.empty} empty row(s))")
            if isinstance(sink, Parts):
                summary.output = f"{destination}{os.sep} ({len(sink.names)} part(s))"
    summary.workers_seen, summary.duplicates = len(order.workers), order.duplicates
    summary.seconds = time.perf_counter() - started
    return summary


def _emit(
    batch: dict[str, np.ndarray], i: int, paths: list[Path], sink: Any, summary: RaySummary, predict: Any
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
