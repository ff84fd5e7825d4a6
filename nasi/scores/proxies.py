"""Baseline training-free proxies, in the registry next to NASI's scores.

Each proxy is computed on the initialised NB201 network of the run (its BN mode, its loss, its
batch) unless its definition says otherwise. "Conv/linear weights" means the ``weight`` of every
``nn.Conv2d`` and ``nn.Linear`` module (as zero-cost-nas' ``get_layer_metric_array``): BN
affine parameters and the classifier bias are not part of these sums.

Closed form (needs no network; computed for disconnected architectures too):

- ``params``: number of parameters of the benchmark network (NB201 convention; equals the
  benchmark's ``params`` column for C=16, N=5). Higher is better.
- ``flops``: millions of conv/linear multiply-accumulates for one image (the benchmark's
  ``flop``). Higher is better.

Zero-cost proxies (Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021;
definitions of SamsungLabs/zero-cost-nas ``foresight/pruners/measures``), with L the batch loss
of the run (cross-entropy mean by default, as zero-cost-nas):

- ``grad_norm`` = sum over conv/linear layers of ||dL/dW||_2 (per-layer L2 norm, not squared,
  not a global norm). Higher is better. Shares the backward of ``nasi`` (ctx.loss_grads()).
- ``snip`` (Lee et al., ICLR 2019) = sum over conv/linear weights of |w * dL/dw| (the gradient
  w.r.t. a multiplicative weight mask at 1). Higher is better. Shares ctx.loss_grads().
- ``grasp`` (Wang et al., ICLR 2020) = sum over conv/linear weights of -w * (H g), with
  g = dL/dW (detached) and H g = d(g . dL/dW)/dW the Hessian-gradient product over the
  conv/linear weights. Sign: zero-cost-nas returns **-theta * Hg** ("accuracy seems to be
  negatively correlated with this metric, so we add -ve sign"), the opposite of GraSP's
  pruning score (which removes the weights with the largest theta * Hg); with that sign
  higher is better. One forward + a double backward (the first-order gradient g is taken
  from the same create_graph backward, which is the same number as zero-cost-nas' first pass).
- ``fisher`` (Theis et al. 2018; Turner et al., BlockSwap, ICLR 2020) = channel-wise Fisher on
  the outputs ``a`` of every conv/linear layer: for output channel k,
  F_k = 0.5 * mean_n (sum_{h,w} a[n,k,h,w] * dL/da[n,k,h,w])^2 (for the linear layer the sum
  is over nothing); the score is sum over layers of sum_k F_k * (numel(W) / C_out), because
  zero-cost-nas broadcasts each channel's value to all weights of that channel before summing.
  Higher is better. One forward + one backward (to the activations).
- ``synflow`` (Tanaka et al., "Pruning neural networks without any data by iteratively
  conserving synaptic flow", NeurIPS 2020) = sum over conv/linear weights of |theta * dR/dtheta|
  with R = sum of the network's outputs on an all-ones input of batch 1, on a copy of the
  network rebuilt with ``ctx.make_model()`` (same weights), **BatchNorm off** (every BN is the
  identity, zero-cost-nas ``bn=False``), every parameter and buffer replaced by its absolute
  value, computed in float64 (NB201 values reach 1e30..1e61, beyond float32; float64 holds
  them). ``ctx.model`` is not touched. Higher is better.
- ``jacob_cov`` (Mellor et al., NASWOT v1, arXiv 2006.04647v1; zero-cost-nas version):
  J = d(sum of all outputs)/dx for the batch x (one backward; with train-mode BN each row is
  the gradient of the whole batch's output sum w.r.t. that image), one row per image; C =
  np.corrcoef(J); score = -sum_i (log(v_i + k) + 1 / (v_i + k)), v the eigenvalues of C,
  k = 1e-5. Eigenvalues by ``eigvalsh`` of the symmetrised C (zero-cost-nas uses ``eig`` on a
  matrix that is symmetric up to rounding). Higher is better.

Disconnected architectures (their cell output is exactly zero, so the network's output does not
depend on its input or on any conv/linear weight): every conv/linear weight gradient is exactly
0, so grad_norm, snip, grasp and synflow are **0.0**, the value each definition gives on the
benchmark's own disconnected network (verified in tests/test_proxies.py). fisher is **0.0**, its
lower bound: on that network only the classifier's term survives (its output is the bias b for
every image, so a * dL/da = b * dL/dlogits), a small input-independent number. jacob_cov is
**NaN**: the input Jacobian is 0 and its correlation matrix undefined (zero-cost-nas also
yields NaN there); NaN scores are left out of correlations.

BN convention: everything but synflow runs the network in the run's BN mode (train = batch
statistics, NB201's state at initialisation, as zero-cost-nas' ``bn=True`` measures).

The NASWOT, TE-NAS and HNAS proxies are in :mod:`nasi.scores.proxies_kernel`; the helpers both
modules use in :mod:`nasi.scores.layers`.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from ..cost import closed_form
from ..datasets import get_dataset
from .context import ScoringContext
from .layers import LayerRecorder, f64_sum, weight_layers
from .registry import register

JACOB_COV_K = 1e-5  # zero-cost-nas' constant in jacob_cov


# ---------------------------------------------------------------------------------------------
# helpers

def layer_loss_grads(ctx: ScoringContext) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """(weight, dL/dweight) for each conv/linear layer, from the shared ctx.loss_grads().
    None: the weight is not on the graph (an edge the exact pruned cell skips; its gradient in
    the benchmark's full module is exactly zero)."""
    params = ctx.params
    grads = ctx.loss_grads()
    by_id = {id(p): g for p, g in zip(params, grads)}
    return [(m.weight, by_id.get(id(m.weight))) for m in weight_layers(ctx.model)]


# ---------------------------------------------------------------------------------------------
# closed form: params, flops

def count_closed_form(arch, dataset: str, C: int = 16, N: int = 5) -> tuple[int, int]:
    """(parameters, MACs for one image) of the NB201 network of ``arch`` for any C, N.

    For C=16, N=5 this is :func:`nasi.cost.closed_form` (the benchmark's numbers). In general,
    with K classes, image side H, and n3 / n1 the numbers of 3x3 / 1x1 conv edges:
    params = 280 C^2 + 61 C + (4C + 1) K + N (189 C^2 + 14 C) n3 + N (21 C^2 + 14 C) n1 and
    MACs = 27 C H^2 + 28 C^2 H^2 + (4C + 1) K + 27 N C^2 H^2 n3 + 3 N C^2 H^2 n1
    (stem, two reduction blocks, head BN, classifier; each conv edge at widths C, 2C, 4C).
    """
    if (C, N) == (16, 5):
        return closed_form(arch, dataset)
    spec = get_dataset(dataset)
    K, H = spec.num_classes, spec.image_size
    n3, n1 = arch.count("nor_conv_3x3"), arch.count("nor_conv_1x1")
    params = 280 * C**2 + 61 * C + (4 * C + 1) * K + N * (189 * C**2 + 14 * C) * n3 \
        + N * (21 * C**2 + 14 * C) * n1
    hw = H * H
    macs = 27 * C * hw + 28 * C**2 * hw + (4 * C + 1) * K + 27 * N * C**2 * hw * n3 \
        + 3 * N * C**2 * hw * n1
    return params, macs


def _counts(ctx: ScoringContext) -> tuple[int, int]:
    if ctx.arch is None or ctx.config is None:
        raise ValueError("params/flops need ctx.arch and ctx.config (use score_architecture)")
    cfg = ctx.config
    return count_closed_form(ctx.arch, cfg.dataset, cfg.C, cfg.N)


@register("params", label="#params",
          higher_is_better=True, needs_network=False, cost="closed form",
          description="number of parameters of the NB201 network for the run's dataset (C, N "
                      "of the config; the benchmark's params column at C=16, N=5)")
def params_score(ctx: ScoringContext) -> float:
    return float(_counts(ctx)[0])


@register("flops", label="FLOPs (M multiply-accumulates)",
          higher_is_better=True, needs_network=False, cost="closed form",
          description="millions of conv/linear multiply-accumulates for one image (+1 per "
                      "bias output), the benchmark's 'flop' convention")
def flops_score(ctx: ScoringContext) -> float:
    return _counts(ctx)[1] / 1e6


# ---------------------------------------------------------------------------------------------
# zero-cost-nas measures

_ZERO = 0.0  # disconnected: all conv/linear weight gradients are exactly zero


@register("grad_norm", higher_is_better=True, disconnected_value=_ZERO,
          cost="one forward + one backward (shared with nasi, snip)",
          description="zero-cost grad_norm (Abdelfattah et al. ICLR 2021): sum over conv/linear "
                      "layers of the per-layer L2 norm ||dL/dW||_2 of the batch-loss gradient "
                      "(not squared)")
def grad_norm(ctx: ScoringContext) -> float:
    return f64_sum(g.norm() for _, g in layer_loss_grads(ctx) if g is not None)


@register("snip", higher_is_better=True, disconnected_value=_ZERO,
          cost="one forward + one backward (shared with nasi, grad_norm)",
          description="SNIP (Lee et al. ICLR 2019; zero-cost-nas): sum over conv/linear weights "
                      "of |w * dL/dw|")
def snip(ctx: ScoringContext) -> float:
    return f64_sum((w.detach() * g).abs().sum() for w, g in layer_loss_grads(ctx)
                    if g is not None)


@register("grasp", higher_is_better=True, disconnected_value=_ZERO,
          cost="one forward + one double backward (Hessian-gradient product)",
          description="GraSP as zero-cost-nas computes it: sum over conv/linear weights of "
                      "-w * (H g), g = dL/dW, Hg = d(g.dL/dW)/dW (zero-cost-nas sign: minus "
                      "theta*Hg, higher is better)")
def grasp(ctx: ScoringContext) -> float:
    weights = [m.weight for m in weight_layers(ctx.model)]
    loss = ctx.batch_loss(ctx.model(ctx.x))
    grad_f = torch.autograd.grad(loss, weights, create_graph=True, allow_unused=True)
    used = [(w, g) for w, g in zip(weights, grad_f) if g is not None]
    z = sum((g.detach() * g).sum() for _, g in used) if used else None
    if z is None or not z.requires_grad:
        return 0.0
    hg = torch.autograd.grad(z, [w for w, _ in used], allow_unused=True)
    return f64_sum((-w.detach() * h).sum() for (w, _), h in zip(used, hg) if h is not None)


@register("fisher", higher_is_better=True, disconnected_value=_ZERO,
          cost="one forward + one backward (to the activations)",
          description="zero-cost-nas channel-wise Fisher: sum over conv/linear layers and "
                      "output channels k of 0.5*mean_n(sum_hw a*dL/da)^2 * numel(W)/C_out, "
                      "a = the layer's output")
def fisher(ctx: ScoringContext) -> float:
    total = 0.0
    for module, act, g in layer_output_grads(ctx.model, lambda m: ctx.batch_loss(m(ctx.x))):
        per_channel_weights = module.weight[0].numel()  # broadcast over weight.shape[1:]
        total += float(channel_fisher(act, g).abs().sum()) * per_channel_weights
    return total


def layer_output_grads(model: nn.Module, loss_of) -> list[tuple[nn.Module, torch.Tensor,
                                                                  torch.Tensor]]:
    """(module, output, dL/doutput) of every conv/linear call, L = ``loss_of(model)``; calls
    whose output does not reach L are left out."""
    with LayerRecorder(model) as rec:
        loss = loss_of(model)
    calls = [(m, out) for m, _, out in rec.calls if out.requires_grad]
    if not calls:
        return []
    grads = torch.autograd.grad(loss, [out for _, out in calls], allow_unused=True)
    return [(m, out, g) for (m, out), g in zip(calls, grads) if g is not None]


def channel_fisher(act: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """F_k = 0.5 * mean_n (sum_hw a[n,k,h,w] * dL/da[n,k,h,w])^2 for one conv/linear output
    ``act`` and its gradient ``grad`` (a linear output has no h, w): one value per channel."""
    prod = act.detach() * grad
    g_nk = prod.sum(dim=tuple(range(2, prod.dim()))) if prod.dim() > 2 else prod
    return g_nk.pow(2).mean(0).mul(0.5)


def _bn_identity(x):
    return x


def synflow_value(model: nn.Module, input_shape, device=None) -> float:
    """Synflow of ``model`` (which this function converts in place; pass a copy): every BN
    becomes the identity, every parameter and buffer its absolute value, float64; R = sum of
    the outputs on one all-ones input; returns sum over conv/linear weights of |w * dR/dw|."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.forward = _bn_identity  # as zero-cost-nas' bn=False copy: BN is a no-op
    with torch.no_grad():
        for t in model.state_dict().values():
            if t.is_floating_point():
                t.abs_()
    model.double()
    ones = torch.ones(1, *input_shape, dtype=torch.float64, device=device)
    out = model(ones)
    weights = [m.weight for m in weight_layers(model)]
    grads = torch.autograd.grad(out.sum(), weights, allow_unused=True)
    return f64_sum((w.detach() * g).abs().sum() for w, g in zip(weights, grads) if g is not None)


@register("synflow", higher_is_better=True, disconnected_value=_ZERO,
          cost="network rebuild + one forward/backward at batch 1 in float64",
          description="SynFlow (Tanaka et al. 2020; zero-cost-nas): BN off, |theta|, float64, "
                      "all-ones input of batch 1, sum over conv/linear weights of "
                      "|theta * dR/dtheta|, R = sum of outputs")
def synflow(ctx: ScoringContext) -> float:
    model = ctx.make_model() if ctx.make_model is not None else copy.deepcopy(ctx.model)
    return synflow_value(model, tuple(ctx.x.shape[1:]), ctx.x.device)


def jacob_cov_from_jacobian(jacobian: np.ndarray) -> float:
    """-sum(log(v + k) + 1/(v + k)) over the eigenvalues v of corrcoef(jacobian rows)."""
    jac = np.asarray(jacobian, dtype=np.float64).reshape(len(jacobian), -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = np.corrcoef(jac)
    if not np.all(np.isfinite(corr)):
        return float("nan")  # a constant row (e.g. a zero Jacobian): correlation undefined
    v = np.linalg.eigvalsh((corr + corr.T) / 2)
    k = JACOB_COV_K
    with np.errstate(invalid="ignore"):
        return float(-np.sum(np.log(v + k) + 1.0 / (v + k)))


@register("jacob_cov", higher_is_better=True, disconnected_value=float("nan"),
          cost="one forward + one backward (to the input)",
          description="jacob_cov (Mellor et al. NASWOT v1; zero-cost-nas): eigenvalues v of "
                      "corrcoef of the input Jacobian rows J = d(sum of outputs)/dx, score "
                      "-sum(log(v+1e-5) + 1/(v+1e-5))")
def jacob_cov(ctx: ScoringContext) -> float:
    x = ctx.x.detach().clone().requires_grad_(True)
    out = ctx.model(x)
    (jac,) = torch.autograd.grad(out.sum(), x)  # y.backward(ones_like(y)); x.grad
    return jacob_cov_from_jacobian(jac.detach().reshape(len(jac), -1).double().cpu().numpy())

