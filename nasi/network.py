"""The exact NAS-Bench-201 network ("infer.tiny" of xautodl), built from an Arch.

Macro skeleton (C=16, N=5): conv3x3+BN stem (no ReLU); 5 cells at C; ResNet reduction block
C->2C; 5 cells at 2C; reduction 2C->4C; 5 cells at 4C; head BN-ReLU-global-pool-linear.
Parameter names follow the benchmark (``stem``, ``cells.i.layers.e.op``, ``cells.5.conv_a``,
``lastact``, ``classifier``), so NATS-Bench state dicts load with ``load_state_dict``.
``forward`` returns the logits only (the benchmark's module returns ``(features, logits)``).

``prune=False`` evaluates cells exactly as the benchmark's module does (every edge, 'none'
ops included). ``prune=True`` computes the same function and the same gradients with less
work: dead edges and 'none' ops skipped (:func:`edge_plan`), one ReLU per node shared by its
conv edges, pooling as a depthwise box filter, in-place sums. The module tree and parameter
creation order are unchanged, so one seed gives identical weights either way.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from .space import EDGES, NUM_NODES, Arch

# How a cell evaluates one edge.
RUN, DROP, BIAS = "run", "drop", "bias"


def _bn(C: int, affine: bool, track: bool) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(C, affine=affine, track_running_stats=track)


class ReLUConvBN(nn.Module):
    def __init__(self, C_in, C_out, kernel, stride, padding, affine=True, track=True):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_out, kernel, stride=stride, padding=padding, bias=False),
            _bn(C_out, affine, track),
        )

    def forward(self, x):
        return self.op(x)

    def after_relu(self, relu_x):
        """Conv-BN on an input the caller has already passed through ReLU."""
        return self.op[2](self.op[1](relu_x))

    def on_zero_input(self, like: torch.Tensor) -> torch.Tensor:
        """Exactly ``self(zeros_like(like))``: conv(0) = 0, so the output is BN of zeros, a
        per-channel constant (the BN bias at init). Computed on a 1x1x2 zero map, which gives
        the same batch statistics (mean 0, var 0), the same gradients and running-stat update."""
        bn = self.op[2]
        zero = like.new_zeros(1, bn.num_features, 1, 2)
        return bn(zero)[..., :1].expand(like.shape[0], -1, like.shape[2], like.shape[3])


class Pooling(nn.Module):
    def __init__(self):
        super().__init__()
        self.op = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
        self._inv_count: dict[tuple, torch.Tensor] = {}

    def forward(self, x):
        return self.op(x)

    def fast(self, x):
        """The same average (count_include_pad=False) as a depthwise 3x3 box sum times
        1/count: oneDNN runs it 2x faster than avg_pool2d on 32x32 maps (forward+backward)."""
        n, c, h, w = x.shape
        key = (c, h, w, x.device, x.dtype)
        if key not in self._inv_count:
            ones = torch.ones(1, 1, h, w, dtype=x.dtype, device=x.device)
            count = F.conv2d(ones, torch.ones(1, 1, 3, 3, dtype=x.dtype, device=x.device),
                             padding=1)
            self._inv_count[key] = (
                torch.ones(c, 1, 3, 3, dtype=x.dtype, device=x.device),
                count.reciprocal(),
            )
        box, inv = self._inv_count[key]
        return F.conv2d(x, box, padding=1, groups=c) * inv


class Zero(nn.Module):
    def forward(self, x):
        return x.mul(0.0)


def make_op(name: str, C: int, affine=True, track=True) -> nn.Module:
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(C, C, 1, 1, 0, affine, track)
    if name == "nor_conv_3x3":
        return ReLUConvBN(C, C, 3, 1, 1, affine, track)
    if name == "avg_pool_3x3":
        return Pooling()
    raise ValueError(f"unknown op {name!r}")


def edge_plan(arch: Arch, prune: bool) -> tuple[str, ...]:
    """How each edge is evaluated. Without pruning every edge runs, as in the benchmark.

    With pruning, exactly (same output and gradients at init):
    - 'none' edges are dropped (they add zeros);
    - edges into a node that does not reach the cell output are dropped (no effect on the
      output, zero gradient);
    - a node fed only by 'none' edges or by skip/pool of such nodes is exactly zero and has no
      parameters behind it: skip/pool edges out of it are dropped, and conv edges out of it
      become BIAS (BN of a zero input, computed without the conv).
    """
    if not prune:
        return (RUN,) * len(EDGES)
    reach = arch.reaches_output()
    zero = [False] * NUM_NODES
    plan = []
    for k in range(1, NUM_NODES):
        incoming = [(e, j) for e, (j, kk) in enumerate(EDGES) if kk == k]
        zero[k] = all(
            arch.ops[e] == "none" or (zero[j] and arch.ops[e] in ("skip_connect", "avg_pool_3x3"))
            for e, j in incoming
        )
    for e, (j, k) in enumerate(EDGES):
        op = arch.ops[e]
        if op == "none" or not reach[k]:
            plan.append(DROP)
        elif zero[j]:
            plan.append(BIAS if op in ("nor_conv_1x1", "nor_conv_3x3") else DROP)
        else:
            plan.append(RUN)
    return tuple(plan)


class InferCell(nn.Module):
    """One NB201 cell: node k = sum of op(node j) over its incoming edges; output = node 3."""

    def __init__(self, arch: Arch, C: int, affine=True, track=True, prune=False):
        super().__init__()
        self.layers = nn.ModuleList(make_op(op, C, affine, track) for op in arch.ops)
        self.plan = edge_plan(arch, prune)
        self.fast = prune  # pruned plan plus faster kernels for the same function
        self._incoming = [
            [(e, j) for e, (j, kk) in enumerate(EDGES) if kk == k] for k in range(NUM_NODES)
        ]

    def forward(self, x):
        if not self.fast:  # the benchmark's own evaluation: every op, every edge
            nodes = [x]
            for k in range(1, NUM_NODES):
                nodes.append(sum(self.layers[e](nodes[j]) for e, j in self._incoming[k]))
            return nodes[-1]
        nodes: list[torch.Tensor | None] = [x]
        relu: dict[int, torch.Tensor] = {}  # ReLU(node j), shared by all conv edges out of j
        for k in range(1, NUM_NODES):
            acc, owned = None, False  # owned: acc is a fresh tensor we may add into in place
            for e, j in self._incoming[k]:
                mode, layer = self.plan[e], self.layers[e]
                fresh = True
                if mode == DROP:
                    continue
                if mode == BIAS:
                    y, fresh = layer.on_zero_input(x), False
                elif isinstance(layer, ReLUConvBN):
                    if j not in relu:
                        relu[j] = torch.relu(nodes[j])
                    y = layer.after_relu(relu[j])
                elif isinstance(layer, Pooling):
                    y = layer.fast(nodes[j])
                else:
                    y = layer(nodes[j])
                    fresh = not isinstance(layer, nn.Identity)
                if acc is None:
                    acc, owned = y, fresh
                elif owned:
                    # BN and pooling do not save their outputs for backward, so adding into
                    # them in place is safe (autograd's version counter would catch it if not).
                    acc = acc.add_(y)
                else:
                    acc, owned = acc + y, True
            nodes.append(acc)
        out = nodes[-1]
        return out if out is not None else torch.zeros_like(x)


class ResNetBasicblock(nn.Module):
    """The NB201 reduction block: stride-2 ReLU-conv-BN, ReLU-conv-BN; avgpool+1x1 shortcut."""

    def __init__(self, C_in, C_out, stride=2, affine=True, track=True):
        super().__init__()
        self.conv_a = ReLUConvBN(C_in, C_out, 3, stride, 1, affine, track)
        self.conv_b = ReLUConvBN(C_out, C_out, 3, 1, 1, affine, track)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(C_in, C_out, kernel_size=1, stride=1, padding=0, bias=False),
        )

    def forward(self, x):
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """The benchmark network for one architecture.

    Args:
        arch: the cell architecture.
        num_classes: 10 / 100 / 120 for CIFAR-10 / CIFAR-100 / ImageNet16-120.
        C, N: stem width and cells per stage (16 and 5 in the benchmark).
        bn_affine, bn_track_running_stats: BatchNorm flags of the cell ops (the benchmark's
            trained networks use True/True; zero-cost peers use False/False). The stem,
            reduction blocks and head keep the benchmark's True/True. Cell convs never have
            a bias here; xautodl's ``ReLUConvBN`` (and zero-cost-nas' copy) gives them
            ``bias = not affine``. With batch-statistics BN right after the conv a bias
            changes no output and no gradient (its own gradient is exactly 0), so only
            scores that read the conv output itself (fisher) or switch BN off (synflow) could
            see it; measured for fisher in reports/proxies (fisher_anatomy.py).
        prune: skip 'none' ops and dead edges (see :func:`edge_plan`).

    ``checkpoint_cells = True`` (set after construction) recomputes each cell's internals in
    the backward pass instead of keeping them (activation checkpointing): the same function,
    batch statistics and gradients with a fraction of the activation memory (harness.oom's
    first answer to an out-of-memory error). Forward hooks on modules inside the cells then
    fire twice (forward and recomputation).

    ``autocast_dtype = torch.bfloat16`` (set after construction, see nasi.precision) runs the
    forward under autocast and returns float32 logits, so the loss and all that follows stay
    float32.
    """

    def __init__(self, arch: Arch, num_classes: int = 10, C: int = 16, N: int = 5,
                 bn_affine: bool = True, bn_track_running_stats: bool = True,
                 prune: bool = False):
        super().__init__()
        self.arch = arch
        self.stem = nn.Sequential(
            nn.Conv2d(3, C, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(C)
        )
        widths = [C] * N + [2 * C] + [2 * C] * N + [4 * C] + [4 * C] * N
        reductions = [False] * N + [True] + [False] * N + [True] + [False] * N
        cells = []
        c_prev = C
        for c, red in zip(widths, reductions):
            if red:
                cells.append(ResNetBasicblock(c_prev, c, 2))
            else:
                cells.append(InferCell(arch, c, bn_affine, bn_track_running_stats, prune))
            c_prev = c
        self.cells = nn.ModuleList(cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)
        self.checkpoint_cells = False
        self.autocast_dtype: torch.dtype | None = None

    def forward(self, x):
        if self.autocast_dtype is None:
            return self._forward(x)
        with torch.autocast(x.device.type, dtype=self.autocast_dtype):
            logits = self._forward(x)
        return logits.float()

    def _forward(self, x):
        x = self.stem(x)
        recompute = self.checkpoint_cells and torch.is_grad_enabled()
        for cell in self.cells:
            x = checkpoint(cell, x, use_reentrant=False) if recompute else cell(x)
        x = self.global_pooling(self.lastact(x)).flatten(1)
        return self.classifier(x)


def build_network(arch: Arch, dataset: str = "cifar10", **kwargs) -> NB201Network:
    """The NB201 network of ``arch`` for a benchmark dataset (its number of classes)."""
    from .datasets import get_dataset

    return NB201Network(arch, num_classes=get_dataset(dataset).num_classes, **kwargs)
