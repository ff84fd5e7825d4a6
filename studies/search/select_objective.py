"""Choose the search objective on half of the space, show it on the other half.

    python -m studies.search.select_objective [--out reports/search/objective_selection.json]

No network runs: the committed whole-space CIFAR-10 score tables (``studies.search.score_tables``).
Protocol, fixed before looking at any result:
- the space is split at random into a selection half and a held-out half
  (``nasi.space.sample_indices(7812, 2026)`` is the selection half);
- candidates: every objective of 1 to 3 of the scores with whole-space tables (nasi,
  grad_norm, snip, fisher, synflow, jacob_cov, params, flops), combined as the search combines
  them (equal-weight mean of percentile ranks, NaN lowest; ``nasi.objective``);
- criterion: on the selection half only, the mean **CIFAR-10 validation** accuracy
  (``cifar10_valid``: 200 epochs on the 25k train split, x-valid) of the best 0.5 % of the
  half by the objective (39 architectures), since a search returns near-optimal cells of its
  objective; ties broken by fewer scores (cheaper);
- held-out figures: the same statistics and Spearman on the other half, for the test
  accuracy of all three datasets.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
from scipy.stats import rankdata, spearmanr

from nasi.space import NUM_ARCHS, sample_indices
from studies.paths import SEARCH_REPORTS
from studies.search.score_tables import load_score_tables

SCORES = ("nasi", "grad_norm", "snip", "fisher", "synflow", "jacob_cov", "params", "flops")
SPLIT_SEED = 2026
TOP_FRACTION = 0.005
TEST = ("cifar10_test", "cifar100_test", "imagenet16_test")


def rank_fitness(table, names, rows) -> np.ndarray:
    """Mean percentile rank over ``names`` among ``rows`` (NaN lowest), as nasi.objective."""
    out = np.zeros(len(rows))
    for n in names:
        v = table[n].to_numpy()[rows].astype(float)
        v = np.where(np.isfinite(v), v, -np.inf)
        out += (rankdata(v, method="average") - 0.5) / len(rows)
    return out / len(names)


def stats(table, names, rows, columns) -> dict:
    f = rank_fitness(table, names, rows)
    k = max(1, int(round(TOP_FRACTION * len(rows))))
    top = rows[np.argsort(-f, kind="stable")[:k]]
    out = {"top_k": k}
    for c in columns:
        acc = table[c].to_numpy()
        out[f"top_{c}"] = round(float(acc[top].mean()), 3)
        out[f"spearman_{c}"] = round(float(spearmanr(f, acc[rows]).statistic), 4)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=str(SEARCH_REPORTS / "objective_selection.json"))
    args = p.parse_args(argv)
    table = load_score_tables()
    sel = np.array(sorted(sample_indices(NUM_ARCHS // 2, SPLIT_SEED)))
    held = np.setdiff1d(np.arange(NUM_ARCHS), sel)
    rows = []
    for k in (1, 2, 3):
        for names in itertools.combinations(SCORES, k):
            rows.append({"objective": "+".join(names),
                         "selection": stats(table, names, sel, ("cifar10_valid",)),
                         "held_out": stats(table, names, held, TEST)})
    rows.sort(key=lambda r: (-r["selection"]["top_cifar10_valid"], r["objective"].count("+")))
    best = rows[0]
    result = {"protocol": __doc__, "split_seed": SPLIT_SEED, "selection_n": len(sel),
              "held_out_n": len(held), "chosen": best["objective"], "candidates": rows}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"{'objective':<32} sel top valid  sel rho | held-out top c10/c100/in16   rho c10")
    for r in rows[:15]:
        s, h = r["selection"], r["held_out"]
        print(f"{r['objective']:<32} {s['top_cifar10_valid']:8.2f} "
              f"{s['spearman_cifar10_valid']:8.3f} | {h['top_cifar10_test']:6.2f} "
              f"{h['top_cifar100_test']:6.2f} "
              f"{h['top_imagenet16_test']:6.2f}   {h['spearman_cifar10_test']:.3f}")
    print(f"chosen: {best['objective']}; wrote {args.out}")


if __name__ == "__main__":
    main()
