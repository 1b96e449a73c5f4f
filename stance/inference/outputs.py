"""Where ``stance predict --engine ray`` writes: one file, or a folder of parts.

An ``--output`` that ends with ``/`` (or names an existing folder) is a **folder of parts**:
``part-00000.jsonl``, ``part-00001.jsonl``, ... (``.csv`` or ``.parquet``), each holding the next
``part_rows`` rows, so the parts read in name order give every row once in input order; each CSV part has
its header. Anything else is **one file**. The format is ``--format``, else the name's suffix (``.parquet``,
``.csv``; a folder ``preds.parquet/`` too), else JSON Lines.

Either is written under a hidden name beside the output (``.NAME.PID.partial``) and renamed onto it only when
complete; a failure removes it. An existing output is refused unless ``overwrite``; a folder is replaced
only when it holds nothing but parts (so ``--overwrite`` never empties a folder of other files).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ..errors import StanceError
from ..labels import LABELS
from .files import InputRow, RowWriter

OUTPUT_FORMATS = ("jsonl", "csv", "parquet")
PARQUET_ROWS = 8192  # rows per Parquet row group written
PART_ROWS = 1_000_000  # rows per part of a folder output
SUFFIX_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}
PART_NAME = re.compile(r"part-\d{5,}\.(jsonl|csv|parquet)")


def is_folder(output: str | Path | None) -> bool:
    """Whether ``output`` asks for a folder of parts: it ends with ``/`` or is an existing folder."""
    if output is None or str(output) == "-":
        return False
    return str(output).endswith(("/", os.sep)) or Path(output).is_dir()


def output_format(output: str | Path | None, fmt: str | None) -> str:
    """``fmt``, else the output's suffix (.parquet, .csv; otherwise JSON Lines)."""
    chosen = fmt or SUFFIX_FORMATS.get(Path(str(output or "")).suffix.lower(), "jsonl")
    if chosen not in OUTPUT_FORMATS:
        raise StanceError(f"--engine ray writes {', '.join(OUTPUT_FORMATS)}; got --format {chosen}")
    if chosen == "parquet" and output in (None, "-"):
        raise StanceError("Parquet output needs a file: pass --output FILE.parquet (or a FOLDER/ of parts)")
    return chosen


def check_output(output: str | Path | None, overwrite: bool) -> Path | None:
    """The output file or folder (None: stdout), refused when it exists (unless ``overwrite``; a folder only
    when it holds nothing but parts) or its parent folder does not."""
    if output is None or str(output) == "-":
        return None
    path, folder = Path(output), is_folder(output)
    if not path.parent.is_dir():
        raise StanceError(f"{path}: the output folder {path.parent} does not exist")
    if folder and path.exists() and not path.is_dir():
        raise StanceError(f"{output}: is a file, not a folder; drop the trailing / to write one file")
    if path.exists() and not overwrite:
        kind = "the output folder" if folder else "the output"
        raise StanceError(f"{path}: {kind} exists; pass --overwrite to replace it")
    if folder and path.exists():
        others = sorted(p.name for p in path.iterdir() if not PART_NAME.fullmatch(p.name))
        if others:
            shown = ", ".join(others[:5]) + (" ..." if len(others) > 5 else "")
            raise StanceError(
                f"{path}: holds files that are not parts ({shown}); --overwrite replaces only a folder of "
                "parts: name a new folder"
            )
    return path


class Sink:
    """One output: JSONL/CSV through the local engine's :class:`RowWriter`, or Parquet row groups.
    ``path`` is opened (and closed by :meth:`close`) when no ``handle`` is given."""

    def __init__(self, handle: IO[str] | None, path: Path | None, fmt: str) -> None:
        self.fmt, self.written = fmt, 0
        self.rows: list[list[Any]] = []
        self.owned: IO[str] | None = None
        if fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            names = ["id", "text", "target", "label", *(f"score_{label}" for label in LABELS)]
            kinds = [pa.string()] * 4 + [pa.float64()] * len(LABELS)
            self.schema = pa.schema(list(zip(names, kinds)))
            self.parquet = pq.ParquetWriter(str(path), self.schema)
            return
        if handle is None:
            handle = self.owned = open(str(path), "w", encoding="utf-8", newline="")
        self.writer = RowWriter(handle, fmt)

    def write(self, row: InputRow, target: str, prediction: Any) -> None:
        self.written += 1
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
        if self.owned is not None:
            self.owned.close()


class Parts:
    """A folder of parts: ``part-00000.EXT`` holds the first ``part_rows`` rows, the next part the next ones;
    a part is opened only for a row to put in it (no empty part)."""

    def __init__(self, folder: Path, fmt: str, part_rows: int = PART_ROWS) -> None:
        if part_rows < 1:
            raise StanceError(f"--part-rows must be at least 1, got {part_rows}")
        self.folder, self.fmt, self.part_rows = folder, fmt, part_rows
        self.names: list[str] = []
        self.current: Sink | None = None

    def write(self, row: InputRow, target: str, prediction: Any) -> None:
        if self.current is None or self.current.written >= self.part_rows:
            self.close()
            name = f"part-{len(self.names):05d}.{self.fmt}"
            self.names.append(name)
            self.current = Sink(None, self.folder / name, self.fmt)
        self.current.write(row, target, prediction)

    def close(self) -> None:
        if self.current is not None:
            self.current.close()
            self.current = None


@contextlib.contextmanager
def staged(path: Path | None, fmt: str, *, folder: bool = False, part_rows: int = PART_ROWS) -> Iterator[Sink | Parts]:
    """A :class:`Sink` on stdout, or on a hidden ``.NAME.PID.partial`` file beside ``path`` (a :class:`Parts`
    folder with ``folder``), moved onto ``path`` only after success and removed after a failure."""
    if path is None:
        yield Sink(sys.stdout, None, fmt)
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        if folder:
            shutil.rmtree(tmp, ignore_errors=True)  # left by a killed run of the same process id
            tmp.mkdir()
        sink = Parts(tmp, fmt, part_rows) if folder else Sink(None, tmp, fmt)
        try:
            yield sink
        finally:
            sink.close()
        if folder and path.exists():  # --overwrite: the old folder goes aside, then away
            old = path.with_name(f".{path.name}.{os.getpid()}.old")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
