"""The Ray side of ``--engine ray``: joining (or starting) Ray, the options of the actors and of the pool, and
sizing the pool; what runs in Ray's workers is in :mod:`~stance.inference.actors`.

:func:`plan_pool` leaves :data:`READ_RESERVE` CPUs to the read tasks (each asks :data:`READ_CPUS`): a pool
holding every CPU starves the reads, and the job waits forever ("backpressured: ResourceBudget"). Ray is an
optional extra (``pip install 'stance[ray]'``); :func:`require_ray` says so in one message.
"""

from __future__ import annotations

import contextlib
import logging
import math
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import StanceError

logger = logging.getLogger(__name__)

RAY_HINT = "install it with: pip install 'stance[ray]' (or pip install 'ray[data]')"
READ_CPUS = 0.25  # what each read task asks for
READ_RESERVE = 0.5  # CPUs the actor pool leaves free, so reads always find room
CONNECT_TIMEOUT = 5.0  # seconds to wait for a cluster at --address to answer


def require_ray() -> Any:
    """The ``ray`` module with Ray Data, or one :class:`StanceError` saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401 - the [data] extra
    except ImportError as exc:
        raise StanceError(f"--engine ray needs Ray Data, which is not installed; {RAY_HINT}") from exc
    return ray


@dataclass(frozen=True)
class ModelOptions:
    """What each actor passes to :meth:`StanceClassifier.from_pretrained` (the local engine's options)."""

    quantize: bool | str = False
    bf16: bool = False
    backend: str = "auto"
    batch_size: int = 64
    max_length: int | None = None
    precision: str = "auto"  # stance.inference.precision.CHOICES; quantize and bf16 are its aliases


@dataclass(frozen=True)
class RayOptions:
    """Where the pool runs and how it is sized (``--address``, ``--workers``, ``--cpus-per-worker``,
    ``--gpus-per-worker``; see :func:`plan_pool`). Without ``address`` a local instance of ``num_cpus``
    CPUs (default: every CPU) is started for the run."""

    address: str | None = None
    workers: int | None = None
    cpus_per_worker: float | None = None
    gpus_per_worker: float = 0.0
    num_cpus: int | None = None


def check_options(options: ModelOptions, gpus_per_worker: float) -> None:
    """Refuse what the actors could not run: int8, ONNX or OpenVINO on GPUs, a backend that is not installed."""
    if gpus_per_worker and (options.quantize or options.precision == "int8" or options.backend in ("onnx", "openvino")):
        raise StanceError(
            "--quantize, --onnx and --openvino run on CPUs; drop them or --gpus-per-worker (GPUs: float32 or --bf16)"
        )
    if options.backend in ("onnx", "openvino"):
        from .backends import check_backend

        check_backend(options.backend, options.precision)


def worker_options(options: ModelOptions, gpus_per_worker: float) -> ModelOptions:
    """What each actor loads with: on GPU workers ``backend="auto"`` means PyTorch (the model moves to the GPU)."""
    if gpus_per_worker and options.backend == "auto":
        return replace(options, backend="torch")
    return options


@dataclass
class Pool:
    workers: int
    cpus: float  # per worker (a Ray reservation: fractional is fine)
    gpus: float  # per worker
    threads: int  # torch threads per worker
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        gpus = f", {self.gpus:g} GPU" if self.gpus else ""
        return f"{self.workers} worker(s) x ({self.cpus:g} CPU{gpus}, {self.threads} thread(s))"


def plan_pool(
    cpus: float,
    gpus: float = 0.0,
    workers: int | None = None,
    cpus_per_worker: float | None = None,
    gpus_per_worker: float = 0.0,
) -> Pool:
    """Size the actor pool for a cluster of ``cpus`` CPUs and ``gpus`` GPUs, keeping :data:`READ_RESERVE`.

    Default: one worker per whole CPU (each reserving an equal share of what the reads leave, at most 1
    CPU, one torch thread), or one per ``gpus_per_worker`` GPUs. More workers than fit are capped, with a
    note; a worker that cannot fit at all is an error.
    """
    budget = cpus - READ_RESERVE
    if budget <= 0:
        raise StanceError(f"the Ray cluster has {cpus:g} CPU(s); it needs at least 1")
    if cpus_per_worker is not None and cpus_per_worker <= 0:
        raise StanceError(f"--cpus-per-worker must be above 0, got {cpus_per_worker:g}")
    if gpus_per_worker < 0 or (workers is not None and workers < 1):
        raise StanceError("--workers must be at least 1 and --gpus-per-worker at least 0")
    if cpus_per_worker is not None:
        limit = math.floor(budget / cpus_per_worker + 1e-9)
        if limit < 1:
            raise StanceError(
                f"--cpus-per-worker {cpus_per_worker:g} does not fit: the cluster has {cpus:g} CPU(s), "
                f"{READ_RESERVE:g} of them kept for reading; use at most {budget:g}"
            )
        why = f"{cpus:g} CPU(s) at {cpus_per_worker:g} per worker, {READ_RESERVE:g} kept for reading"
    else:
        limit, why = max(1, math.floor(cpus)), f"the cluster has {cpus:g} CPU(s)"
    if gpus_per_worker:
        if gpus < gpus_per_worker:
            raise StanceError(f"--gpus-per-worker {gpus_per_worker:g}: the Ray cluster has {gpus:g} GPU(s)")
        by_gpu = math.floor(gpus / gpus_per_worker + 1e-9)
        if by_gpu < limit:
            limit, why = by_gpu, f"the cluster has {gpus:g} GPU(s) at {gpus_per_worker:g} per worker"
    notes = []
    if workers is not None and workers > limit:
        notes.append(f"--workers {workers} capped to {limit}: {why}")
    count = min(workers or limit, limit)
    share = cpus_per_worker if cpus_per_worker is not None else min(1.0, math.floor(budget / count * 100) / 100)
    return Pool(count, share, gpus_per_worker, max(1, int(share)) if cpus_per_worker else 1, notes)


def size_pool(ray: Any, options: RayOptions) -> Pool:
    """The pool :func:`plan_pool` fits into the running cluster; its notes are logged as warnings."""
    resources = ray.cluster_resources()
    pool = plan_pool(
        resources.get("CPU", 0.0),
        resources.get("GPU", 0.0),
        options.workers,
        options.cpus_per_worker,
        options.gpus_per_worker,
    )
    for note in pool.notes:
        logger.warning("note: %s", note)
    return pool


def rows_per_call(total: int, pool: Pool, batch_size: int, chunk_size: int) -> int:
    """Up to ``chunk_size`` rows per actor call, fewer so that every worker gets at least four calls."""
    return max(batch_size, min(chunk_size, math.ceil(total / (pool.workers * 4))))


def check_address(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Fail fast, in plain words, when nothing listens at ``host:port`` (``ray://host[:10001]`` or
    ``host[:6379]``); ``auto`` is left to Ray, which fails at once when no local cluster runs."""
    if address in ("auto", "local"):
        return
    client = address.startswith("ray://")
    rest = address.removeprefix("ray://").rstrip("/")
    host, _, port = rest.rpartition(":") if ":" in rest else (rest, "", "")
    try:
        number = int(port) if port else (10001 if client else 6379)
    except ValueError as exc:
        raise StanceError(f"--address {address}: expected host:port, ray://host:port or auto") from exc
    try:
        with socket.create_connection((host.strip("[]"), number), timeout=timeout):
            pass
    except OSError as exc:
        raise StanceError(
            f"--address {address}: no Ray cluster answers at {host}:{number} within {timeout:g} s ({exc}); "
            "start one with `ray start --head` (then --address auto) or check the address"
        ) from exc


@contextlib.contextmanager
def ray_session(address: str | None, num_cpus: int | None = None) -> Iterator[Any]:
    """Ray for one run: joined at ``address``, else the one this process already runs, else a local
    instance started here (``num_cpus``: its size; default every CPU) and shut down afterwards."""
    ray = require_ray()
    if address is None and ray.is_initialized():
        yield ray
        return
    if address is not None:
        check_address(address)
    quiet = not logging.getLogger("stance").isEnabledFor(logging.DEBUG)
    try:
        ray.init(
            address=address,
            num_cpus=num_cpus if address is None else None,
            include_dashboard=False,
            logging_level=logging.WARNING if quiet else logging.INFO,
        )
    except (ConnectionError, TimeoutError) as exc:
        raise StanceError(f"--address {address}: cannot join the Ray cluster: {exc}") from exc
    try:
        yield ray
    finally:
        ray.shutdown()


def remote_stance_error(exc: BaseException) -> StanceError | None:
    """The :class:`StanceError` a remote task raised, found in the chain Ray wraps around it."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        err = stack.pop()
        if err is None or id(err) in seen:
            continue
        seen.add(id(err))
        if isinstance(err, StanceError):
            return StanceError(str(err))
        stack += [err.__cause__, err.__context__, getattr(err, "cause", None)]
    return None


@contextlib.contextmanager
def ordered_quiet_data(ray: Any) -> Iterator[None]:
    """Ray Data in input order (``preserve_order``), without its own progress bars and, unless the stance
    logger shows debug detail, without its INFO lines; the previous settings come back afterwards."""
    context = ray.data.DataContext.get_current()
    saved = (context.execution_options.preserve_order, context.enable_progress_bars)
    names = ("ray.data", "ray.data._internal.progress")  # the second says that bars are off
    levels = [logging.getLogger(name).level for name in names]
    context.execution_options.preserve_order, context.enable_progress_bars = True, False
    if not logging.getLogger("stance").isEnabledFor(logging.DEBUG):
        logging.getLogger(names[0]).setLevel(logging.WARNING)
        logging.getLogger(names[1]).setLevel(logging.ERROR)
    try:
        yield
    finally:
        context.execution_options.preserve_order, context.enable_progress_bars = saved
        for name, level in zip(names, levels):
            logging.getLogger(name).setLevel(level)
