"""A weight-sharing NAS-Bench-201 supernet at initialisation, for NASI's search (Algorithm 1).

Same macro skeleton as :class:`nasi.network.NB201Network` (conv3x3+BN stem; N cells at C; ResNet
reduction C->2C; N cells at 2C; reduction 2C->4C; N cells at 4C; BN-ReLU-pool-linear head), but
every edge of every cell holds one instance of each of the 5 ops of :data:`nasi.space.OPS`
(xautodl's ``NAS201SearchCell``). The weights are drawn once from a seed and never trained.

Parameter names: ``stem``, ``cells.{b}.edges.{e}.{o}.op.{1,2}`` (edge ``e`` in arch-string order,
op ``o`` the index in ``OPS``), ``cells.{b}.conv_a|conv_b|downsample`` for the reduction blocks,
``lastact``, ``classifier``. :meth:`Supernet.subnet_state_dict` maps the sampled ops' weights to
the names of ``NB201Network`` (``cells.{b}.layers.{e}.op...``), so a sampled subnet can be
rebuilt as a standalone network with identical weights.

Forward with a sample (``forward(x, hardwts, index)``):

- ``index[e]`` is the sampled op of edge ``e``; ``hardwts`` (6 x 5) equals the one-hot of
  ``index`` in value and carries the gradient to the architecture logits (Gumbel
  straight-through, see :mod:`nasi.search`). Only the sampled op is run on each edge, so the
  forward value is exactly the sampled subnet's.
- Edge output = ``hardwts[e, c] * op_c(x)`` (c = index[e]) plus, for the other ops, a term with
  value exactly 0 whose derivative defines the straight-through estimator (``st`` option):

  ``"chosen"``  nothing: d out/d hardwts[e, o] = op_o(x) for o = c and 0 for o != c. Every
                 gradient to alpha comes from the sampled op's sensitivity (default).
  ``"gdas"``    GDAS / xautodl ``forward_gdas``: + hardwts[e, o] for o != c, i.e. d out/d
                 hardwts[e, o] = a tensor of ones (as if op_o(x) were all ones).
  ``"full"``    the textbook straight-through Gumbel estimator: every op is run and enters as
                 hardwts[e, o] * op_o(x), so d out/d hardwts is the exact derivative of the
                 relaxed mixture sum_o w_o op_o(x) at the hard sample. DARTS-like cost (every
                 conv of every edge runs forward and backward).

  ``none`` contributes 0 in every mode (op_none(x) = 0, so d out/d hardwts[e, none] = 0,
  except under ``"gdas"`` where it is ones like any unchosen op).
- Work is pruned without changing the value or any gradient (the sampled subnet's function):
  a sampled ``none`` op is not run and edges into nodes that do not reach the cell output
  (in the sampled cell) are skipped. A sampled cell with no input-to-output path outputs
  zeros (see :attr:`nasi.space.Arch.is_connected`); :mod:`nasi.search` does not run the
  network for such a sample.

BatchNorm (``bn``): ``"nb201"`` (default) uses ``affine=True, track_running_stats=True`` in the
cell ops as :mod:`nasi.network` (the module is kept in train mode, so batch statistics are used;
running-stat buffers are updated but never read); ``"batch"`` uses ``affine=False,
track_running_stats=False`` in the cell ops as NATS-algos' search cells (no BN parameters in
the cells). The stem, reduction blocks and head always use the benchmark's affine BN.
"""

from __future__ import annotations

import torch
from torch import nn

from .network import ResNetBasicblock, make_op
from .space import EDGES, NUM_NODES, OPS, Arch

ST_MODES = ("chosen", "gdas", "full")
# The BatchNorm of the supernet's cell ops (module docstring): "nb201" = affine with running
# statistics, as the benchmark's networks; "batch" = no affine, batch statistics only.
CELL_BN_KINDS = ("nb201", "batch")
NONE = OPS.index("none")


def arch_of(index) -> Arch:
    """The Arch of a per-edge op-index vector (list, tuple or tensor of 6 ints)."""
    return Arch(tuple(OPS[int(i)] for i in index))


def index_of(arch: Arch) -> list[int]:
    return [OPS.index(op) for op in arch.ops]


class SearchCell(nn.Module):
    """One NB201 cell holding the 5 ops on each of its 6 edges."""

    def __init__(self, C: int, affine: bool, track: bool):
        super().__init__()
        self.edges = nn.ModuleList(
            nn.ModuleList(make_op(op, C, affine, track) for op in OPS) for _ in EDGES
        )
        self._incoming = [
            [(e, j) for e, (j, kk) in enumerate(EDGES) if kk == k] for k in range(NUM_NODES)
        ]

    def forward(self, x: torch.Tensor, hardwts: torch.Tensor, index: list[int],
                reach: tuple[bool, ...], st: str = "chosen") -> torch.Tensor:
        nodes = [x]
        for k in range(1, NUM_NODES):
            acc = None
            if reach[k]:
                for e, j in self._incoming[k]:
                    y = self._edge(nodes[j], hardwts[e], index[e], self.edges[e], st)
                    if y is not None:
                        acc = y if acc is None else acc + y
            nodes.append(acc if acc is not None else torch.zeros_like(x))
        return nodes[-1]

    @staticmethod
    def _edge(x, w, c, ops, st):
        out = None if c == NONE else w[c] * ops[c](x)
        if st == "chosen":
            return out
        for o, op in enumerate(ops):
            if o == c:
                continue
            if st == "gdas":
                term = w[o].expand_as(x)  # GDAS adds the scalar weight: value 0, grad = ones
            elif o == NONE:
                continue  # w * 0: nothing
            else:
                term = w[o] * op(x)
            out = term if out is None else out + term
        return out


class Supernet(nn.Module):
    """The NB201 one-shot network with every op on every edge (weights fixed at init).

    Args:
        num_classes: 10 / 100 / 120.
        C, N: stem width and cells per stage (NB201: 16 and 5).
        bn: 'nb201' (affine, tracked BN in cells, as nasi.network) or 'batch' (affine=False,
            track_running_stats=False in cells, as NATS-algos' search cells).
        seed: weights are drawn from ``torch.manual_seed(seed)`` inside a forked RNG (the
            global RNG is left untouched), in module-creation order, PyTorch default init.
    """

    def __init__(self, num_classes: int = 10, C: int = 16, N: int = 5, bn: str = "nb201",
                 seed: int = 0):
        super().__init__()
        if bn not in CELL_BN_KINDS:
            raise ValueError(f"bn must be one of {CELL_BN_KINDS}, got {bn!r}")
        if C < 1 or N < 1:
            raise ValueError(f"C and N must be >= 1, got C={C}, N={N}")
        self.C, self.N, self.bn, self.num_classes, self.seed = C, N, bn, num_classes, seed
        affine = track = bn == "nb201"
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.stem = nn.Sequential(
                nn.Conv2d(3, C, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(C)
            )
            widths = [C] * N + [2 * C] + [2 * C] * N + [4 * C] + [4 * C] * N
            reductions = [False] * N + [True] + [False] * N + [True] + [False] * N
            cells: list[nn.Module] = []
            c_prev = C
            for c, red in zip(widths, reductions, strict=True):
                cells.append(ResNetBasicblock(c_prev, c, 2) if red else
                             SearchCell(c, affine, track))
                c_prev = c
            self.cells = nn.ModuleList(cells)
            self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=True))
            self.global_pooling = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Linear(c_prev, num_classes)
        self.train()

    # ------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor, hardwts: torch.Tensor, index, st: str = "chosen"
                ) -> torch.Tensor:
        """Logits of the sampled subnet; see the module docstring for ``hardwts`` and ``st``."""
        if st not in ST_MODES:
            raise ValueError(f"st must be one of {ST_MODES}, got {st!r}")
        index = [int(i) for i in index]
        arch = arch_of(index)
        # Nodes that reach the cell output through non-'none' edges: edges into other nodes
        # change neither the output nor any gradient, so they are not run.
        # (Under st='full' every node is computed: the derivative for an unsampled op on an
        # edge out of such a node needs the node's value.)
        reach = (True,) * NUM_NODES if st == "full" else arch.reaches_output()
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x, hardwts, index, reach, st) if isinstance(cell, SearchCell) else cell(x)
        x = self.global_pooling(self.lastact(x)).flatten(1)
        return self.classifier(x)

    @torch.no_grad()
    def redraw(self, seed: int) -> None:
        """Draw every weight anew at initialisation (PyTorch default init, seeded, forked RNG)
        and reset BatchNorm; the search's ``redraw_every`` uses it."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear, nn.BatchNorm2d)):
                    m.reset_parameters()
        self.seed = seed

    # ------------------------------------------------------------------ parameters
    def shared_parameters(self) -> list[nn.Parameter]:
        """Stem, reduction blocks and head: in every subnet."""
        out: list[nn.Parameter] = list(self.stem.parameters())
        for cell in self.cells:
            if not isinstance(cell, SearchCell):
                out += list(cell.parameters())
        return out + list(self.lastact.parameters()) + list(self.classifier.parameters())

    def subnet_parameters(self, index) -> list[nn.Parameter]:
        """theta(A): the parameters of the sampled subnet (shared ones plus the sampled op of
        every edge of every cell). Unsampled ops' weights are excluded."""
        index = [int(i) for i in index]
        out = self.shared_parameters()
        for cell in self.cells:
            if isinstance(cell, SearchCell):
                for e, c in enumerate(index):
                    out += list(cell.edges[e][c].parameters())
        return out

    def subnet_state_dict(self, arch: Arch) -> dict[str, torch.Tensor]:
        """The sampled subnet's weights under :class:`nasi.network.NB201Network` names."""
        index = index_of(arch)
        out: dict[str, torch.Tensor] = {}
        for name, t in self.state_dict().items():
            parts = name.split(".")
            if parts[0] == "cells" and parts[2] == "edges":
                e, o = int(parts[3]), int(parts[4])
                if index[e] != o:
                    continue
                name = ".".join(["cells", parts[1], "layers", str(e), *parts[5:]])
            out[name] = t
        return out


def standalone_from_supernet(net: Supernet, arch: Arch):
    """An :class:`nasi.network.NB201Network` of ``arch`` holding the supernet's weights
    (for checks: its forward equals the supernet's sampled forward)."""
    from .network import NB201Network

    affine = net.bn == "nb201"
    model = NB201Network(arch, num_classes=net.num_classes, C=net.C, N=net.N,
                         bn_affine=affine, bn_track_running_stats=affine)
    model.load_state_dict(net.subnet_state_dict(arch), strict=True)
    return model.train()


__all__ = ["CELL_BN_KINDS", "ST_MODES", "SearchCell", "Supernet", "arch_of", "index_of",
           "standalone_from_supernet"]
