"""The one ``metrics.json`` schema: typed records that evaluation writes and the report, the model card and
publishing read (:class:`MetricsFile`). Validation is pydantic's; :meth:`MetricsFile.read` turns its errors
into one :class:`~stance.errors.StanceError` listing every ``field: problem``. Records also read like the
JSON they come from (``m["metrics"]["macro_f1"]`` is ``m.metrics["macro_f1"]``).

``schema_version`` is :data:`SCHEMA_VERSION`; a change that breaks readers bumps it. In ``breakdowns`` a row
counts once under each of its phenomena tags; ``"(none)"`` collects rows without a tag (or without a
source), and a slice's macro-F1 averages the labels present in that slice.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from ..errors import StanceError
from ..labels import LABELS
from ..layout import atomic_write_text

SCHEMA_VERSION = 1
HEADLINE = ("accuracy", "macro_f1", "micro_f1", "weighted_f1")
BASELINE_NAMES = {"majority": "majority class", "tfidf_logreg": "TF-IDF + logistic regression"}


def format_interval(low: float, high: float) -> str:
    """The one way an interval is shown, in reports and on cards."""
    return f"[{low:.3f}, {high:.3f}]"


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        value = getattr(self, key, None)
        return default if value is None else value

    def __contains__(self, key: str) -> bool:
        return getattr(self, key, None) is not None


class Interval(Record):
    low: float
    high: float
    level: float = 0.95
    resamples: int | None = None
    seed: int | None = None

    def __str__(self) -> str:
        return format_interval(self.low, self.high)


class ClassScores(Record):
    precision: float
    recall: float
    f1: float
    support: int
    f1_ci: Interval | None = None


class DataInfo(Record):
    path: str
    split: str | None
    n_examples: int
    targets: list[str]


class ConfusionMatrix(Record):
    labels: list[str]
    counts: list[list[int]]

    @field_validator("counts")
    @classmethod
    def _square(cls, counts: list[list[int]], info: ValidationInfo) -> list[list[int]]:
        n = len(info.data.get("labels") or LABELS)
        if len(counts) != n or any(len(row) != n for row in counts):
            raise ValueError(f"expected a {n}×{n} table of integers")
        return counts


class Calibration(Record):
    ece: float
    bins: int


class Slice(Record):
    n: int
    accuracy: float
    macro_f1: float


class ErrorRow(Record):
    model_config = ConfigDict(extra="allow")
    id: str
    text: str
    gold: str
    predicted: str
    confidence: float


class ErrorTables(Record):
    confident_wrong: list[ErrorRow] = Field(default_factory=list)
    unsure_right: list[ErrorRow] = Field(default_factory=list)


class MetricsFile(Record):
    """``metrics.json``: what ``stance evaluate`` (and ``stance train``'s report) found on one labelled set."""

    schema_version: int = SCHEMA_VERSION
    model: str  # the model folder or hub id evaluated
    data: DataInfo
    labels: list[str]
    metrics: dict[str, float]  # HEADLINE metrics
    confidence_intervals: dict[str, Interval]  # percentile bootstrap over examples: accuracy, macro_f1
    per_class: dict[str, ClassScores]
    confusion_matrix: ConfusionMatrix  # rows = gold, columns = predicted
    calibration: Calibration | None = None  # top-label confidence, equal-width bins
    baselines: dict[str, dict[str, float]] = Field(default_factory=dict)  # {} when not trained
    breakdowns: dict[str, dict[str, Slice]] = Field(default_factory=dict)  # source | target | phenomena
    errors: ErrorTables = Field(default_factory=ErrorTables)
    notes: list[str] = Field(default_factory=list)
    images: dict[str, str] = Field(default_factory=dict)  # file names relative to metrics.json's folder

    @field_validator("schema_version")
    @classmethod
    def _version(cls, value: int) -> int:
        if value != SCHEMA_VERSION:
            raise ValueError(f"expected {SCHEMA_VERSION}, got {value}")
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: list[str]) -> list[str]:
        if sorted(value) != sorted(LABELS):
            raise ValueError(f"expected {list(LABELS)}, got {value}")
        return value

    @field_validator("metrics")
    @classmethod
    def _headline(cls, value: dict[str, float]) -> dict[str, float]:
        missing = [name for name in HEADLINE if name not in value]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        return value

    @field_validator("confidence_intervals")
    @classmethod
    def _intervals(cls, value: dict[str, Interval]) -> dict[str, Interval]:
        missing = [name for name in ("accuracy", "macro_f1") if name not in value]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        return value

    @field_validator("per_class")
    @classmethod
    def _classes(cls, value: dict[str, ClassScores]) -> dict[str, ClassScores]:
        missing = [label for label in LABELS if label not in value]
        if missing:
            raise ValueError("; ".join(f"{label}: missing" for label in missing))
        return value

    @field_validator("images")
    @classmethod
    def _relative(cls, value: dict[str, str]) -> dict[str, str]:
        for name, file in value.items():
            if not file or Path(file).is_absolute() or ".." in Path(file).parts:
                raise ValueError(f"{name}: expected a file name relative to metrics.json, got {file!r}")
        return value

    @classmethod
    def parse(cls, data: Any, where: str = "metrics.json") -> MetricsFile:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise StanceError(
                f"{where}: not a metrics.json of schema_version {SCHEMA_VERSION} (as `stance evaluate` writes it)",
                _problems(exc),
            ) from exc

    @classmethod
    def read(cls, path: str | Path) -> MetricsFile:
        """Load and validate ``metrics.json``; every problem is listed at once."""
        path = Path(path)
        try:
            data = json.loads(path.read_text("utf-8"))
        except FileNotFoundError as exc:
            raise StanceError(f"{path}: metrics file not found") from exc
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StanceError(f"{path}: not valid JSON: {exc}") from exc
        return cls.parse(data, str(path))

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def write(self, path: str | Path) -> Path:
        return atomic_write_text(path, json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")


_WORDS = {
    "missing": "missing",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "int_parsing": "expected an integer",
    "int_type": "expected an integer",
    "int_from_float": "expected an integer",
    "string_type": "expected a string",
    "list_type": "expected a list",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "extra_forbidden": "unknown field",
}


_KEYED = re.compile(r"^[\w-]+: ")


def _problems(exc: ValidationError) -> list[str]:
    out = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "top level"
        if error["type"] == "value_error":  # our validators: "key: problem; key: problem" or "problem"
            message = str(error.get("ctx", {}).get("error", error["msg"]))
            for part in message.split("; "):
                out.append(f"{where}.{part}" if _KEYED.match(part) else f"{where}: {part}")
        else:
            got = json.dumps(error.get("input"), default=str)[:60]
            out.append(
                f"{where}: {_WORDS.get(error['type'], error['msg'])}"
                + (f", got {got}" if error["type"] != "missing" else "")
            )
    return out
