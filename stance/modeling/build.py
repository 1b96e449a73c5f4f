"""Building the network that reads (target, text) pairs, for training: a named base, any local folder or
hub id, or a tiny randomly initialised BERT with a WordPiece vocabulary learnt from the training texts."""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable

from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertConfig,
    BertForSequenceClassification,
    BertTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from ..config import ModelConfig
from ..errors import StanceError
from ..labels import ID2LABEL, LABEL2ID
from .bases import resolve_base
from .loading import MAX_LENGTH_ATTRIBUTE, TARGET_ATTRIBUTE

log = logging.getLogger(__name__)
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
TINY_DEFAULTS = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "max_position_embeddings": 256,
}


def build(
    config: ModelConfig, default_target: str, corpus: Iterable[str] = (), seed: int = 0
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
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
            source,
            num_labels=len(ID2LABEL),
            id2label=dict(ID2LABEL),
            label2id=dict(LABEL2ID),
            ignore_mismatched_sizes=True,
            use_safetensors=None,
            trust_remote_code=False,
        )
    except (OSError, ValueError) as exc:
        raise StanceError(
            f"model.base: cannot load {base!r}: {str(exc).splitlines()[0]} "
            "(a hub id needs network access; give a local folder or a named base otherwise)"
        ) from exc
    log.info("base model %s loaded; its classification head is new and is trained from scratch", base)
    return model, tokenizer


def train_wordpiece(corpus: Iterable[str], vocab_size: int) -> PreTrainedTokenizerBase:
    """A BERT tokenizer with a small WordPiece vocabulary from ``corpus`` (for tiny test models).

    Every character (alone and as a ``##`` continuation) plus the most frequent words, ties broken
    alphabetically: unlike a trained WordPiece model this is reproducible run after run, which resume
    tests rely on.
    """
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
        bert = BertConfig(
            vocab_size=len(tokenizer),
            num_labels=len(ID2LABEL),
            id2label=dict(ID2LABEL),
            label2id=dict(LABEL2ID),
            **fields,
        )
    except TypeError as exc:
        raise StanceError(f"model.architecture: {exc}") from exc
    if config.max_length > bert.max_position_embeddings:
        raise StanceError(
            f"model.max_length {config.max_length} exceeds model.architecture."
            f"max_position_embeddings {bert.max_position_embeddings}"
        )
    torch.manual_seed(seed)
    return BertForSequenceClassification(bert)
