"""What runs in Ray's workers for ``--engine ray``, and what the driver does with what comes back.

:func:`input_source` makes read tasks over the one reader (each row keyed ``(file index, ordinal)``);
:class:`RayClassify` is a pool actor holding one :class:`~stance.inference.classifier.StanceClassifier`;
:func:`scored_batches` runs a pool of them over a dataset of such rows, and :class:`Order` puts what comes
back in key order, each row once. ``stance predict --engine ray`` (:mod:`~stance.inference.distributed`)
and ``stance track --engine ray`` (:mod:`stance.coverage.distributed`) both classify this way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from ..data.formats import Problems
from ..errors import StanceError
from ..labels import LABELS
from .cluster import ModelOptions, Pool, remote_stance_error
from .files import Columns, iter_input

logger = logging.getLogger(__name__)

BLOCK_ROWS = 4096  # rows per block a read task emits
RESTARTS = 3  # per actor, and retries per batch, after a worker process dies
PIPELINE_THREAD = "iter_threaded"  # Ray Data's name for the threads that fetch and format batches
DRAIN_S = 30.0  # how long a stopped job's pipeline threads are given to end


class RayClassify:
    """A pool actor: loads the model once, then scores batches of rows (``__call__``) in the columns it got."""

    def __init__(self, model: str, options: dict[str, Any], target: str | None, threads: int, gpus: float) -> None:
        import torch

        from ..logs import quiet_libraries
        from .classifier import StanceClassifier

        torch.set_num_threads(threads)
        quiet_libraries()
        self.classifier = StanceClassifier.from_pretrained(model, **options)
        backend = self.classifier.scorer.backend
        if gpus and hasattr(backend, "model"):
            if torch.cuda.is_available():
                backend.model.to("cuda")
                backend.device = torch.device("cuda")
            else:
                logger.warning("pid %d: torch sees no CUDA device; this worker runs on its CPU", os.getpid())
        self.target = target
        self.pid = os.getpid()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts, given = batch["text"], batch["target"]
        n = len(texts)
        keep = [i for i in range(n) if texts[i]]
        targets = np.full(n, "", dtype=object)
        probabilities = np.full((n, len(LABELS)), np.nan, dtype=np.float32)
        truncated = np.zeros(n, dtype=np.int32)
        if keep:
            claims = [self.classifier.target_for(given[i] or self.target) for i in keep]
            scored = self.classifier.scorer.score(claims, [texts[i] for i in keep])
            targets[keep], probabilities[keep] = claims, scored.probabilities
            truncated[0] = scored.truncated  # the batch's count rides on its first row (kept or dropped with it)
        out = {name: batch[name] for name in ("file", "ordinal", "id", "loc", "text")}
        out.update({f"p{k}": probabilities[:, k] for k in range(len(LABELS))})
        out.update(target=targets, truncated=truncated, pid=np.full(n, self.pid, dtype=np.int32))
        out["limit"] = np.full(n, self.classifier.max_length, dtype=np.int32)
        return out


@contextlib.contextmanager
def remote_args_allowed() -> Iterator[None]:
    """Ray 2.60 deprecates remote arguments given as keywords; nothing replaces those we pass."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`ray_remote_args` is deprecated", DeprecationWarning)
        yield


def scored_batches(
    ray: Any, dataset: Any, model: str, options: ModelOptions, target: str | None, pool: Pool, per_call: int
) -> Iterator[dict[str, np.ndarray]]:
    """``dataset``'s rows (the columns :func:`input_source` gives) scored by ``pool``, batch by batch as they
    arrive; a retried batch may come twice (see :class:`Order`). A :class:`StanceError` raised in a worker
    is raised here as itself.

    Close it (``contextlib.closing``) before Ray shuts down, even after a failure: closing stops the job's
    executor and waits for Ray Data's pipeline threads to end. A thread still fetching a batch when Ray
    shuts down ends the whole process ("The core worker has already been shutdown"), so a failed run would
    die without its message."""
    with remote_args_allowed():
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
    try:
        yield from dataset.iter_batches(batch_size=None, batch_format="numpy")
    except StanceError:
        raise
    except Exception as exc:
        found = remote_stance_error(exc)
        if found is None:
            raise
        raise found from exc
    finally:
        deadline = time.monotonic() + DRAIN_S
        for thread in threading.enumerate():
            if thread.name == PIPELINE_THREAD and thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))


class Order:
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
        self.workers |= set(batch["pid"].tolist())
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


def input_source(paths: list[Path], columns: Columns) -> Any:
    """A Ray Data datasource over ``paths`` that reads each file with the one reader, keys attached."""
    import pyarrow as pa
    from ray.data.datasource import FileBasedDatasource

    class StanceInput(FileBasedDatasource):
        def __init__(self) -> None:
            super().__init__([str(p.resolve()) for p in paths])
            self.index = {str(p.resolve()): i for i, p in enumerate(paths)}

        def _read_stream(self, f: Any, path: str) -> Iterator[Any]:
            index, problems, rows = self.index[str(Path(path).resolve())], Problems(), []

            def block() -> Any:
                return pa.table(
                    {
                        "file": pa.array([index] * len(rows), pa.int32()),
                        "ordinal": pa.array([r[0] for r in rows], pa.int64()),
                        "id": pa.array([r[1].id for r in rows], pa.string()),
                        "loc": pa.array([r[1].where.rsplit(":", 1)[-1] for r in rows], pa.string()),
                        "text": pa.array([r[1].text for r in rows], pa.string()),
                        "target": pa.array([r[1].target for r in rows], pa.string()),
                    }
                )

            for ordinal, row in enumerate(iter_input(path, columns, problems)):
                rows.append((ordinal, row))
                if len(rows) >= BLOCK_ROWS:
                    yield block()
                    rows = []
            problems.raise_if_any(f"{path}: changed while it was being classified")
            if rows:
                yield block()

    return StanceInput()


def read_args(ray: Any, cpus: float) -> dict[str, Any]:
    import inspect

    named = "num_cpus" in inspect.signature(ray.data.read_datasource).parameters  # Ray >= 2.4x
    return {"num_cpus": cpus} if named else {"ray_remote_args": {"num_cpus": cpus}}
