"""The exact expected-reward gradient at alpha = 0 from a table of scores: what NASI's update
estimates, and the check of a search against it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..space import OPS, Arch, all_archs
from ..supernet import arch_of
from .config import N_EDGES, N_OPS, NU_MODES, SearchError
from .update import reward


@dataclass
class ExactGradient:
    grad: np.ndarray  # (6, 5): d E_{A ~ p_alpha}[R(A)] / d alpha at alpha = 0
    arch: Arch  # per-edge argmax of grad
    nu: float
    mean_reward: float
    n: int  # architectures in the table


def exact_gradient(indices: Sequence[int], scores: Sequence[float], mu: float, nu: float | None,
                   nu_mode: str = "fix", nu_quantile: float = 0.5,
                   zero_disconnected: bool = True, scale: str = "linear") -> ExactGradient:
    """The exact expected-reward gradient at alpha = 0 from a table of scores.

    At alpha = 0 every edge's op is uniform, so d E[R] / d alpha[e, o] = E[R (1[A_e = o] -
    1/5)] = (mean of R over architectures with op o on edge e - mean of R) / 5. R = s - mu *
    max(0, s - nu); with nu_mode 'ada' nu is the ``nu_quantile`` of the connected
    architectures' scores (what the search's ada rule converges to under uniform sampling).
    Disconnected architectures count with R = 0 (their score 0, as in the search) unless
    ``zero_disconnected`` is False (then their table value is used as any other). Under
    ``scale="log"`` (R on log s) a score of 0 would give R = -inf: disconnected architectures
    (and any score <= 0) get the lowest reward of the table's other architectures instead
    (the search gives them G = 0, as for any constant reward). With fewer
    than 15,625 rows the conditional means are over the rows given (an approximation).
    """
    idx = np.asarray(indices, dtype=int)
    s = np.asarray(scores, dtype=np.float64)
    if len(idx) != len(s) or len(idx) == 0:
        raise SearchError("exact check: need one score per index and at least one row")
    if not np.all(np.isfinite(s)):
        raise SearchError("exact check: the score column holds NaN or infinite values")
    archs = all_archs()
    ops = np.array([[OPS.index(o) for o in archs[i].ops] for i in idx])
    conn = np.array([archs[i].is_connected for i in idx])
    if not zero_disconnected:
        conn = np.ones(len(idx), dtype=bool)
    nu = math.inf if nu is None else float(nu)
    if nu_mode == "ada":
        nu = float(np.quantile(s[conn], nu_quantile)) if conn.any() else nu
    elif nu_mode != "fix":
        raise SearchError(f"nu mode must be one of {NU_MODES}, got {nu_mode!r}")
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(conn, reward(s, mu, nu, scale), 0.0)
    if scale == "log":
        ok = conn & (s > 0)
        if not ok.any():
            raise SearchError("exact check: no positive scores of connected architectures")
        r = np.where(ok, r, r[ok].min())
    mean = r.mean()
    grad = np.zeros((N_EDGES, N_OPS))
    for e in range(N_EDGES):
        for o in range(N_OPS):
            sel = ops[:, e] == o
            grad[e, o] = (r[sel].mean() - mean) / N_OPS if sel.any() else 0.0
    return ExactGradient(grad, arch_of(grad.argmax(-1)), float(nu), float(mean), int(len(r)))


def edge_agreement(a: Arch | Sequence[int], b: Arch | Sequence[int]) -> float:
    """Fraction of the 6 edges on which two architectures choose the same op."""
    ia = [OPS.index(o) for o in a.ops] if isinstance(a, Arch) else list(a)
    ib = [OPS.index(o) for o in b.ops] if isinstance(b, Arch) else list(b)
    return float(np.mean([x == y for x, y in zip(ia, ib, strict=True)]))

