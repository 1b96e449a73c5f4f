"""What a model card is made from (:class:`CardContext`) and the few ways its figures are written."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config import StanceConfig
from ..evaluation.schema import MetricsFile, format_interval
from ..modeling.bases import base_hub_id

SYNTHETIC_TAGS = {"synthetic"}  # a dataset card tag that marks written-for-purpose (not collected) text
IMAGE_TITLES = {
    "confusion_matrix": "Confusion matrix (counts)",
    "confusion_matrix_normalized": "Confusion matrix (row-normalised)",
    "per_class_f1": "Per-class F1 with 95% interval",
    "reliability": "Reliability diagram",
}


@dataclass
class DataProvenance:
    """What the training data's own dataset card (a ``README.md`` beside the training file) says of it."""

    card_path: str
    name: str | None = None
    license: str | None = None
    synthetic: bool = False
    date_range: str | None = None


@dataclass
class CardContext:
    """Everything a card is made from (all read from the staged folder's files)."""

    repo_id: str
    model_config: dict[str, Any]  # config.json
    train_config: StanceConfig  # stance_config.yaml, through load_config
    train_metrics: dict[str, Any] | None
    metrics: MetricsFile | None  # None: unevaluated
    files: list[str] = field(default_factory=list)
    license: str = "apache-2.0"
    language: str = "en"
    provenance: DataProvenance | None = None

    @property
    def name(self) -> str:
        return self.repo_id.split("/")[-1]

    @property
    def target(self) -> str:
        return str(self.model_config.get("stance_default_target") or self.train_config.data.default_target)

    @property
    def base(self) -> str | None:
        """The hub id the model was fine-tuned from, or None (random init or a local folder)."""
        model = self.train_config.model
        return None if model.init == "random" else base_hub_id(model.base)


def fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "—"


def ci_text(ci: Any) -> str:
    return format_interval(ci["low"], ci["high"])


def cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def short(text: str, limit: int = 120) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def image(ctx: CardContext, key: str) -> str:
    name = ((ctx.metrics or {}).get("images") or {}).get(key)
    if not name or name not in ctx.files:
        return ""
    return f"![{IMAGE_TITLES.get(key, key)}]({name})\n\n"
