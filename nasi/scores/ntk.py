"""NASI's estimators of the NTK trace norm (Shu et al., ICLR 2022, Sec. 3.2).

With f(x; theta) the logits, L_x the per-sample loss and a mini-batch X_j of size b:

- ``ntk_exact``  (Eq. 9):  ||Theta_0||_tr = sum_x ||grad_theta f(x)||_F^2
  = sum over samples and logits of the squared parameter-Jacobian norm.
- ``ntk_persample`` (Eq. 11, middle term): sum_x ||grad_theta L_x||^2.
- ``nasi`` (Eq. 12): || grad_theta (b^-1 sum_{x in X_j} L_x) ||^2, the squared global L2 norm
  of the gradient of the batch-mean loss over all parameters. One backward pass.

Jensen gives b * nasi <= ntk_persample; with a gamma-Lipschitz loss ntk_persample <=
gamma^2 * ntk_exact.

BatchNorm semantics: in train mode (batch statistics, NB201's state at initialisation) the
samples of a batch are coupled, so "the gradient for sample i" is the gradient of row i of
the *batched* forward (one forward, then one backward per sample or per (sample, logit)).
In eval mode samples are independent and these are ordinary per-sample gradients.
"""

from __future__ import annotations

import torch

from .context import ScoringContext, squared_norm
from .registry import register

# A disconnected cell outputs zeros: the network ignores its input and the input-dependent
# part of the NTK is zero. We give those architectures 0, the bottom of every NTK score.
_DISCONNECTED = 0.0


@register("nasi", label="NASI score ||g||^2",
          higher_is_better=True, disconnected_value=_DISCONNECTED,
          description="NASI Eq. 12: ||grad_theta of the batch-mean loss||_2^2 over all "
                      "parameters, one mini-batch at initialisation")
def nasi_score(ctx: ScoringContext) -> float:
    return squared_norm(ctx.loss_grads())


@register("ntk_persample", label="NASI Eq. 11 score sum_x ||grad L_x||^2",
          higher_is_better=True, disconnected_value=_DISCONNECTED,
          cost="one forward + b backward passes",
          description="NASI Eq. 11 middle term: sum over samples of ||grad_theta L_x||_2^2 "
                      "(train-mode BN: rows of the batched forward)")
def ntk_persample(ctx: ScoringContext) -> float:
    params = ctx.params
    losses = ctx.per_sample_loss(ctx.model(ctx.x))
    total = 0.0
    for i in range(losses.shape[0]):
        grads = torch.autograd.grad(losses[i], params, retain_graph=True, allow_unused=True)
        total += squared_norm(grads)
    return total


@register("ntk_exact", label="exact NTK trace (NASI Eq. 9)",
          higher_is_better=True, disconnected_value=_DISCONNECTED,
          cost="one forward + b x classes backward passes (slow on CPU: minutes per arch)",
          description="NASI Eq. 9: exact empirical NTK trace on the batch, sum over samples "
                      "and logits of ||grad_theta f_k(x)||^2 (train-mode BN: batched forward)")
def ntk_exact(ctx: ScoringContext) -> float:
    params = ctx.params
    logits = ctx.model(ctx.x)
    total = 0.0
    b, k = logits.shape
    for i in range(b):
        for c in range(k):
            grads = torch.autograd.grad(logits[i, c], params, retain_graph=True,
                                        allow_unused=True)
            total += squared_norm(grads)
    return total
