"""CI regression gate on search quality: fixed seeds, CPU-sized searches, a committed baseline
with tolerances from measured seed-to-seed variance. A broken search fails it (exit 1, the
failing metrics named); tests/test_gate.py proves that with one mutation per test.

    python -m harness.regression                 # check against reports/baseline.json
    python -m harness.regression --fail-fast     # stop after the first stage that fails
    python -m harness.regression --refresh       # re-measure the baseline on purpose

Metrics (all higher is better), in two stages:

1. ``exact`` (no network runs, deterministic, milliseconds): the search code fed exact rewards
   from committed whole-space score tables must reach the committed target:
   - ``exact_default_search_cifar10_test``: the default search (regularized evolution,
     synflow+jacob_cov) on the table of ``reports/proxies/runs/c10_real_all_jacobcov_fisher_
     synflow``, EXACT_EVALS evaluations, EXACT_SEEDS seeds: mean CIFAR-10 test accuracy;
   - ``exact_nasi_update_cifar10_test``: NASI's one-step update (REINFORCE estimate of its
     penalised reward, the running-max sum of Eq. 18, the per-edge argmax) on the `nasi`
     score table at the search supernet's scale (``reports/search/table-c8n5b32.csv.gz``),
     T = EXACT_STEPS, EXACT_SEEDS seeds.
2. ``networks``:
   - ``kendall_nasi_cifar10_test`` / ``spearman_nasi_cifar10_test``: the `nasi` score of a fixed
     random sample of benchmark networks (real CIFAR-10 images) vs CIFAR-10 test accuracy;
   - ``default_search_mean_cifar10_test``: the default search on real networks, small budget;
   - ``nasi_search_mean_cifar10_test``: the NASI replication (Algorithm 1, straight-through)
     at the default search configuration with T = NASI_STEPS.

``--refresh`` runs every metric at the fixed seed and at ``--variance-seeds`` other seeds
(other init / batch / search seeds, same architecture sample); the tolerance of a metric is
``max(k x std over those seeds, floor)``, except for the exact metrics, whose tolerance is
EXACT_TOLERANCE (they are deterministic: the same code gives the same value). A check fails
when a metric falls more than its tolerance below the baseline.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from benchmarks import load_benchmark
from harness.analysis.correlation import kendall_tau_b, spearman_rho
from harness.errors import UserError
from harness.provenance import environment, write_atomic
from nasi.blackbox import BlackBoxConfig, run_blackbox
from nasi.data import load_batch
from nasi.objective import NetworkEvaluator, Objective
from nasi.scoring import ScoreConfig, score_architecture
from nasi.search import SearchConfig, run_search
from nasi.space import NUM_ARCHS, all_archs, sample_indices
from nasi.table_search import table_blackbox, table_nasi_reinforce

REPORTS = Path(__file__).resolve().parents[2] / "reports"  # the repository's committed data
BASELINE = REPORTS / "baseline.json"
DEFAULT_TABLE = REPORTS / "proxies/runs/c10_real_all_jacobcov_fisher_synflow/ranking.csv.gz"
NASI_TABLE = REPORTS / "search/table-c8n5b32.csv.gz"
SAMPLE_SIZE = 40  # architectures in the correlation sample
BATCH = 16  # scoring batch of the correlation metric
SEARCH_SEEDS = (0, 1, 2)
EXACT_SEEDS = 20
EXACT_EVALS = 100
EXACT_STEPS = 400
EXACT_TOLERANCE = 0.05
# The searches are pinned here (not taken from the configs' defaults), so that re-tuning a
# default does not silently move the gate.
DEFAULT_SEARCH = {"method": "evolution", "objective": "synflow+jacob_cov", "evals": 50,
                  "population": 20, "tournament": 5, "batch_size": 64, "C": 16, "N": 5,
                  "labels": "true", "data": "real"}
NASI_SEARCH = {"steps": 20, "batch_size": 32, "mu": 2.0, "nu": None, "nu_mode": "ada",
               "nu_quantile": 0.85, "ada_warmup": 5, "tau": 10.0, "C": 8, "N": 5,
               "bn": "nb201", "st": "chosen", "labels": "true", "data": "real",
               "scale": "log", "estimator": "st", "redraw_every": 0}
K_STD = 3.0
FLOOR = {"kendall_nasi_cifar10_test": 0.02, "spearman_nasi_cifar10_test": 0.02,
         "default_search_mean_cifar10_test": 0.3, "nasi_search_mean_cifar10_test": 0.3}
EXACT_METRICS = ("exact_default_search_cifar10_test", "exact_nasi_update_cifar10_test")


def _mean_accuracy(table, indices) -> float:
    return statistics.fmean(float(table.loc[i, "cifar10_test"]) for i in indices)


def exact_metrics(seed: int, table) -> dict[str, float]:
    """Stage 1: the search code on exact rewards (see the module docstring)."""
    scores = pd.read_csv(DEFAULT_TABLE).set_index("index").sort_index()
    nasi_scores = (pd.read_csv(NASI_TABLE).set_index("index")["nasi"]
                   .reindex(range(NUM_ARCHS)).fillna(0.0).to_numpy())
    seeds = [1000 * seed + s for s in range(EXACT_SEEDS)]
    found = [table_blackbox(BlackBoxConfig(**DEFAULT_SEARCH, seed=s).replace(
        evals=EXACT_EVALS), scores).index for s in seeds]
    nasi_cfg = SearchConfig(**{**NASI_SEARCH, "steps": EXACT_STEPS})
    nasi_found = [table_nasi_reinforce(nasi_scores, nasi_cfg, s) for s in seeds]
    return {"exact_default_search_cifar10_test": _mean_accuracy(table, found),
            "exact_nasi_update_cifar10_test": _mean_accuracy(table, nasi_found)}


def correlation_metrics(seed: int, table) -> dict[str, float]:
    """The architecture sample is fixed (numpy seed 0); ``seed`` sets init and batch."""
    idx = sample_indices(SAMPLE_SIZE, 0)
    cfg = ScoreConfig(batch_size=BATCH, seed=seed)
    x, y = load_batch("cifar10", "real", BATCH, seed)
    x = x.contiguous(memory_format=torch.channels_last)
    scores = [score_architecture(all_archs()[i], ["nasi"], cfg, x, y, channels_last=True)["nasi"]
              for i in idx]
    acc = table.loc[idx, "cifar10_test"].to_numpy()
    return {"kendall_nasi_cifar10_test": kendall_tau_b(scores, acc),
            "spearman_nasi_cifar10_test": spearman_rho(scores, acc)}


def search_metrics(seed: int, table) -> dict[str, float]:
    default, nasi = [], []
    for s in SEARCH_SEEDS:
        cfg = BlackBoxConfig(**DEFAULT_SEARCH, seed=1000 * seed + s)
        evaluator = NetworkEvaluator(Objective.parse(cfg.objective), cfg.score_config())
        default.append(run_blackbox(cfg, evaluator).index)
        nasi.append(run_search(SearchConfig(**NASI_SEARCH, seed=1000 * seed + s), "cpu").index)
    return {"default_search_mean_cifar10_test": _mean_accuracy(table, default),
            "nasi_search_mean_cifar10_test": _mean_accuracy(table, nasi)}


STAGES = (("exact", (exact_metrics,)), ("networks", (correlation_metrics, search_metrics)))


def config() -> dict:
    return {"sample_size": SAMPLE_SIZE, "batch_size": BATCH, "score": "nasi",
            "data": "real (embedded CIFAR-10 sample)", "target": "cifar10_test (200 epochs)",
            "search_seeds": list(SEARCH_SEEDS), "default_search": DEFAULT_SEARCH,
            "nasi_search": NASI_SEARCH, "exact": {
                "seeds": EXACT_SEEDS, "evals": EXACT_EVALS, "steps": EXACT_STEPS,
                "tolerance": EXACT_TOLERANCE, "default_table": str(DEFAULT_TABLE.relative_to(
                    REPORTS.parent)), "nasi_table": str(NASI_TABLE.relative_to(REPORTS.parent))},
            "k_std": K_STD, "floor": FLOOR}


def measure(seed: int, table) -> dict[str, float]:
    out: dict[str, float] = {}
    for _, fns in STAGES:
        for fn in fns:
            out.update(fn(seed, table))
    return out


def refresh(path: Path, variance_seeds: int) -> dict:
    table = load_benchmark()
    t0 = time.monotonic()
    base = measure(0, table)
    spread = [measure(s, table) for s in range(1, variance_seeds + 1)]
    metrics = {}
    for name, value in base.items():
        values = [value] + [m[name] for m in spread]
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        tol = EXACT_TOLERANCE if name in EXACT_METRICS else max(K_STD * std, FLOOR[name])
        metrics[name] = {"value": value, "std_over_seeds": std,
                         "seeds": list(range(variance_seeds + 1)),
                         "values_over_seeds": values, "tolerance": tol}
    baseline = {"kind": "nasi-harness.regression-baseline", "config": config(),
                "metrics": metrics, "environment": environment("cpu"),
                "refresh_seconds": round(time.monotonic() - t0, 1)}
    write_atomic(path, json.dumps(baseline, indent=2) + "\n")
    return baseline


def _read_baseline(path: Path) -> dict:
    try:
        baseline = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read the baseline {path}: {exc}; create it with --refresh") \
            from None
    if not isinstance(baseline, dict) or not isinstance(baseline.get("metrics"), dict):
        raise UserError(f"baseline {path} is not a regression baseline (no 'metrics' object); "
                        "create it with --refresh")
    if baseline.get("config") != config():
        raise UserError(f"baseline {path} was measured with another configuration; "
                        "refresh it with --refresh")
    return baseline


def check(path: Path, fail_fast: bool = False) -> int:
    baseline = _read_baseline(path)
    table = load_benchmark()
    failed: list[str] = []
    print(f"{'metric':<36} {'baseline':>9} {'now':>9} {'tolerance':>9}  status")
    for stage, fns in STAGES:
        now: dict[str, float] = {}
        for fn in fns:
            now.update(fn(0, table))
        for name, value in now.items():
            ref = baseline["metrics"][name]
            drop = not np.isfinite(value) or ref["value"] - value > ref["tolerance"]
            failed += [name] if drop else []
            print(f"{name:<36} {ref['value']:9.4f} {value:9.4f} {ref['tolerance']:9.4f}  "
                  f"{'REGRESSION' if drop else 'ok'}", flush=True)
        if failed and fail_fast:
            print(f"stage '{stage}' failed; later stages not run (--fail-fast)")
            break
    if failed:
        print(f"search quality regressed: {', '.join(failed)} dropped by more than the "
              f"tolerance (baseline {path})", file=sys.stderr)
        return 1
    print("search quality: no regression")
    return 0
