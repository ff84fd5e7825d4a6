"""The committed whole-space CIFAR-10 score tables as one frame (index 0..15624).

Sources (all: C=16, N=5, batch 64 of the embedded real CIFAR-10 sample, true labels):
``reports/proxies/runs/c10_real_all_jacobcov_fisher_synflow`` (jacob_cov, fisher, synflow;
seed 42), ``reports/proxies/runs/c10_real_all_gradnorm_snip`` (grad_norm, snip; seed 42),
``reports/full-cifar10`` (nasi; seed 0); params and flops are the benchmark's closed forms.
"""

from __future__ import annotations

import pandas as pd

from benchmarks import load_benchmark
from studies.paths import REPORTS

SOURCES = {
    "proxies/runs/c10_real_all_jacobcov_fisher_synflow/ranking.csv.gz": ("jacob_cov", "fisher",
                                                                        "synflow"),
    "proxies/runs/c10_real_all_gradnorm_snip/ranking.csv.gz": ("grad_norm", "snip"),
    "full-cifar10/ranking.csv.gz": ("nasi",),
}


def load_score_tables(truth: pd.DataFrame | None = None) -> pd.DataFrame:
    """Ground truth plus one column per whole-space score (params, flops: CIFAR-10 net)."""
    table = (truth if truth is not None else load_benchmark()).copy()
    for rel, cols in SOURCES.items():
        df = pd.read_csv(REPORTS / rel).set_index("index").sort_index()
        for c in cols:
            table[c] = df[c].to_numpy()
    table["params"] = table["params_cifar10"]
    table["flops"] = table["flops_cifar10"]
    return table
