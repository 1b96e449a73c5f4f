"""Files in and out of :class:`~stance.inference.classifier.StanceClassifier`: what ``stance predict`` runs.

Inputs stream: ``.txt`` (one text a line), ``.jsonl``, ``.csv``/``.tsv`` and ``.parquet`` (a text column,
optional target and id columns) are read twice — a quick first pass validates every line (UTF-8, JSON,
columns) and counts the rows, so a bad file stops before any output is written and the progress bar knows
its total; the second pass classifies ``chunk_size`` rows at a time, so memory does not grow with the
file. Output keeps the input's ids (the line number when there are none) and order. Empty texts are
skipped and counted, never dropped silently. Output to a file goes to ``FILE.partial`` first and is
renamed only when complete.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import sys
import textwrap
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..data.formats import Problems, file_format, iter_rows, not_utf8
from ..errors import StanceError
from ..labels import LABELS
from ..logs import progress_enabled
from .articles import AggregationRule, ArticleResult

if TYPE_CHECKING:  # the classifier pulls in torch and transformers; reading and validating files does not
    from .classifier import Prediction, StanceClassifier

FORMATS = ("jsonl", "csv", "table")
INPUT_FORMATS = ("txt", "jsonl", "csv", "tsv", "parquet")
SHOWN = 10  # empty rows listed by location in the summary


@dataclass(frozen=True)
class Columns:
    text: str = "text"
    target: str = "target"
    id: str = "id"


@dataclass
class InputRow:
    id: str
    text: str
    target: str | None
    where: str  # file:line


@dataclass
class Summary:
    """What a run read and wrote: the CLI prints it as one line."""

    classified: int = 0
    empty: int = 0
    empty_where: list[str] = field(default_factory=list)
    truncated: int = 0
    max_length: int = 0
    output: str = "stdout"

    def skip(self, where: str) -> None:
        self.empty += 1
        if len(self.empty_where) < SHOWN:
            self.empty_where.append(where)

    def describe(self) -> str:
        parts = [f"classified {self.classified} text(s) -> {self.output}"]
        if self.empty:
            more = " ..." if self.empty > len(self.empty_where) else ""
            parts.append(f"skipped {self.empty} empty text(s) ({', '.join(self.empty_where)}{more})")
        if self.truncated:
            from .classifier import truncation_message

            parts.append("warning: " + truncation_message(self.truncated, self.classified, self.max_length))
        return "; ".join(parts)


# ---------------------------------------------------------------------------------------------------- input


def _field(values: dict[str, Any], name: str, where: str, problems: Problems) -> str | None:
    value = values.get(name)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and name != "text":
        return str(value)
    problems.add(where, name, f"expected text, got {value!r}")
    return None


def iter_input(path: str | Path, columns: Columns, problems: Problems) -> Iterator[InputRow]:
    """The rows of an input file in order (texts may be empty); unreadable rows go to ``problems``.

    Reading is :func:`stance.data.formats.iter_rows` (text lines, JSONL, CSV/TSV, Parquet); a row's id is its
    id column, else its line (or row) number.
    """
    path = Path(path)
    if not path.is_file():
        raise StanceError(f"{path}: input file not found")
    hint = "; name the text column with --text-column"
    txt = file_format(path, INPUT_FORMATS) == "txt"
    text_column = "text" if txt else columns.text
    for row in iter_rows(path, problems, allowed=INPUT_FORMATS, require=text_column, require_hint=hint):
        number = row.where.rsplit(":", 1)[-1].removeprefix("row ")
        if text_column not in row.values:
            problems.add(
                row.where, columns.text, f"missing field (the row has: {', '.join(row.values) or 'nothing'})" + hint
            )
            continue
        values = row.values if not txt else {columns.text: row.values["text"]}
        text = _field(values, columns.text, row.where, problems) or ""
        target = _field(values, columns.target, row.where, problems)
        raw_id = _field(values, columns.id, row.where, problems)
        yield InputRow(
            raw_id if raw_id not in (None, "") else number,
            text.strip(),
            target.strip() if target and target.strip() else None,
            row.where,
        )


def scan_input(path: str | Path, columns: Columns, needs_target: bool) -> int:
    """First pass: every problem of the file at once (as a :class:`StanceError`), else the row count."""
    problems = Problems()
    rows = 0
    for row in iter_input(path, columns, problems):
        rows += 1
        if needs_target and row.text and row.target is None:
            problems.add(row.where, columns.target, "no target, and the model stores no default; pass --target")
    problems.raise_if_any(f"{path}: cannot classify")
    return rows


# --------------------------------------------------------------------------------------------------- output


@contextlib.contextmanager
def open_output(path: str | Path | None) -> Iterator[IO[str]]:
    """stdout, or ``path`` written via ``path.partial`` and renamed only after success."""
    if path is None or str(path) == "-":
        yield sys.stdout
        return
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise StanceError(f"{path}: the output folder {path.parent} does not exist")
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as handle:
            yield handle
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _wrap(text: str, width: int, indent: int) -> str:
    lines = textwrap.wrap(text, width=max(width, 20)) or [""]
    return ("\n" + " " * indent).join(lines)


class RowWriter:
    """Sentence predictions as JSON Lines, CSV (one column per label score) or an aligned text table."""

    def __init__(self, handle: IO[str], fmt: str, id_width: int = 6, width: int = 100) -> None:
        if fmt not in FORMATS:
            raise StanceError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}")
        self.handle, self.fmt, self.id_width, self.width = handle, fmt, id_width, width
        self.csv = csv.writer(handle) if fmt == "csv" else None
        if self.csv:
            self.csv.writerow(["id", "text", "target", "label", *(f"score_{label}" for label in LABELS)])
        elif fmt == "table":
            handle.write(f"{'id':<{id_width}}  {'label':<10}  {'score':>5}  text\n")

    def write(self, row: InputRow, target: str, prediction: Prediction) -> None:
        if self.fmt == "jsonl":
            record = {"id": row.id, "text": row.text, "target": target, **prediction.to_dict()}
            self.handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        elif self.csv:
            self.csv.writerow(
                [row.id, row.text, target, prediction.label, *(f"{prediction.scores[label]:.6f}" for label in LABELS)]
            )
        else:
            indent = self.id_width + 21
            self.handle.write(
                f"{row.id:<{self.id_width}}  {prediction.label:<10}  {prediction.score:5.2f}  "
                f"{_wrap(row.text, self.width - indent, indent)}\n"
            )


def classify_rows(
    classifier: StanceClassifier,
    rows: Iterator[InputRow],
    handle: IO[str],
    fmt: str,
    target: str | None,
    summary: Summary,
    *,
    chunk_size: int,
    progress: Any = None,
    id_width: int = 6,
) -> None:
    """Classify the non-empty rows in order and write them; empty ones are counted in ``summary``."""
    writer = RowWriter(handle, fmt, id_width=id_width)
    kept: deque[InputRow] = deque()  # rows read ahead by the chunked stream, oldest first

    def texts() -> Iterator[tuple[str, str | None]]:
        for row in rows:
            if progress is not None:
                progress.update(1)
            if not row.text:
                summary.skip(row.where)
                continue
            kept.append(row)
            yield row.text, row.target or target

    from .classifier import StreamStats

    stats = StreamStats()
    for prediction in classifier.predict_stream(texts(), chunk_size=chunk_size, stats=stats):
        row = kept.popleft()
        writer.write(row, classifier.target_for(row.target or target), prediction)
    summary.classified += stats.texts
    summary.truncated += stats.truncated
    summary.max_length = classifier.max_length


def classify_file(
    classifier: StanceClassifier,
    path: str | Path,
    output: str | Path | None = None,
    *,
    fmt: str = "jsonl",
    target: str | None = None,
    columns: Columns = Columns(),
    chunk_size: int = 2048,
    progress: bool | None = None,
) -> Summary:
    """``stance predict --input``: validate the file, then stream it through the classifier."""
    from tqdm.auto import tqdm

    needs_target = target is None and not classifier.default_target
    total = scan_input(path, columns, needs_target)
    summary = Summary(output=str(output or "stdout"))
    show = progress_enabled() if progress is None else progress
    with (
        open_output(output) as handle,
        tqdm(total=total, unit="text", disable=not show, file=sys.stderr, desc="classifying") as bar,
    ):
        problems = Problems()
        classify_rows(
            classifier,
            iter_input(path, columns, problems),
            handle,
            fmt,
            target,
            summary,
            chunk_size=chunk_size,
            progress=bar,
            id_width=max(6, len(str(total))),
        )
        problems.raise_if_any(f"{path}: changed while it was being classified")
        if not summary.classified:
            raise StanceError(f"{path}: nothing to classify ({summary.empty} empty row(s))")
    return summary


def classify_texts(
    classifier: StanceClassifier,
    texts: Sequence[str],
    output: str | Path | None = None,
    *,
    fmt: str = "table",
    target: str | None = None,
) -> Summary:
    """``stance predict --text T ...``: ids are the positions 1..n."""
    summary = Summary(output=str(output or "stdout"))
    rows = iter([InputRow(str(i), text.strip(), None, f"--text #{i}") for i, text in enumerate(texts, 1)])
    with open_output(output) as handle:
        classifier.target_for(target)  # fail before writing anything when there is no target
        classify_rows(classifier, rows, handle, fmt, target, summary, chunk_size=2048)
        if not summary.classified:
            raise StanceError("nothing to classify: every --text is empty")
    return summary


# ------------------------------------------------------------------------------------------------- articles


def read_article(path: str | Path) -> str:
    path = Path(path)
    if not path.is_file():
        raise StanceError(f"{path}: article file not found")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        offset = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1)
        raise StanceError(f"{path}:{line}: {not_utf8(offset)}") from exc
    if not text.strip():
        raise StanceError(f"{path}: the article is empty; nothing to classify")
    return text


def article_table(name: str, result: ArticleResult, width: int = 100) -> str:
    """A per-sentence table with the article's verdict, for reading in a terminal."""
    marks = set(result.deciding)
    lines = [name, f"target: {result.target}", "", f"{'#':>3}  {'stance':<11} {'score':>5}  sentence"]
    for s in result.sentences:
        mark = "*" if s.index in marks else " "
        lines.append(f"{s.number:>3} {mark}{s.label:<11} {s.scores[s.label]:5.2f}  {_wrap(s.text, width - 24, 24)}")
    counts = ", ".join(f"{result.counts[label]} {label}" for label in LABELS)
    lines += [
        "",
        f"verdict: {result.label.upper()} ({counts}; {len(result.sentences)} sentences)",
        f"why:     {result.reason}",
        f"rule:    {result.rule}",
        "deciding sentences (*): "
        + (", ".join(str(result.sentences[i].number) for i in sorted(result.deciding)) or "none"),
    ]
    return "\n".join(lines) + "\n"


def classify_articles(
    classifier: StanceClassifier,
    paths: Sequence[str | Path],
    output: str | Path | None = None,
    *,
    fmt: str = "table",
    target: str | None = None,
    rule: AggregationRule | None = None,
    split_lines: bool = True,
) -> list[ArticleResult]:
    """``stance predict --article FILE ...``: every file is read and checked before any is classified."""
    if fmt not in FORMATS:
        raise StanceError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}")
    texts = [read_article(path) for path in paths]
    classifier.target_for(target)
    results = []
    with open_output(output) as handle:
        writer = csv.writer(handle) if fmt == "csv" else None
        if writer:
            writer.writerow(
                [
                    "article",
                    "sentence",
                    "start",
                    "end",
                    "text",
                    "label",
                    *(f"score_{label}" for label in LABELS),
                    "deciding",
                    "article_label",
                ]
            )
        for number, (path, text) in enumerate(zip(paths, texts)):
            result = classifier.predict_article(text, target, rule=rule, split_lines=split_lines, warn=False)
            results.append(result)
            if fmt == "jsonl":
                handle.write(json.dumps({"article": str(path), **result.to_dict()}, ensure_ascii=False) + "\n")
            elif writer:
                for s in result.sentences:
                    writer.writerow(
                        [
                            str(path),
                            s.number,
                            s.start,
                            s.end,
                            s.text,
                            s.label,
                            *(f"{s.scores[label]:.6f}" for label in LABELS),
                            int(s.index in result.deciding),
                            result.label,
                        ]
                    )
            else:
                handle.write(("\n" if number else "") + article_table(str(path), result))
    return results
