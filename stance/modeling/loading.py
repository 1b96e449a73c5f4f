"""Loading trained models for inference, safely: safetensors only, no remote code, labels mapped onto ours.

A folder written by ``stance train`` (``DIR/model``) is a plain Hugging Face folder; the (target, text)
default target and the trained length limit ride along in ``config.json`` (:data:`TARGET_ATTRIBUTE`,
:data:`MAX_LENGTH_ATTRIBUTE`), so inference needs no YAML.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from ..errors import StanceError
from ..labels import LABELS, normalize_label
from .bases import is_local_path

TARGET_ATTRIBUTE = "stance_default_target"  # stored in config.json so inference needs no YAML
MAX_LENGTH_ATTRIBUTE = "stance_max_length"  # the length the model was trained with


PICKLED_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json", "tf_model.h5", "flax_model.msgpack")


@dataclass
class TrainedModel:
    """A loaded classifier: the network, its tokenizer, and the column of each of our labels in its logits."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    label_columns: list[int]  # label_columns[i] = logit index of LABELS[i]
    default_target: str | None
    source: str
    max_length: int


def load_trained(source: str | Path, max_length: int | None = None) -> TrainedModel:
    """Load a folder written by ``stance train`` (or a compatible hub model) without running its code.

    Weights come from safetensors only and ``trust_remote_code`` is off; a folder with only pickled
    weights, without ``config.json`` or without a label mapping onto ours is refused with the reason.
    """
    source = str(source)
    config = read_hf_config(source)
    columns = label_columns(config, source)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
        model = AutoModelForSequenceClassification.from_pretrained(
            source, use_safetensors=True, trust_remote_code=False
        )
    except (OSError, ValueError) as exc:
        raise StanceError(f"{source}: cannot load the model: {str(exc).splitlines()[0]}") from exc
    model.eval()
    limit = (
        max_length
        or getattr(config, MAX_LENGTH_ATTRIBUTE, None)
        or min(
            int(getattr(tokenizer, "model_max_length", 512) or 512),
            int(getattr(config, "max_position_embeddings", 512) or 512),
            512,
        )
    )
    return TrainedModel(model, tokenizer, columns, getattr(config, TARGET_ATTRIBUTE, None), source, limit)


def read_hf_config(source: str | Path) -> Any:
    """A model's ``config.json`` (checked as a model folder first when local), without loading weights."""
    from transformers import AutoConfig

    source = str(source)
    if is_local_path(source):
        _check_model_folder(Path(source).expanduser())
    try:
        return AutoConfig.from_pretrained(source, trust_remote_code=False)
    except (OSError, ValueError) as exc:  # ValueError: a config.json without a usable model_type
        raise StanceError(
            f"{source}: cannot load the model config: {str(exc).splitlines()[0]} (a `stance train` "
            "model folder's config.json names its model_type)"
        ) from exc


def stored_default_target(source: str | Path) -> str | None:
    """The default target ``stance train`` stored in the model's config.json; cheap (no weights)."""
    return getattr(read_hf_config(source), TARGET_ATTRIBUTE, None)


def _check_model_folder(path: Path) -> None:
    if not path.is_dir():
        raise StanceError(f"{path}: model folder not found")
    if not (path / "config.json").is_file():
        raise StanceError(f"{path}: not a model folder (no config.json); point at DIR/model of a `stance train` run")
    has_safetensors = any(path.glob("*.safetensors"))
    if not has_safetensors:
        pickled = [name for name in PICKLED_WEIGHTS if (path / name).exists()]
        if pickled:
            raise StanceError(
                f"{path}: only pickled weights ({', '.join(pickled)}); refusing to load them "
                "because unpickling can run arbitrary code. Convert the model to safetensors "
                "(model.save_pretrained(..., safe_serialization=True)) and try again"
            )
        raise StanceError(f"{path}: no model weights (*.safetensors) in the folder")


def label_columns(config: Any, source: str) -> list[int]:
    """Where each of our labels sits in the model's output, via ``id2label`` (aliases such as FAVOR/AGAINST/NONE
    are accepted); a model whose labels do not map one-to-one onto ours is refused."""
    id2label = {int(k): v for k, v in (getattr(config, "id2label", None) or {}).items()}
    mapped = {normalize_label(str(name)): index for index, name in id2label.items()}
    generic = all(str(name).startswith("LABEL_") for name in id2label.values())
    if generic or None in mapped or sorted(mapped, key=str) != sorted(LABELS) or len(id2label) != len(LABELS):
        raise StanceError(
            f"{source}: config.json has no usable id2label (got {id2label or 'none'}); a stance "
            f"model needs exactly the labels {', '.join(LABELS)} (or aliases of them)"
        )
    return [mapped[label] for label in LABELS]
