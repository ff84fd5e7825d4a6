"""The NAS-Bench-201 / NATS-Bench topology search space.

A cell is a DAG on 4 nodes; node 0 is the cell input, node 3 its output, and each of the
6 edges j -> k (j < k) carries one of 5 operations. An architecture is written as the
benchmark's string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``: segment k lists the inputs of
node k, ``op~j`` being the op applied to node j.

Three encodings are in use by peers; all are handled here:
- the NB201 string (edges in string order (0>1), (0>2), (1>2), (0>3), (1>3), (2>3));
- the benchmark index 0..15624, in the benchmark's own order (not lexicographic: it is the
  ``meta_archs`` list of the benchmark, shipped as ``nasi/data/nb201_order.txt``);
- NASLib / NAS-Bench-Suite-Zero op-index tuples (edge order (0>1),(0>2),(0>3),(1>2),(1>3),(2>3),
  op order skip_connect, none, nor_conv_3x3, nor_conv_1x1, avg_pool_3x3).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

# NB201 op vocabulary; the position is the op id used by ``str2matrix`` and by our index codes.
OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
CONV_OPS = frozenset({"nor_conv_1x1", "nor_conv_3x3"})

# (source node, target node) of each edge, in arch-string order.
EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
NUM_NODES = 4
NUM_ARCHS = len(OPS) ** len(EDGES)  # 15,625

NASLIB_OPS: tuple[str, ...] = (
    "skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3",
)
# NASLib edge k is our string-order edge NASLIB_EDGE_ORDER[k].
NASLIB_EDGE_ORDER: tuple[int, ...] = (0, 1, 3, 2, 4, 5)


class ArchError(ValueError):
    """A malformed architecture string, index or tuple. The message names the bad part."""


def _edge_name(e: int) -> str:
    j, k = EDGES[e]
    return f"edge {e} (node {j} -> node {k})"


@dataclass(frozen=True, order=True)
class Arch:
    """One cell architecture: the op of each of the 6 edges, in arch-string order."""

    ops: tuple[str, ...]

    def __post_init__(self):
        if len(self.ops) != len(EDGES):
            raise ArchError(f"an architecture has {len(EDGES)} edges, got {len(self.ops)} ops")
        for e, op in enumerate(self.ops):
            if op not in OPS:
                raise ArchError(f"unknown op {op!r} on {_edge_name(e)}; expected one of {OPS}")

    # ----------------------------------------------------------------- constructors
    @classmethod
    def parse(cls, text: str) -> Arch:
        """Parse ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``; raise ArchError naming the bad part."""
        if not isinstance(text, str):
            raise ArchError(f"an architecture string is a str, got {type(text).__name__}")
        s = text.strip()
        segments = s.split("+")
        if len(segments) != NUM_NODES - 1:
            raise ArchError(
                f"expected {NUM_NODES - 1} node segments separated by '+', got {len(segments)} "
                f"in {text!r}"
            )
        ops: list[str] = []
        for k, seg in enumerate(segments, start=1):
            if not (seg.startswith("|") and seg.endswith("|") and len(seg) >= 2):
                raise ArchError(f"node {k} segment {seg!r} must start and end with '|'")
            items = seg[1:-1].split("|")
            if len(items) != k:
                raise ArchError(
                    f"node {k} must have exactly {k} inputs (~0..~{k - 1}), got {len(items)} "
                    f"in segment {seg!r}"
                )
            seen: dict[int, str] = {}
            for item in items:
                op, sep, src = item.partition("~")
                if not sep or not (src.isascii() and src.isdigit()):
                    raise ArchError(f"bad edge {item!r} in node {k}: expected 'op~j'")
                j = int(src)
                if j >= k:
                    raise ArchError(f"edge {item!r} of node {k} comes from node {j} >= {k}")
                if j in seen:
                    raise ArchError(f"duplicate input ~{j} in node {k} segment {seg!r}")
                if op not in OPS:
                    raise ArchError(
                        f"unknown op {op!r} in {item!r} (node {k}); expected one of {OPS}")
                seen[j] = op
            if sorted(seen) != list(range(k)):
                missing = sorted(set(range(k)) - set(seen))
                raise ArchError(f"node {k} is missing inputs {missing}")
            ops.extend(seen[j] for j in range(k))
        return cls(tuple(ops))

    @classmethod
    def from_index(cls, index: int) -> Arch:
        """The architecture at a benchmark index (benchmark order)."""
        order = _benchmark_order()
        if isinstance(index, bool) or not isinstance(index, int):
            raise ArchError(f"an architecture index is an int, got {index!r}")
        if not 0 <= index < NUM_ARCHS:
            raise ArchError(f"index {index} is out of range 0..{NUM_ARCHS - 1}")
        return order[index]

    @classmethod
    def from_naslib(cls, op_indices) -> Arch:
        """From a NASLib / NAS-Bench-Suite-Zero op-index tuple."""
        t = tuple(op_indices)
        if len(t) != len(EDGES):
            raise ArchError(f"a NASLib op-index tuple has 6 entries, got {len(t)}: {t!r}")
        ops = [""] * len(EDGES)
        for k, code in enumerate(t):
            if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code < len(OPS):
                raise ArchError(f"NASLib op index {code!r} at position {k} is not in 0..4")
            ops[NASLIB_EDGE_ORDER[k]] = NASLIB_OPS[code]
        return cls(tuple(ops))

    # ----------------------------------------------------------------- encodings
    def __str__(self) -> str:
        return self.string

    @functools.cached_property
    def string(self) -> str:
        """The NB201 arch string."""
        parts = []
        for k in range(1, NUM_NODES):
            items = [f"{self.ops[e]}~{j}" for e, (j, kk) in enumerate(EDGES) if kk == k]
            parts.append("|" + "|".join(items) + "|")
        return "+".join(parts)

    @functools.cached_property
    def code(self) -> str:
        """Six NB201 op ids in string edge order, e.g. '421211' for index 0."""
        return "".join(str(OPS.index(op)) for op in self.ops)

    @property
    def index(self) -> int:
        """Benchmark index of this architecture."""
        return _index_by_code()[self.code]

    def to_naslib(self) -> tuple[int, ...]:
        return tuple(NASLIB_OPS.index(self.ops[e]) for e in NASLIB_EDGE_ORDER)

    def to_matrix(self) -> list[list[int]]:
        """The benchmark's ``str2matrix``: M[k][j] = op id of edge j -> k (0 also for 'none')."""
        m = [[0] * NUM_NODES for _ in range(NUM_NODES)]
        for e, (j, k) in enumerate(EDGES):
            m[k][j] = OPS.index(self.ops[e])
        return m

    # ----------------------------------------------------------------- structure
    def count(self, op: str) -> int:
        return sum(o == op for o in self.ops)

    @functools.cached_property
    def iso_key(self) -> str:
        """Isomorphism key, equal to NATS-Bench ``get_unique_str``.

        (The benchmark computes it with ``to_unique_str(consider_zero=True)``.)

        Node strings are built bottom-up: 'none' or an input that is exactly zero ('#') gives
        '#'; skip_connect passes the input's string; any other op gives '(input)@op'. A node
        is the sorted '+'-join of its incoming terms. It partitions the space into 6,466
        classes, exactly as the benchmark does; members of a class build isomorphic networks.
        """
        nodes = ["0"]
        for k in range(1, NUM_NODES):
            terms = []
            for e, (j, kk) in enumerate(EDGES):
                if kk != k:
                    continue
                op, src = self.ops[e], nodes[j]
                if op == "none" or src == "#":
                    terms.append("#")
                elif op == "skip_connect":
                    terms.append(src)
                else:
                    terms.append(f"({src})@{op}")
            nodes.append("+".join(sorted(terms)))
        return nodes[-1]

    def live_from_input(self) -> tuple[bool, ...]:
        """Per node: does a chain of non-'none' edges reach it from the cell input?"""
        live = [True] + [False] * (NUM_NODES - 1)
        for e, (j, k) in enumerate(EDGES):  # string order is topological
            if self.ops[e] != "none" and live[j]:
                live[k] = True
        return tuple(live)

    def reaches_output(self) -> tuple[bool, ...]:
        """Per node: does a chain of non-'none' edges lead from it to the cell output?"""
        reach = [False] * (NUM_NODES - 1) + [True]
        for e in reversed(range(len(EDGES))):
            j, k = EDGES[e]
            if self.ops[e] != "none" and reach[k]:
                reach[j] = True
        return tuple(reach)

    @property
    def is_connected(self) -> bool:
        """False for the 341 cells with no input-to-output path (their output is all zeros)."""
        return self.live_from_input()[-1]


# an NB201 arch string is at most 111 characters ('|nor_conv_3x3~0|+...')
MAX_ARCH_CHARS = 200


def parse_arch(spec) -> Arch:
    """An Arch from an Arch, an index (int or digit string) or an arch string."""
    if isinstance(spec, Arch):
        return spec
    if isinstance(spec, int) and not isinstance(spec, bool):
        return Arch.from_index(spec)
    if isinstance(spec, str):
        s = spec.strip()
        if len(s) > MAX_ARCH_CHARS:
            raise ArchError(f"{s[:40]!r}... ({len(s):,} characters) is too long for an index or "
                            f"an arch string (at most {MAX_ARCH_CHARS})")
        digits = s[1:] if s.startswith("-") else s
        if digits.isascii() and digits.isdigit():  # isdigit alone accepts '²'
            return Arch.from_index(int(s))
        if s.startswith("|"):
            return Arch.parse(s)
        raise ArchError(f"{spec!r} is neither a benchmark index nor an arch string '|op~0|+...'")
    raise ArchError(f"cannot read an architecture from {spec!r}")


@functools.cache
def _benchmark_order() -> tuple[Arch, ...]:
    text = resources.files("nasi").joinpath("data/nb201_order.txt").read_text()
    codes = text.split()
    if len(codes) != NUM_ARCHS:
        raise RuntimeError(f"nb201_order.txt holds {len(codes)} entries, expected {NUM_ARCHS}")
    return tuple(Arch(tuple(OPS[int(c)] for c in code)) for code in codes)


@functools.cache
def _index_by_code() -> dict[str, int]:
    return {a.code: i for i, a in enumerate(_benchmark_order())}


def all_archs() -> tuple[Arch, ...]:
    """All 15,625 architectures in benchmark index order."""
    return _benchmark_order()


SAMPLE_METHOD = "numpy.random.default_rng(seed).choice(15625, n, replace=False)"


def sample_indices(n: int, seed: int) -> list[int]:
    """The documented random sample of ``n`` benchmark indices (sorted): every ``--sample N
    --seed S`` run and every script that reuses such a sample draws it here."""
    import numpy as np

    return sorted(int(i) for i in np.random.default_rng(seed).choice(NUM_ARCHS, n,
                                                                     replace=False))
