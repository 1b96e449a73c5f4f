"""Sentence embeddings from a trained model's own encoder: what spreads annotation picks over the pool.

:func:`embed_pairs` runs the classifier's encoder (``model.base_model``, without the classification head)
on each (target, text) pair, exactly as the classifier reads it (same tokenizer, same length limit), and
mean-pools the last hidden states over the **text's** tokens: they carry the claim's context, but the
claim's own tokens, shared by every pair of one target, do not swamp short sentences. Vectors come back
L2-normalised, so a dot product is a cosine similarity.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..modeling.loading import TrainedModel
from .scorer import DEFAULT_BATCH_SIZE


def _text_masks(encoded: dict, n: int) -> list[list[int]]:
    """1 for the tokens of the second sequence (the text), 0 elsewhere; all tokens when that is unknown."""
    masks = []
    for i in range(n):
        ids = None
        if hasattr(encoded, "sequence_ids"):
            try:
                ids = encoded.sequence_ids(i)  # fast tokenizers: None, 0 (target) or 1 (text) per token
            except (ValueError, AttributeError):
                ids = None
        if ids is not None and 1 in ids:
            masks.append([1 if s == 1 else 0 for s in ids])
        elif "token_type_ids" in encoded and 1 in encoded["token_type_ids"][i]:
            masks.append(list(encoded["token_type_ids"][i]))
        else:
            masks.append([1] * len(encoded["input_ids"][i]))
    return masks


def embed_pairs(
    trained: TrainedModel,
    targets: Sequence[str],
    texts: Sequence[str],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> np.ndarray:
    """Mean-pooled, L2-normalised encoder states of each (target, text) pair: (len(texts), hidden), float32."""
    import torch

    if len(targets) != len(texts):
        raise ValueError("targets and texts must have the same length")
    model, tokenizer = trained.model, trained.tokenizer
    encoder = getattr(model, "base_model", model)
    hidden = int(getattr(model.config, "hidden_size", 0) or 0)
    if not texts:
        return np.zeros((0, hidden), dtype=np.float32)
    encoded = tokenizer(
        list(targets), list(texts), truncation="longest_first", max_length=trained.max_length, verbose=False
    )
    masks = _text_masks(encoded, len(texts))
    names = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in encoded]
    features = [{name: encoded[name][i] for name in names} for i in range(len(texts))]
    for feature, mask in zip(features, masks):
        feature["special_tokens_mask"] = mask  # padded with the rest; read back as the pooling mask
    order = np.argsort([len(f["input_ids"]) for f in features], kind="stable")
    device = next(model.parameters()).device
    out: np.ndarray | None = None
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        batch = tokenizer.pad([features[i] for i in index], return_tensors="pt")
        pool = batch.pop("special_tokens_mask").to(device).float() * batch["attention_mask"].to(device).float()
        with torch.inference_mode():
            states = encoder(**{k: v.to(device) for k, v in batch.items()}).last_hidden_state.float()
        summed = (states * pool.unsqueeze(-1)).sum(dim=1)
        vectors = summed / pool.sum(dim=1, keepdim=True).clamp(min=1.0)
        vectors = torch.nn.functional.normalize(vectors, dim=1).cpu().numpy()
        if out is None:
            out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
        out[index] = vectors
    assert out is not None
    return out
