"""Whole-space Spearman of a score measured only on the 1,000 sample: a control-variate estimate.

    python -m studies.proxies.control_variate --validate
    python -m studies.proxies.control_variate --score grasp \
        --sample reports/proxies/runs/c10_real_n1000_fisher_grasp \
        --control-from reports/proxies/runs/c10_real_n1000 --label cifar10_valid_oritest

The 1,000-architecture sample (numpy default_rng(42)) is one draw: its Spearman differs from
the whole space's by a sampling error, and that error is shared by scores that rank the same
architectures alike (sample − whole: snip −0.052, grad_norm −0.050, fisher −0.067 on
CIFAR-10). A score known only on the sample (grasp) is corrected with a control score known
on both (snip):

    estimate = rho_sample(score) − beta * (rho_sample(snip) − rho_whole(snip))

with beta = cov / var of the two sample Spearmans over bootstrap resamples of the sample (the
regression of the score's sampling error on the control's), and the standard error the
bootstrap spread of rho(score) − beta * rho(snip). ``--validate`` applies the estimator to the
scores whose whole-space value we measured (CIFAR-10 whole-space runs restricted to the sample
play the part of the sample run) and prints estimate vs truth.

The control's sample error (rho_sample − rho_whole) comes from the CIFAR-10 whole-space run of
the control, against the label asked for: for CIFAR-100 / ImageNet16-120 sample runs (stand-in
images) that is the same approximation as the README's sample correction (the draw of
architectures, not the images, makes the error).
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

import numpy as np

from harness.analysis.correlation import spearman_rho
from harness.reporting.markdown import md_table
from studies.paths import PROXY_RUNS
from studies.proxies.make_table import read_ranking
from studies.proxies.sample_effect import SAMPLE, rho, sample_error

WHOLE = {  # whole-space CIFAR-10 runs: score -> run
    "grad_norm": "c10_real_all_gradnorm_snip", "snip": "c10_real_all_gradnorm_snip",
    "jacob_cov": "c10_real_all_jacobcov_fisher_synflow",
    "fisher": "c10_real_all_jacobcov_fisher_synflow",
    "synflow": "c10_real_all_jacobcov_fisher_synflow",
}


@functools.cache
def whole_run(name: str):
    """A whole-space run's table (read once per process)."""
    return read_ranking(PROXY_RUNS / name)


def estimate(s, c, t, control_error: float, n_boot: int = 2000, seed: int = 0) -> dict:
    """Control-variate estimate of the whole-space Spearman of ``s`` with ``t``."""
    s, c, t = (np.asarray(v, float) for v in (s, c, t))
    keep = np.isfinite(s) & np.isfinite(c) & np.isfinite(t)
    s, c, t = s[keep], c[keep], t[keep]
    rng = np.random.default_rng(seed)
    boot = np.array([(spearman_rho(s[i], t[i]), spearman_rho(c[i], t[i]))
                     for i in (rng.integers(0, len(s), len(s)) for _ in range(n_boot))])
    cov = np.cov(boot.T)
    beta = float(cov[0, 1] / cov[1, 1])
    raw = spearman_rho(s, t)
    return {"n": int(len(s)), "sample": raw, "beta": beta,
            "estimate": raw - beta * control_error,
            "se": float(np.std(boot[:, 0] - beta * boot[:, 1], ddof=1)),
            "se_raw": float(np.std(boot[:, 0], ddof=1))}


def control_error(control: str, label: str) -> float:
    """rho over the sample minus rho over the whole space, of the control's whole-space run."""
    return sample_error(whole_run(WHOLE[control]), control, label)[1]


def validate(control: str, labels: list[str]) -> None:
    rows = []
    for score, run in WHOLE.items():
        if score == control:
            continue
        table = whole_run(run)
        if control not in table:
            table = table.merge(whole_run(WHOLE[control])[["index", control]], on="index")
        part = table.set_index("index").loc[SAMPLE]
        for label in labels:
            e = estimate(part[score], part[control], part[label], control_error(control, label))
            truth = rho(table, score, label)
            rows.append([score, label, f"{e['sample']:+.3f}",
                         f"{e['estimate']:+.3f} ± {e['se']:.3f}", f"{truth:+.3f}",
                         f"{e['estimate'] - truth:+.3f}", f"{e['sample'] - truth:+.3f}"])
    print(md_table(["score", "label", "sample", "estimate ± se", "whole space (truth)",
                    "estimate − truth", "raw error"], rows))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--validate", action="store_true")
    p.add_argument("--sample", nargs="+", type=Path, help="sample run(s) holding score + control")
    p.add_argument("--control-from", type=Path,
                   help="a run on the same sample and batch holding the control column, when "
                        "the sample run lacks it")
    p.add_argument("--score", default="grasp")
    p.add_argument("--control", default="snip")
    p.add_argument("--label", nargs="+", default=["cifar10_valid_oritest", "cifar100_test",
                                                  "imagenet16_test"])
    args = p.parse_args(argv)
    if not args.validate and not args.sample:
        p.error("give --sample RUN ... or --validate")
    if args.validate:
        validate(args.control, args.label)
        return
    rows = []
    for run in args.sample:
        table = read_ranking(run)
        if table is None:
            p.error(f"{run}: no ranking.csv or ranking.csv.gz (a harness.rank run folder?)")
        if args.control not in table and args.control_from:  # a sibling run, same batch
            sibling = read_ranking(args.control_from)
            if sibling is None or args.control not in sibling:
                p.error(f"--control-from {args.control_from}: no ranking with {args.control}")
            table = table.merge(sibling[["index", args.control]], on="index")
        if args.control not in table or args.score not in table:
            p.error(f"{run}: needs columns {args.score} and {args.control} (see --control-from)")
        for label in args.label:
            err = control_error(args.control, label)
            e = estimate(table[args.score], table[args.control], table[label], err)
            rows.append([args.score, f"`{run.name}`", label, e["n"], f"{e['sample']:+.3f}",
                         f"{e['beta']:.2f}", f"{err:+.3f}",
                         f"{e['estimate']:+.3f} ± {e['se']:.3f}", f"{e['se_raw']:.3f}"])
    print(md_table(["score", "run", "label", "n", "sample", "beta", "control error",
                    "estimate ± se", "raw se"], rows))


if __name__ == "__main__":
    main()
