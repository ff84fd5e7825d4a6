"""Does bf16 rank architectures as float32 does? The same architectures scored under both
precisions, in one run (the library of ``python -m harness.perf --agreement``).

Both runs go through :func:`harness.scoring.rank.rank` with the same score configuration apart
from ``precision`` (so the same batch, seeds and networks) and the same cache: float32 results
of earlier runs of that configuration are read, not recomputed, and bf16 results are stored
under their own cache key. Reported: Spearman's rho between the bf16 and float32 scores (all
architectures, and connected ones only: the disconnected ones tie at their fixed value in both
and would inflate it), with a bootstrap interval, the relative differences, and for each
precision the score-accuracy Kendall tau-b and Spearman rho with bootstrap intervals
(:func:`harness.analysis.correlation.correlation_table`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.analysis.correlation import bootstrap_ci, correlation_table, spearman_rho
from harness.scoring.executors import LocalExecutor
from harness.scoring.rank import DEFAULT_CACHE, RankRequest, rank
from nasi.datasets import get_dataset
from nasi.precision import PRECISIONS
from nasi.scoring import ScoreConfig
from nasi.space import SAMPLE_METHOD, sample_indices


def _scored(cfg: ScoreConfig, score: str, indices, selection, cache, device, workers,
            progress) -> tuple:
    request = RankRequest(config=cfg, scores=[score], indices=indices, selection=selection,
                          cache=cache, progress=progress)
    ranking = rank(request, device, LocalExecutor(device=device, workers=workers))
    return ranking.table, ranking.summary


def measure_agreement(n: int = 1000, seed: int = 2022, score: str = "nasi",
                      dataset: str = "cifar10", batch_size: int = 64, device=None,
                      workers: int | None = None, cache: str | Path | None = DEFAULT_CACHE,
                      n_boot: int = 1000, progress: bool = False) -> dict:
    """Score ``sample_indices(n, seed)`` in float32 and bf16; the JSON-ready comparison."""
    indices = sample_indices(n, seed)
    selection = {"mode": "sample", "n": n, "seed": seed, "method": SAMPLE_METHOD}
    runs = {}
    for precision in PRECISIONS:
        cfg = ScoreConfig(dataset=dataset, batch_size=batch_size, precision=precision)
        runs[precision] = _scored(cfg, score, indices, selection, cache, device, workers,
                                  progress)
    table = runs["fp32"][0].copy()
    columns = {p: f"{score}_{p}" for p in PRECISIONS}
    for p in PRECISIONS:
        table[columns[p]] = runs[p][0][score].to_numpy()
    target = f"{get_dataset(dataset).key}_test"
    corr = correlation_table(table, list(columns.values()), [target],
                             subsets=("all", "connected"), n_boot=n_boot, seed=0)
    return {
        "score": score, "dataset": get_dataset(dataset).name, "batch_size": batch_size,
        "sample": selection, "score_seed": ScoreConfig().seed, "n": len(indices),
        "device": runs["fp32"][1].environment.get("device"),
        "bf16_vs_fp32": _agreement(table, columns, n_boot),
        "score_vs_accuracy": [_correlation_record(row, columns) for row in
                              corr.to_dict("records")],
        "engine": {p: {"classes_computed": runs[p][1].engine.classes_computed,
                       "classes_cached": runs[p][1].engine.classes_cached,
                       "compute_seconds": runs[p][1].engine.compute_seconds}
                   for p in PRECISIONS},
        "bootstrap": {"n_boot": n_boot, "seed": 0, "confidence": 0.95,
                      "method": "percentile, architectures resampled with replacement"},
    }


def _agreement(table, columns: dict[str, str], n_boot: int) -> dict:
    fp32, bf16 = (table[columns[p]].to_numpy(float) for p in ("fp32", "bf16"))
    out = {}
    for subset, mask in (("all", np.ones(len(table), bool)),
                         ("connected", table["connected"].to_numpy(bool))):
        a, b = fp32[mask], bf16[mask]
        lo, hi = bootstrap_ci(a, b, n_boot=n_boot, seed=0, metrics=("spearman_rho",))[
            "spearman_rho"]
        out[subset] = {"n": int(mask.sum()), "spearman_rho": spearman_rho(a, b),
                       "spearman_rho_ci": [lo, hi]}
    conn = table["connected"].to_numpy(bool)
    rel = np.abs(bf16[conn] - fp32[conn]) / np.abs(fp32[conn])
    out["connected"]["rel_diff"] = {"median": float(np.median(rel)),
                                    "p95": float(np.percentile(rel, 95)),
                                    "max": float(rel.max())} if rel.size else None
    return out


def _correlation_record(row: dict, columns: dict[str, str]) -> dict:
    precision = next(p for p, c in columns.items() if c == row["score"])
    return {"precision": precision, "target": row["target"], "subset": row["subset"],
            "n": row["n"], "kendall_tau": row["kendall_tau"],
            "kendall_tau_ci": [row["kendall_tau_lo"], row["kendall_tau_hi"]],
            "spearman_rho": row["spearman_rho"],
            "spearman_rho_ci": [row["spearman_rho_lo"], row["spearman_rho_hi"]]}
