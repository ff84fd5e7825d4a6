"""What a score sees: one initialised network, one mini-batch, one loss."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

LOSSES = ("ce", "mse")


class ScoringContext:
    """An initialised network in its BatchNorm mode, a batch (x, y) and the loss.

    Work shared between scores computed in one pass (the batch-mean loss gradient) is
    memoised here, so ``--score nasi,grad_norm,snip`` costs one forward and one backward.
    ``make_model`` rebuilds the same network with the same initial weights, for scores that
    must alter it (e.g. synflow removes BatchNorm). ``model`` is None when no score of the pass
    needs a network.
    """

    def __init__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, num_classes: int,
                 loss: str = "ce", make_model: Callable[[], nn.Module] | None = None,
                 arch=None, config=None):
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; expected one of {LOSSES}")
        self.model, self.x, self.y = model, x, y
        self.num_classes = num_classes
        self.loss_name = loss
        self.make_model = make_model
        self.arch, self.config = arch, config  # for closed-form scores (params, flops)
        self._memo: dict[str, object] = {}

    @property
    def params(self) -> list[nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def per_sample_loss(self, logits: torch.Tensor) -> torch.Tensor:
        """L_i for each sample: cross-entropy, or squared error to the one-hot label
        (sum over logits), so that the batch loss is their mean (NASI's m^-1 ||Y - f||^2)."""
        if self.loss_name == "ce":
            return F.cross_entropy(logits, self.y, reduction="none")
        target = F.one_hot(self.y, self.num_classes).to(logits.dtype)
        return (logits - target).pow(2).sum(dim=1)

    def batch_loss(self, logits: torch.Tensor) -> torch.Tensor:
        if self.loss_name == "ce":
            return F.cross_entropy(logits, self.y)
        return self.per_sample_loss(logits).mean()

    def loss_grads(self) -> list[torch.Tensor | None]:
        """Gradient of the batch-mean loss w.r.t. every parameter (None: not on the graph)."""
        if "loss_grads" not in self._memo:
            params = self.params
            loss = self.batch_loss(self.model(self.x))
            self._memo["loss"] = loss.detach()
            self._memo["loss_grads"] = list(torch.autograd.grad(loss, params, allow_unused=True))
        return self._memo["loss_grads"]  # type: ignore[return-value]


def squared_norm(tensors) -> float:
    """sum of squared entries over a list of tensors (None entries count as zero), in float64."""
    total = torch.zeros((), dtype=torch.float64)
    present = [t for t in tensors if t is not None]
    if present:
        norms = torch._foreach_norm(present)
        total = torch.stack(norms).double().pow(2).sum()
    return float(total)
