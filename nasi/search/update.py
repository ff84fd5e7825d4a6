"""NASI's one-step update (Eq. 13-18): the nu rules, the penalised reward, the straight-through
Jacobian, the running-max normalised sum and the per-edge argmax; :func:`aggregate` re-derives
all of them from a stored search trace for any (mu, nu, rule, tau, scale, estimator)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..space import Arch
from ..supernet import arch_of
from .config import ESTIMATORS, N_EDGES, N_OPS, NU_MODES, SCALES, SearchError


def soft_probs(g: torch.Tensor, tau: float, alpha: torch.Tensor | None = None) -> torch.Tensor:
    """p = softmax((alpha + g) / tau) per edge (alpha0 = 0 by default)."""
    z = g if alpha is None else alpha + g
    return torch.softmax(z / tau, dim=-1)


def st_jacobian_vjp(g: torch.Tensor, tau: float, ds_dh: torch.Tensor) -> torch.Tensor:
    """ds/dalpha at alpha0 = 0 from ds/dh, through h = one_hot + p - stopgrad(p):
    per edge (diag(p) - p p^T) ds_dh / tau."""
    p = soft_probs(g.double(), tau)
    v = ds_dh.double()
    return p * (v - (p * v).sum(-1, keepdim=True)) / tau


def nu_schedule(scores: np.ndarray, connected: np.ndarray, mode: str, nu: float | None,
                quantile: float = 0.5, warmup: int = 5) -> np.ndarray:
    """nu_t for every step. fix: nu. ada: the ``quantile`` of the connected scores of steps
    < t once ``warmup`` of them exist, else the initial ``nu``. nu None = +inf (no constraint)."""
    T = len(scores)
    nu = math.inf if nu is None else float(nu)
    if mode == "fix":
        return np.full(T, nu)
    if mode != "ada":
        raise SearchError(f"nu mode must be one of {NU_MODES}, got {mode!r}")
    out = np.empty(T)
    seen: list[float] = []
    for t in range(T):
        out[t] = float(np.quantile(seen, quantile)) if len(seen) >= warmup else nu
        if connected[t]:
            seen.append(float(scores[t]))
    return out


def reward(s, mu: float, nu, scale: str = "linear"):
    """R = s - mu * max(0, s - nu) (NASI Eq. 13/14), or the same on log s and log nu
    (``scale="log"``); elementwise on arrays."""
    s = np.asarray(s, dtype=np.float64)
    if scale == "log":
        with np.errstate(divide="ignore", invalid="ignore"):
            s, nu = np.log(s), np.log(nu)
    elif scale != "linear":
        raise SearchError(f"scale must be one of {SCALES}, got {scale!r}")
    return s - mu * np.maximum(0.0, s - nu)


def decode(alpha) -> Arch:
    """The architecture of alpha: argmax_A p_alpha(A), the per-edge argmax (Algorithm 1's
    last line); ties go to the first op in OPS order."""
    return arch_of(np.asarray(alpha).argmax(-1))


def running_max_update(G: np.ndarray, xi: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Eq. 18 for every prefix: Delta_t = (xi / t) sum_{i<=t} G_i / max_{j<=i} ||G_j||.

    G: (T, ...) gradients. Returns (Delta_T, cumulative sums S_t = sum_{i<=t} G_i / m_i of
    shape (T, ...)); Delta for a prefix of length t is xi * S_t / t. Steps with a zero running
    max add nothing."""
    G = np.asarray(G, dtype=np.float64)
    T = G.shape[0]
    norms = np.sqrt((G.reshape(T, -1) ** 2).sum(1))
    run = np.maximum.accumulate(norms) if T else norms
    contrib = np.zeros_like(G)
    ok = run > 0
    contrib[ok] = G[ok] / run[ok].reshape((-1,) + (1,) * (G.ndim - 1))
    cum = np.cumsum(contrib, axis=0)
    return xi * cum[-1] / T, cum


@dataclass
class Aggregate:
    G: np.ndarray  # (T, 6, 5)
    nu: np.ndarray  # (T,)
    rewards: np.ndarray  # (T,)
    delta: np.ndarray  # (6, 5)
    prefix_argmax: np.ndarray  # (T, 6): per-edge argmax of Delta after t steps


def aggregate(trace: dict, mu: float, nu: float | None, nu_mode: str, tau: float,
              nu_quantile: float = 0.5, ada_warmup: int = 5, xi: float = 1.0,
              scale: str = "linear", estimator: str = "st") -> Aggregate:
    """G_t, nu_t, R_t and Delta from a search trace (``SearchResult.trace``) for any (mu, nu,
    rule, tau, scale): exact, since the sampled architectures do not depend on them.

    G_t = (1 - mu 1[s_t > nu_t]) ds_t/dalpha (linear), divided by s_t under ``scale="log"``
    (d log s = ds / s). ``estimator="reinforce"``: G_t = (R_t - b_t) (onehot(A_t) -
    softmax(alpha0)) with b_t the mean reward of the connected steps before t (b_1 = R_1)."""
    s = np.asarray(trace["score"], dtype=np.float64)
    conn = np.asarray(trace["connected"], dtype=bool)
    g = torch.as_tensor(np.asarray(trace["gumbel"]))
    dsdh = torch.as_tensor(np.asarray(trace["ds_dh"]))
    T = len(s)
    nus = nu_schedule(s, conn, nu_mode, nu, nu_quantile, ada_warmup)
    ds_da = st_jacobian_vjp(g, tau, dsdh).numpy() if T else np.zeros((0, N_EDGES, N_OPS))
    if estimator == "reinforce":
        return _aggregate_reinforce(trace, s, conn, nus, mu, scale, xi)
    if estimator != "st":
        raise SearchError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    factor = np.where(s > nus, 1.0 - mu, 1.0) * conn
    if scale == "log":
        factor = np.where(conn, factor / np.where(conn & (s > 0), s, 1.0), 0.0)
    G = ds_da * factor[:, None, None]
    with np.errstate(invalid="ignore"):
        rewards = np.where(conn, reward(s, mu, nus, scale), 0.0)
    delta, cum = running_max_update(G, xi)
    return Aggregate(G, nus, rewards, delta, cum.argmax(-1))


def _aggregate_reinforce(trace, s, conn, nus, mu, scale, xi) -> Aggregate:
    idx = np.asarray(trace["index"], dtype=int)
    T = len(s)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = reward(s, mu, nus, scale)
    ok = conn & np.isfinite(r)
    G = np.zeros((T, N_EDGES, N_OPS))
    total, n = 0.0, 0
    for t in range(T):
        if not ok[t]:
            continue
        base = total / n if n else r[t]  # past rewards only: the estimator stays unbiased
        onehot = np.zeros((N_EDGES, N_OPS))
        onehot[np.arange(N_EDGES), idx[t]] = 1.0
        G[t] = (r[t] - base) * (onehot - 1.0 / N_OPS)
        total, n = total + r[t], n + 1
    delta, cum = running_max_update(G, xi)
    return Aggregate(G, nus, np.where(ok, r, 0.0), delta, cum.argmax(-1))

