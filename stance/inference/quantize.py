"""Opt-in int8 dynamic quantization for CPU inference, done carefully enough to keep the labels.

The one-line recipe (``quantize_dynamic(model, {nn.Linear})``) quantizes every linear layer with one scale
per weight matrix, the classifier head included. On the fine-tuned MiniLM (2,000 corpus pairs, 2 CPU
threads) it changed 2.7% of the labels and cost 1.2 macro-F1 points on the test split. What recovers them:

* **per-channel weight scales** (one scale per output row): a few rows with large weights no longer crush
  the resolution of all the others — this is what matters (98.9% label agreement, test macro-F1 within
  0.3 points of float32, at the same speed);
* a **scope** that leaves the layers outside the encoder in float32: embeddings, the pooler and the
  classifier head (a few thousand multiply-adds per text, so no speed is lost). ``encoder`` (the default)
  quantizes every linear layer of the transformer blocks; ``ffn`` only their feed-forward layers (more
  conservative, but attention then stays float and the speed-up shrinks from 3x to 2x); ``all`` is every
  ``nn.Linear`` (the recipe's scope, for comparison).

Activations are quantized per batch at run time (dynamic quantization), so no calibration data is needed.
That is also its limit: on the mpnet default (all-mpnet-base-v2, fine-tuned) the same recipe kept only
85.7% of the labels and lost 11.7 points of test macro-F1, where bfloat16 autocast kept every label and ran
faster (4.8x the naive pipeline against 2.9x): use ``bf16=True`` for mpnet-size models on CPUs with AMX.
``scripts/bench_predict.py --quantize`` measures speed, label agreement and test macro-F1 of each variant.
"""

from __future__ import annotations

import re
import warnings

from ..errors import StanceError

SCOPES = ("ffn", "encoder", "all")
DEFAULT_SCOPE = "encoder"
_FFN = re.compile(r"(^|\.)(intermediate|ffn|mlp|feed_forward)(\.|$)|(^|\.)output\.dense$")
_ENCODER = re.compile(r"(^|\.)(layer|layers|block|blocks)\.\d+\.")


def quantizable_layers(model, scope: str = DEFAULT_SCOPE) -> list[str]:
    """Names of the ``nn.Linear`` modules that ``scope`` quantizes."""
    from torch import nn

    if scope not in SCOPES:
        raise StanceError(f"quantization scope {scope!r} is unknown; choose one of {', '.join(SCOPES)}")
    names = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    if scope == "all":
        return names
    inside = [name for name in names if _ENCODER.search(name)]
    if scope == "encoder":
        return inside
    return [name for name in inside if _FFN.search(name) and "attention" not in name]


def quantize_model(model, scope: str = DEFAULT_SCOPE, per_channel: bool = True):
    """An int8 dynamically quantized copy of ``model`` (CPU only); the original is left untouched."""
    import torch
    from torch.ao.quantization import (
        default_dynamic_qconfig,
        per_channel_dynamic_qconfig,
        quantize_dynamic,
    )

    if torch.backends.quantized.engine in (None, "none") or not torch.backends.quantized.supported_engines:
        raise StanceError("int8 quantization is not supported by this torch build (no quantized engine)")
    layers = quantizable_layers(model, scope)
    if not layers:
        raise StanceError(
            f"quantization scope {scope!r} matched no linear layer of "
            f"{type(model).__name__}; try scope 'encoder' or 'all'"
        )
    qconfig = per_channel_dynamic_qconfig if per_channel else default_dynamic_qconfig
    with warnings.catch_warnings():  # eager-mode quantization is deprecated in favour of torchao, still works
        warnings.simplefilter("ignore")
        quantized = quantize_dynamic(
            model.to("cpu"), {name: qconfig for name in layers}, dtype=torch.qint8, inplace=False
        )
    quantized.eval()
    return quantized
