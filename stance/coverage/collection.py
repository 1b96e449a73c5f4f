"""A collection of articles to track: reading, validating and grouping it, streamed.

Two shapes are read, both through :func:`stance.data.formats.iter_rows` (JSONL, CSV/TSV, Parquet):

* **one article a row**: ``id``, ``text``, ``source``, ``date`` and optional ``title`` (read as the
  article's first sentence, its headline) and ``url``;
* **sentence rows** carrying an article id (the shipped corpus's form: ``id, text, article_id, source, date,
  position``): the rows of one article must stand together; they are ordered by ``position`` when there is
  one. Detected when the first row has the article column, or asked for (``sentences=True``).

Dates are ISO 8601: a date (``2014-06-03``) or a date and time with or without a time zone
(``2014-06-03T10:00:00+05:30``, ``...Z``); the calendar date as written counts (a time zone does not move it
to another day). Parquet date and timestamp columns are taken as they are. Nothing is held but the current
article and, to refuse duplicates, the ids seen with their first location.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.formats import Problems, file_format, iter_rows
from ..errors import StanceError

PERIODS = ("day", "week", "month", "quarter", "year")
FORMATS = ("jsonl", "csv", "tsv", "parquet")
DATE_HINT = "use an ISO 8601 date (2014-06-03) or date and time (2014-06-03T10:00:00+05:30)"


@dataclass(frozen=True)
class CollectionColumns:
    """Column names in the collection file (``--id-column`` ... in the CLI)."""

    id: str = "id"
    text: str = "text"
    source: str = "source"
    date: str = "date"
    title: str = "title"
    url: str = "url"
    article: str = "article_id"  # sentence rows: the article each sentence belongs to
    position: str = "position"  # sentence rows: the sentence's place in its article


@dataclass
class Article:
    """One article: its text (one-article-a-row) or its sentences (sentence rows), and where it starts."""

    id: str
    source: str
    date: dt.date
    where: str
    text: str = ""
    sentences: list[str] | None = None
    title: str | None = None
    url: str | None = None

    @property
    def empty(self) -> bool:
        if self.sentences is not None:
            return not self.sentences
        return not self.text.strip() and not (self.title or "").strip()


# ---------------------------------------------------------------------------------------------------- dates


def parse_date(value: Any) -> dt.date | None:
    """The calendar date of an ISO 8601 date or datetime (string, ``date``, ``datetime``); ``None`` if not one."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if hasattr(value, "to_pydatetime"):  # a pandas Timestamp
        return value.to_pydatetime().date()
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"  # Python 3.10 reads no "Z"
    try:
        return dt.datetime.fromisoformat(text).date() if ("T" in text or " " in text) else dt.date.fromisoformat(text)
    except ValueError:
        return None


def parse_bound(raw: str | dt.date | None, flag: str) -> dt.date | None:
    """``--since`` / ``--until``: an ISO 8601 date (a datetime's date is taken)."""
    if raw is None or raw == "":
        return None
    day = parse_date(raw)
    if day is None:
        raise StanceError(f"{flag} {raw!r}: not a date; {DATE_HINT}")
    return day


def check_period(period: str) -> str:
    if period not in PERIODS:
        raise StanceError(f"unknown period {period!r}; choose one of {', '.join(PERIODS)}")
    return period


def period_key(day: dt.date, period: str) -> str:
    """A sortable label of the period holding ``day``: 2014-06-03, 2014-W23, 2014-06, 2014-Q2, 2014."""
    if period == "day":
        return day.isoformat()
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{day.year}-{day.month:02d}"
    if period == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    if period == "year":
        return str(day.year)
    raise StanceError(f"unknown period {period!r}; choose one of {', '.join(PERIODS)}")


def period_start(key: str, period: str) -> dt.date:
    """The first day of the period labelled ``key`` by :func:`period_key`."""
    if period == "day":
        return dt.date.fromisoformat(key)
    if period == "week":
        year, week = key.split("-W")
        return dt.date.fromisocalendar(int(year), int(week), 1)
    if period == "month":
        year, month = key.split("-")
        return dt.date(int(year), int(month), 1)
    if period == "quarter":
        year, quarter = key.split("-Q")
        return dt.date(int(year), 3 * int(quarter) - 2, 1)
    return dt.date(int(key), 1, 1)


# -------------------------------------------------------------------------------------------------- reading


def _text(values: dict[str, Any], name: str) -> str | None:
    value = values.get(name)
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def detect_sentence_rows(path: str | Path, columns: CollectionColumns) -> bool:
    """Whether the collection holds sentence rows: its first row has the article column."""
    for row in iter_rows(path, Problems(), allowed=FORMATS):
        return columns.article in row.values
    return False


def _check_header(values: dict[str, Any], where: str, columns: CollectionColumns, by_source: bool) -> None:
    """Columns every row needs, checked on the first row: one error naming the header, not one per row."""
    needed = [(columns.text, "--text-column"), (columns.date, "--date-column")]
    if by_source:
        needed.append((columns.source, "--source-column (or --by none)"))
    for name, flag in needed:
        if name not in values:
            raise StanceError(
                f"{where}: no {name!r} column (the row has: {', '.join(values) or 'nothing'}); name it with {flag}"
            )


@dataclass
class _Open:
    """The sentence-row article being read."""

    article: Article
    sentences: list[tuple[float, int, str]] = field(default_factory=list)  # (position, order, text)

    def close(self) -> Article:
        self.sentences.sort()
        self.article.sentences = [text for _, _, text in self.sentences if text.strip()]
        return self.article


def iter_articles(
    path: str | Path,
    columns: CollectionColumns,
    problems: Problems,
    *,
    sentences: bool,
    by_source: bool = True,
    seen: dict[str, str] | None = None,
) -> Iterator[Article]:
    """The articles of a collection in file order; bad rows go to ``problems`` (their article is dropped).

    ``seen`` (id -> first location), when given, is filled and used to refuse duplicate ids — and, for
    sentence rows, an article whose rows do not stand together.
    """
    path = Path(path)
    if not path.is_file():
        raise StanceError(f"{path}: collection file not found")
    current: _Open | None = None
    bad: set[str] = set()  # sentence-row articles with a bad row: dropped whole
    first = True
    for row in iter_rows(path, problems, allowed=FORMATS, require=columns.text, require_hint=""):
        values, where = row.values, row.where
        if first:
            fmt = file_format(path, FORMATS)
            header = f"{path}:1" if fmt in ("csv", "tsv") else str(path) if fmt == "parquet" else where
            _check_header(values, header, columns, by_source)
            if sentences and columns.article not in values:
                raise StanceError(
                    f"{where}: no {columns.article!r} column for sentence rows (the row has: {', '.join(values)}); "
                    "name it with --article-column, or drop --sentences for one article a row"
                )
            first = False
        number = where.rsplit(":", 1)[-1].removeprefix("row ")
        if columns.text not in values:
            problems.skip(where, columns.text, f"missing field (the row has: {', '.join(values) or 'nothing'})")
            continue
        key = columns.article if sentences else columns.id
        ident = _text(values, key)
        if ident is None or not ident.strip():
            if sentences:
                problems.skip(where, key, "missing article id")
                continue
            ident = number
        ident = ident.strip()
        if current is not None and current.article.id == ident:
            if ident in bad:
                continue
            if not _same_article(current.article, values, where, columns, by_source, problems):
                bad.add(ident)
                continue
            current.sentences.append(_sentence(values, columns, len(current.sentences), where, problems))
            continue
        if current is not None and current.article.id not in bad:
            yield current.close()
        current = None
        if seen is not None:
            if ident in seen:
                again = "its rows do not stand together; sort the file by article" if sentences else "duplicate"
                problems.skip(where, key, f"article id {ident!r} again ({again}; first at {seen[ident]})")
                if sentences:  # the rest of this run of rows goes with it, unreported
                    bad.add(ident)
                    current = _Open(Article(ident, "", dt.date.min, where, sentences=[]))
                continue
            seen[ident] = where
        day, source = _date_and_source(values, where, columns, by_source, problems)
        if day is None or source is None:
            if sentences:
                bad.add(ident)
                current = _Open(Article(ident, "", dt.date.min, where, sentences=[]))
            continue
        article = Article(
            ident,
            source,
            day,
            where,
            title=(_text(values, columns.title) or "").strip() or None,
            url=(_text(values, columns.url) or "").strip() or None,
        )
        if sentences:
            current = _Open(article)
            current.sentences.append(_sentence(values, columns, 0, where, problems))
        else:
            article.text = _text(values, columns.text) or ""
            yield article
    if current is not None and current.article.id not in bad:
        yield current.close()


def _date_and_source(
    values: dict[str, Any], where: str, columns: CollectionColumns, by_source: bool, problems: Problems
) -> tuple[dt.date | None, str | None]:
    raw = values.get(columns.date)
    day = parse_date(raw)
    if day is None:
        what = "missing date" if raw in (None, "") else f"{raw!r} is not a date"
        problems.skip(where, columns.date, f"{what}; {DATE_HINT}")
    source: str | None = "(all)"
    if by_source:
        source = (_text(values, columns.source) or "").strip() or None
        if source is None:
            problems.skip(
                where, columns.source, "missing source (the outlet): every article needs one, or pass --by none"
            )
    return day, source


def _same_article(
    article: Article,
    values: dict[str, Any],
    where: str,
    columns: CollectionColumns,
    by_source: bool,
    problems: Problems,
) -> bool:
    """A later sentence row of an article must agree with its first on date and source."""
    day, source = _date_and_source(values, where, columns, by_source, problems)
    if day is None or source is None:
        return False
    if day != article.date or source != article.source:
        field_name = columns.date if day != article.date else columns.source
        first = article.date if day != article.date else article.source
        problems.skip(where, field_name, f"article {article.id!r} has {first} at {article.where}; its rows must agree")
        return False
    return True


def _sentence(
    values: dict[str, Any], columns: CollectionColumns, order: int, where: str, problems: Problems
) -> tuple[float, int, str]:
    raw = values.get(columns.position)
    position = float(order)
    if raw not in (None, ""):
        try:
            position = float(raw)
        except (TypeError, ValueError):
            problems.add(where, columns.position, f"{raw!r} is not a number")
    return position, order, " ".join((_text(values, columns.text) or "").split())


@dataclass
class Scan:
    """What the first pass found: how many articles, in the date range, empty."""

    sentences: bool
    articles: int = 0
    in_range: int = 0


def scan_collection(
    path: str | Path,
    columns: CollectionColumns,
    *,
    sentences: bool,
    by_source: bool,
    since: dt.date | None,
    until: dt.date | None,
) -> Scan:
    """First pass: every problem of the file at once (one :class:`StanceError`), else the counts."""
    problems = Problems()
    scan = Scan(sentences)
    for article in iter_articles(path, columns, problems, sentences=sentences, by_source=by_source, seen={}):
        scan.articles += 1
        scan.in_range += in_range(article.date, since, until)
    problems.raise_if_any(f"{path}: cannot track")
    if not scan.articles:
        raise StanceError(f"{path}: no articles in the collection")
    return scan


def in_range(day: dt.date, since: dt.date | None, until: dt.date | None) -> bool:
    return (since is None or day >= since) and (until is None or day <= until)
