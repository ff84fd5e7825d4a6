"""Algorithm 1: T steps at alpha0 = 0, then the one-step update (see :mod:`nasi.search`)."""

from __future__ import annotations

import math
import time

import numpy as np

from .. import seeding
from ..datasets import get_dataset
from ..device import resolve_device
from ..supernet import Supernet, arch_of
from .batches import BatchStream
from .config import N_EDGES, N_OPS, SearchConfig, SearchResult
from .estimators import sample_gumbel, score_and_hard_grad, score_only
from .update import Aggregate, aggregate, decode


def _seed(cfg: SearchConfig, purpose: str) -> int:
    return seeding.derive_seed(seeding.SEARCH, cfg.seed, purpose)


def build_supernet(cfg: SearchConfig, device="cpu") -> Supernet:
    net = Supernet(get_dataset(cfg.dataset).num_classes, C=cfg.C, N=cfg.N, bn=cfg.bn,
                   seed=_seed(cfg, "supernet"))
    return net.to(device).train()


def _sample_trajectory(cfg: SearchConfig, net: Supernet, stream: BatchStream,
                       progress=None) -> dict:
    """The T steps at alpha0: per step (g_t, A_t, s_t, ds_dh_t, loss, seconds)."""
    gen = seeding.torch_generator(_seed(cfg, "gumbel"))
    T = cfg.steps
    gumbels = np.zeros((T, N_EDGES, N_OPS))
    dsdh = np.zeros((T, N_EDGES, N_OPS))
    scores, losses, conn, idxs, secs = (np.zeros(T), np.full(T, np.nan), np.zeros(T, bool),
                                        np.zeros((T, N_EDGES), int), np.zeros(T))
    for t in range(T):
        ts = time.perf_counter()
        if cfg.redraw_every and t and t % cfg.redraw_every == 0:
            net.redraw(_seed(cfg, f"supernet:{t // cfg.redraw_every}"))
        x, y = stream.next()
        g = sample_gumbel(gen)
        index = g.argmax(-1).tolist()  # argmax of softmax((alpha0 + g) / tau) for any tau
        arch = arch_of(index)
        gumbels[t], idxs[t] = g.numpy(), index
        if arch.is_connected and cfg.estimator == "reinforce":
            s, loss = score_only(net, x, y, index)
            scores[t], losses[t], conn[t] = s, loss, True
        elif arch.is_connected:
            s, d, loss = score_and_hard_grad(net, x, y, index, cfg.st)
            scores[t], dsdh[t], losses[t], conn[t] = s, d.double().numpy(), loss, True
        secs[t] = time.perf_counter() - ts
        if progress is not None:
            progress(t + 1, T)
    return {"gumbel": gumbels, "ds_dh": dsdh, "score": scores, "connected": conn,
            "index": idxs, "loss": losses, "step_seconds": secs}


def _step_log(trace: dict, agg: Aggregate) -> list[dict]:
    """One row per step for the search's log (nu, reward and loss None where undefined)."""
    T = len(trace["score"])
    scores, conn, losses = trace["score"], trace["connected"], trace["loss"]
    norms = np.sqrt((agg.G.reshape(T, -1) ** 2).sum(1))
    return [{"t": t + 1, "arch_index": arch_of(trace["index"][t]).index,
             "connected": bool(conn[t]), "score": float(scores[t]),
             "nu": float(agg.nu[t]) if math.isfinite(agg.nu[t]) else None,
             "reward": float(agg.rewards[t]) if conn[t] else None,
             "grad_norm": float(norms[t]),
             "loss": None if not conn[t] else float(losses[t]),
             "seconds": float(trace["step_seconds"][t])} for t in range(T)]


def run_search(cfg: SearchConfig, device="auto", stream: BatchStream | None = None,
               progress=None) -> SearchResult:
    """Algorithm 1 (see :mod:`nasi.search`). ``progress(t, T)`` is called after each step."""
    t0 = time.perf_counter()
    dev = resolve_device(device)
    net = build_supernet(cfg, dev)
    if stream is None:
        stream = BatchStream(cfg.dataset, cfg.data, cfg.batch_size, cfg.labels, cfg.seed, dev)
    trace = _sample_trajectory(cfg, net, stream, progress)
    agg = aggregate(trace, cfg.mu, cfg.nu, cfg.nu_mode, cfg.tau, cfg.nu_quantile,
                    cfg.ada_warmup, cfg.xi, cfg.scale, cfg.estimator)
    alpha = agg.delta  # alpha* = alpha0 + Delta, alpha0 = 0
    arch = decode(alpha)
    seconds = time.perf_counter() - t0
    return SearchResult(cfg, alpha.tolist(), agg.delta.tolist(), arch, arch.index, seconds,
                        _step_log(trace, agg), trace, str(dev))
