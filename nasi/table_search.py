"""Searches fed exact rewards from a table of precomputed scores: no network runs, so the
only randomness is the search's own and the result is exactly reproducible. Used by the CI
gate (``harness.regression``) and the search studies (``reports/search``)."""

from __future__ import annotations

import numpy as np

from .blackbox import BlackBoxConfig, BlackBoxResult, run_blackbox
from .objective import Objective, TableEvaluator
from .search import SearchConfig, aggregate, decode
from .space import NUM_ARCHS, all_archs
from .supernet import index_of


def table_blackbox(cfg: BlackBoxConfig, table) -> BlackBoxResult:
    """A black-box search (``cfg.method``) whose evaluations are looked up in ``table``."""
    return run_blackbox(cfg, TableEvaluator(Objective.parse(cfg.objective), table))


def table_nasi_reinforce(scores: np.ndarray, cfg: SearchConfig, seed: int) -> int:
    """NASI's one-step update with the REINFORCE estimator (``nasi.search``,
    ``estimator="reinforce"``), its penalised reward computed from exact scores: T = cfg.steps
    architectures drawn uniformly (numpy ``default_rng(seed)``; the uniform draw is the
    Gumbel argmax at alpha0 = 0), aggregated as the search aggregates them, decoded by the
    per-edge argmax. ``scores``: the score of every architecture (index order). Returns the
    benchmark index found."""
    scores = np.asarray(scores, dtype=float)
    if scores.shape != (NUM_ARCHS,):
        raise ValueError(f"need one score per architecture ({NUM_ARCHS}), got {scores.shape}")
    archs = all_archs()
    idx = np.random.default_rng(seed).integers(0, NUM_ARCHS, cfg.steps)
    T = cfg.steps
    trace = {"index": np.array([index_of(archs[i]) for i in idx]), "score": scores[idx],
             "connected": np.array([archs[i].is_connected for i in idx]),
             "gumbel": np.zeros((T, 6, 5)), "ds_dh": np.zeros((T, 6, 5))}
    agg = aggregate(trace, cfg.mu, cfg.nu, cfg.nu_mode, cfg.tau, cfg.nu_quantile,
                    cfg.ada_warmup, cfg.xi, cfg.scale, estimator="reinforce")
    return decode(agg.delta).index
