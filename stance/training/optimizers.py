"""Optimisers beyond the Trainer's default AdamW."""

from __future__ import annotations

import re

import torch


def layerwise_optimizer(
    model: torch.nn.Module, learning_rate: float, decay: float, weight_decay: float
) -> torch.optim.Optimizer:
    """AdamW whose learning rate shrinks by ``decay`` per layer from the top (head) down to the embeddings.

    Lower layers hold general language knowledge worth keeping; the head and top layers adapt most.
    """
    n_layers = int(getattr(model.config, "num_hidden_layers", 0))

    def depth(name: str) -> int:  # 0 = embeddings ... n_layers + 1 = pooler and classifier
        if "embeddings" in name:
            return 0
        found = re.search(r"\.layer\.(\d+)\.", name)
        return int(found.group(1)) + 1 if found else n_layers + 1

    groups: dict[tuple[int, bool], list[torch.nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if param.requires_grad:
            no_decay = param.ndim < 2  # biases and LayerNorm weights
            groups.setdefault((depth(name), no_decay), []).append(param)
    params = [
        {
            "params": p,
            "lr": learning_rate * decay ** (n_layers + 1 - d),
            "weight_decay": 0.0 if no_decay else weight_decay,
        }
        for (d, no_decay), p in sorted(groups.items())
    ]
    return torch.optim.AdamW(params, lr=learning_rate)
