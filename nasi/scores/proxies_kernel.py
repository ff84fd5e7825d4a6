"""Kernel-based baseline proxies: NASWOT, TE-NAS' NTK condition number, HNAS' NTK trace.

- ``naswot`` (Mellor et al., "Neural Architecture Search without Training", ICML 2021):
  for every ReLU of the network and every image n of the batch, the binary code
  c_n = 1[ReLU input > 0] over the ReLU's units; the Hamming kernel
  K = sum over ReLUs of (c c^T + (1 - c)(1 - c)^T) (entry (m, n) = number of units where
  images m and n agree = N_A - d_H); score = log|det K| (``slogdet``, as the authors'
  ``hooklogdet``). Higher is better. The paper uses a batch of 128; here it is the run's batch.
  Every ReLU of the benchmark's full module is counted once, including the ReLUs of edges
  whose output the cell discards and of conv edges fed by an all-zero node: the authors count
  every ReLU module that gradient reached, and in NB201's module gradient reaches all of them
  (a 'none' edge is ``x.mul(0)``, still on the graph). The network is the full (unpruned)
  module rebuilt with the run's seed (same weights as ``ctx.model``), in the run's BN mode
  (NASWOT scores networks in train mode). Difference from the authors' script: it hooks every
  module whose class name contains "ReLU", which also matches the ``ReLUConvBN`` wrapper, so
  every conv edge's code is counted twice there (not in the paper's definition); see
  ``naswot_kernel(..., count_relu_conv_bn_twice=True)``.
- ``ntk_cond`` (Chen, Gong, Wang, "Neural Architecture Search on ImageNet in Four GPU Hours:
  A Theoretically Inspired Perspective" (TE-NAS), ICLR 2021; ``lib/procedures/ntk.py``):
  J_i = gradient of the sum of logits of image i (one batched forward in the run's BN mode, so
  with train-mode BN the rows are coupled through the batch statistics, then one backward per
  image, as TE-NAS) w.r.t. every parameter whose name contains "weight" (TE-NAS' rule: conv,
  BN gamma and linear weights; no biases); Theta = J J^T (b x b); score =
  lambda_max / lambda_min. NaN rule (TE-NAS): ``np.nan_to_num(cond, nan=1e5)``, i.e. NaN
  (0/0, an all-zero NTK) -> 1e5 and +-inf -> +-1.797e308. Eigenvalues in float64 (TE-NAS:
  float32 ``symeig``). Lower is better.
- ``ntk_trace_hnas`` (Shu et al., HNAS, NeurIPS 2022, ``foresight/pruners/measures/ntk_trace``;
  TRAILS' ``NTKTraceEvaluator``): sqrt(trace(J J^T) / b) where row i of J holds the per-sample
  gradients of the true-class logit f_{y_i}(x_i) w.r.t. the conv/linear weights, computed as
  HNAS does with autograd-hacks: one backward of S = sum_i f_{y_i}(x_i) and, per layer,
  grad1_i = (activation of image i)^T (backprop of S at image i) (unfold for convolutions,
  ``loss_type='sum'``). With eval-mode BN this is exactly each image's own gradient; with
  train-mode BN it is image i's share of the batch gradient (sum_i grad1_i = dS/dW), not the
  gradient of a row of the batched forward (which ``ntk_exact``-style scores use). HNAS sums
  the NTK's eigenvalues; that equals the trace computed here. Higher is better. This is NOT
  NASI's estimator (``nasi``, Eq. 12), only its author's later per-sample variant.

Disconnected architectures: ``naswot`` NaN (not defined by a network that ignores its input; the
authors' script would still return a number from ReLUs whose codes never reach the output),
``ntk_cond`` 1e5 (its all-zero NTK gives 0/0, mapped by TE-NAS' NaN rule), ``ntk_trace_hnas``
0.0 (every conv/linear weight gradient is exactly zero).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .context import ScoringContext
from .layers import LayerRecorder, weight_layers
from .registry import register

NTK_COND_NAN = 1e5  # TE-NAS: np.nan_to_num(cond, nan=100000.0)


# ---------------------------------------------------------------------------------------------
# NASWOT

def naswot_kernel(model: nn.Module, x: torch.Tensor, count_relu_conv_bn_twice: bool = False
                  ) -> np.ndarray:
    """The b x b Hamming kernel over all ``nn.ReLU`` modules of ``model`` (float64).

    ``count_relu_conv_bn_twice`` reproduces the authors' script, whose name-based hook also
    fires on NB201's ``ReLUConvBN`` wrapper (input = the same pre-ReLU tensor)."""
    from ..network import ReLUConvBN

    b = x.shape[0]
    kernel = torch.zeros(b, b, dtype=torch.float64, device=x.device)

    def hook(module, inputs, output):
        nonlocal kernel
        # codes of the ReLU's input; an in-place ReLU has overwritten it, but
        # output > 0 exactly where input > 0
        c = (output.detach() > 0).reshape(b, -1).to(torch.float64)
        s = c.sum(1, keepdim=True)
        # c c^T + (1-c)(1-c)^T = 2 c c^T - s 1^T - 1 s^T + D
        kernel = kernel + 2.0 * (c @ c.T) - s - s.T + c.shape[1]

    modules = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    if count_relu_conv_bn_twice:
        modules += [m.op[0] for m in model.modules() if isinstance(m, ReLUConvBN)]
    handles = [m.register_forward_hook(hook) for m in modules]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return kernel.cpu().numpy()


def logdet(kernel: np.ndarray) -> float:
    """log|det K| as the authors' ``hooklogdet`` (-inf for a singular K)."""
    _, ld = np.linalg.slogdet(kernel)
    return float(ld)


def _full_model(ctx: ScoringContext) -> nn.Module:
    """The benchmark's full module (every edge evaluated) with ctx.model's weights."""
    if ctx.arch is None or ctx.config is None:
        return ctx.model  # a hand-made context: use its model as it is
    from ..scoring import build_scoring_model

    return build_scoring_model(ctx.arch, ctx.config, device=ctx.x.device, prune=False)


@register("naswot", label="NASWOT score log|K_H|",
          higher_is_better=True, disconnected_value=float("nan"),
          cost="network rebuild + one forward (no backward)",
          description="NASWOT (Mellor et al. ICML 2021): log|det K_H|, K_H = sum over all ReLUs "
                      "of c c^T + (1-c)(1-c)^T for the binary ReLU codes c of the batch")
def naswot(ctx: ScoringContext) -> float:
    return logdet(naswot_kernel(_full_model(ctx), ctx.x))


# ---------------------------------------------------------------------------------------------
# TE-NAS NTK condition number

def tenas_weights(model: nn.Module) -> list[torch.Tensor]:
    """TE-NAS' parameter set: every parameter whose name contains 'weight'."""
    return [p for n, p in model.named_parameters() if "weight" in n and p.requires_grad]


def condition_number(ntk: torch.Tensor) -> float:
    """lambda_max / lambda_min of a symmetric matrix in float64, with TE-NAS' NaN rule."""
    ev = torch.linalg.eigvalsh(ntk.double().cpu())
    with np.errstate(divide="ignore", invalid="ignore"):
        cond = np.float64(ev[-1].item()) / np.float64(ev[0].item())
    return float(np.nan_to_num(cond, nan=NTK_COND_NAN))


@register("ntk_cond", higher_is_better=False, disconnected_value=NTK_COND_NAN,
          cost="one forward + b backward passes",
          description="TE-NAS (Chen et al. ICLR 2021) NTK condition number lambda_max/lambda_min "
                      "of J J^T, J_i = d(sum of logits of image i)/d(all 'weight' params), "
                      "batched forward; NaN -> 1e5 (lower is better)")
def ntk_cond(ctx: ScoringContext) -> float:
    params = tenas_weights(ctx.model)
    logits = ctx.model(ctx.x)
    b = logits.shape[0]
    rows = None
    for i in range(b):
        grads = torch.autograd.grad(logits[i].sum(), params, retain_graph=True,
                                    allow_unused=True)
        flat = [g.reshape(-1) for g in grads if g is not None]
        if rows is None:
            size = sum(f.numel() for f in flat)
            rows = logits.new_zeros(b, size)
        if flat:
            torch.cat(flat, out=rows[i])
    if rows is None or rows.shape[1] == 0:
        return NTK_COND_NAN
    return condition_number(rows @ rows.T)


# ---------------------------------------------------------------------------------------------
# HNAS NTK trace

def per_sample_sq_norms(module: nn.Module, act: torch.Tensor, back: torch.Tensor) -> torch.Tensor:
    """||grad1_i||^2 for each image i: autograd-hacks' per-sample weight gradient
    (activation x backprop of image i) of a Conv2d or Linear layer, squared Frobenius norm."""
    n = act.shape[0]
    # bf16 autocast records bfloat16 tensors: the sums run in float32 at least
    dtype = torch.promote_types(torch.promote_types(act.dtype, back.dtype), torch.float32)
    act, back = act.to(dtype), back.to(dtype)
    if isinstance(module, nn.Linear):
        return act.pow(2).sum(1) * back.pow(2).sum(1)  # ||b_i a_i^T||^2 = ||a_i||^2 ||b_i||^2
    g = module.groups
    cols = F.unfold(act, module.kernel_size, dilation=module.dilation, padding=module.padding,
                    stride=module.stride)  # n, C_in k k, L
    back = back.reshape(n, g, back.shape[1] // g, -1)
    cols = cols.reshape(n, g, cols.shape[1] // g, -1)
    grad1 = torch.einsum("ngol,ngkl->ngok", back, cols)
    return grad1.pow(2).sum(dim=(1, 2, 3))


@register("ntk_trace_hnas", label="HNAS ntk_trace sqrt(tr/N)",
          higher_is_better=True, disconnected_value=0.0,
          cost="one forward + one backward + per-sample weight gradients per layer",
          description="HNAS/TRAILS ntk_trace (Shu et al. NeurIPS 2022): sqrt(trace(J J^T)/b), J_i "
                      "= per-sample (autograd-hacks) gradient of the true-class logit w.r.t. "
                      "conv/linear weights; not NASI's Eq. 12")
def ntk_trace_hnas(ctx: ScoringContext) -> float:
    with LayerRecorder(ctx.model) as rec:
        logits = ctx.model(ctx.x)
    b = logits.shape[0]
    calls = [c for c in rec.calls if c[2].requires_grad]
    if not calls:
        return 0.0
    s = logits.gather(1, ctx.y.view(-1, 1)).sum()
    backs = torch.autograd.grad(s, [out for _, _, out in calls], allow_unused=True)
    trace = torch.zeros((), dtype=torch.float64, device=logits.device)
    for (module, act, _), back in zip(calls, backs):
        if back is None:
            continue
        trace = trace + per_sample_sq_norms(module, act.detach(), back).double().sum()
    return float(torch.sqrt(trace / b))


__all__ = ["naswot_kernel", "logdet", "condition_number", "tenas_weights",
           "per_sample_sq_norms", "weight_layers"]
