"""One search step on the supernet: the Gumbel sample, and the score of the sampled subnet with
its gradient to the hard weights (straight-through, double backward) or alone (REINFORCE)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ..supernet import Supernet
from .config import N_EDGES, N_OPS


def sample_gumbel(gen: torch.Generator, shape=(N_EDGES, N_OPS)) -> torch.Tensor:
    """Gumbel(0, 1) noise -log(-log U), U uniform in (0, 1) (float64 on the CPU)."""
    u = torch.rand(shape, generator=gen, dtype=torch.float64)
    u = u.clamp(min=torch.finfo(torch.float64).tiny, max=1.0 - 1e-16)
    return -torch.log(-torch.log(u))


def score_and_hard_grad(net: Supernet, x: torch.Tensor, y: torch.Tensor, index: Sequence[int],
                        st: str = "chosen", hardwts: torch.Tensor | None = None
                        ) -> tuple[float, torch.Tensor, float]:
    """s = ||grad_theta(A) CE||^2 of the sampled subnet and ds/dh (6 x 5), by double backprop.

    ``hardwts`` defaults to the one-hot of ``index`` (as a leaf needing grad); pass other
    values only for finite-difference checks. Returns (s, ds_dh, loss)."""
    dev = x.device
    if hardwts is None:
        hardwts = F.one_hot(torch.as_tensor(list(index)), N_OPS).to(dev, x.dtype)
    hardwts = hardwts.detach().requires_grad_(True)
    logits = net(x, hardwts, index, st)
    loss = F.cross_entropy(logits, y)
    params = net.subnet_parameters(index)
    grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
    terms = [g.pow(2).sum() for g in grads if g is not None]
    s = torch.stack(terms).sum()
    (ds_dh,) = torch.autograd.grad(s, hardwts, allow_unused=True)
    if ds_dh is None:  # no op weight on the graph (cannot happen for a connected cell)
        ds_dh = torch.zeros_like(hardwts)
    return float(s.detach()), ds_dh.detach().cpu(), float(loss.detach())



def score_only(net: Supernet, x: torch.Tensor, y: torch.Tensor, index: Sequence[int]
               ) -> tuple[float, float]:
    """s of the sampled subnet by one ordinary backward (no graph kept); (s, loss)."""
    hardwts = F.one_hot(torch.as_tensor(list(index)), N_OPS).to(x.device, x.dtype)
    logits = net(x, hardwts, index, "chosen")
    loss = F.cross_entropy(logits, y)
    grads = torch.autograd.grad(loss, net.subnet_parameters(index), allow_unused=True)
    s = sum(float(g.pow(2).sum()) for g in grads if g is not None)
    return s, float(loss.detach())

