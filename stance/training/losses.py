"""Training objectives for the pair classifier: weighted, smoothed cross-entropy and R-Drop."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..labels import LABELS


class PairLoss:
    """Cross-entropy with optional class weights and label smoothing, normalised for gradient accumulation."""

    def __init__(self, weights: torch.Tensor | None, label_smoothing: float) -> None:
        self.weights = weights
        self.label_smoothing = label_smoothing

    def __call__(self, outputs: Any, labels: torch.Tensor, num_items_in_batch: int | None = None) -> torch.Tensor:
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
        weight = None if self.weights is None else self.weights.to(logits.device, logits.dtype)
        loss = torch.nn.functional.cross_entropy(
            logits, labels, weight=weight, reduction="sum", label_smoothing=self.label_smoothing
        )
        return per_item(loss, labels, num_items_in_batch)


def per_item(total: torch.Tensor, labels: torch.Tensor, num_items_in_batch: Any = None) -> torch.Tensor:
    """A summed loss divided by the Trainer's item count for the whole accumulated batch (or by this
    batch's size when there is none), so gradient accumulation gives the same update as one large batch."""
    denominator = num_items_in_batch if num_items_in_batch else labels.numel()
    if torch.is_tensor(denominator):
        denominator = denominator.to(total.device)
    return total / denominator


def rdrop_loss(
    loss: PairLoss,
    logits_a: torch.Tensor,
    logits_b: torch.Tensor,
    labels: torch.Tensor,
    alpha: float,
    num_items_in_batch: int | None = None,
) -> torch.Tensor:
    """R-Drop (Liang et al., 2021): the batch's two dropout passes each pay the task loss, and their output
    distributions are pulled together by a symmetric KL term weighted by ``alpha``.

    The KL term is summed over examples and divided like the task loss, so gradient accumulation and the
    Trainer's item count treat both parts alike.
    """
    task = (
        loss({"logits": logits_a}, labels, num_items_in_batch) + loss({"logits": logits_b}, labels, num_items_in_batch)
    ) / 2
    log_a = torch.log_softmax(logits_a.float(), dim=-1)
    log_b = torch.log_softmax(logits_b.float(), dim=-1)
    kl = (
        torch.nn.functional.kl_div(log_a, log_b, log_target=True, reduction="sum")
        + torch.nn.functional.kl_div(log_b, log_a, log_target=True, reduction="sum")
    ) / 2
    return task + alpha * per_item(kl, labels, num_items_in_batch)


def class_weights(labels: list[str]) -> torch.Tensor:
    """Inverse-frequency weights normalised to mean 1; a label absent from training gets weight 1."""
    counts = np.array([labels.count(label) for label in LABELS], dtype=float)
    present = counts > 0
    weights = np.ones(len(LABELS))
    weights[present] = counts[present].sum() / (present.sum() * counts[present])
    return torch.tensor(weights / weights[present].mean(), dtype=torch.float32)
