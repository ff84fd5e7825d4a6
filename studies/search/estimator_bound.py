"""How good can Algorithm 1 get with this reward? An unbiased estimator on exact scores.

    python -m studies.search.estimator_bound reports/search/table-c8n5b32.csv.gz \
        --steps 100,200,400,800,1600 --replicates 200

Algorithm 1 takes one step from alpha = 0, so whatever its gradient estimator, the best it can
return is the per-edge argmax of the exact expected-reward gradient at alpha = 0 (the exact
check, ``nasi.search.exact_gradient``). This script measures how fast an *unbiased* estimator
approaches it when the rewards are exact: each replicate draws T uniform architectures
(numpy ``default_rng(replicate)``), takes their rewards from a table of standalone-network
scores (the same penalised log reward and NASI-ADA nu rule as the search defaults: mu = 2,
q = 0.85, warm-up 5), aggregates them with the search's REINFORCE estimator (running-max
normalised, ``nasi.search`` ``estimator="reinforce"``) and takes the per-edge argmax. No
network runs: the only noise is which architectures were sampled, so this is an optimistic
bound for a real search with T steps (which adds batch and weight-draw noise).

Prints, per T: edge agreement with the exact argmax and the NB201 200-epoch test accuracy
(mean +- std over replicates, ddof 0) on CIFAR-10 / CIFAR-100 / ImageNet16-120.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from benchmarks.embedded import load_embedded
from nasi.search import SearchConfig, exact_gradient
from nasi.space import all_archs
from nasi.supernet import index_of
from nasi.table_search import table_nasi_reinforce

COLUMNS = ("cifar10_test", "cifar100_test", "imagenet16_test")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("table", help="ranking CSV with columns index and the score (all 15,625)")
    p.add_argument("--score", default="nasi")
    p.add_argument("--steps", default="100,200,400,800,1600")
    p.add_argument("--replicates", type=int, default=200)
    args = p.parse_args(argv)

    cfg = SearchConfig()  # the search defaults: reward, mu, nu rule, scale
    tab = pd.read_csv(args.table)
    s_all = tab.set_index("index")[args.score].reindex(range(15625)).fillna(0.0).to_numpy()
    archs = all_archs()
    ops = np.array([index_of(a) for a in archs])  # op indices per edge
    truth = load_embedded().set_index("index")

    ex = exact_gradient(range(15625), s_all, cfg.mu, cfg.nu, cfg.nu_mode, cfg.nu_quantile,
                        scale=cfg.scale)
    best = ex.arch.index
    print(f"exact argmax: index {best} {ex.arch.string}: "
          + " / ".join(f"{truth.loc[best, c]:.2f}" for c in COLUMNS))
    print(f"config: scale={cfg.scale} mu={cfg.mu} nu_mode={cfg.nu_mode} q={cfg.nu_quantile} "
          f"replicates={args.replicates}")
    for T in [int(t) for t in args.steps.split(",")]:
        acc, agree = [], []
        for rep in range(args.replicates):
            found = table_nasi_reinforce(s_all, cfg.replace(steps=T), seed=rep)
            acc.append(truth.loc[found, list(COLUMNS)].to_numpy(float))
            agree.append(float((np.array(index_of(all_archs()[found])) == ops[best]).mean()))
        a = np.array(acc)
        print(f"T={T:5d}: edge agreement {np.mean(agree):.2f}; "
              + " / ".join(f"{m:.2f} +- {sd:.2f}" for m, sd in zip(a.mean(0), a.std(0))))


if __name__ == "__main__":
    main()
