"""Where does fisher's rank correlation come from? Its sum split by layer group.

    python -m studies.proxies.fisher_anatomy --n 1000 --out reports/proxies/runs/c10_fisher_anatomy
    python -m studies.proxies.fisher_anatomy --all --out reports/proxies/runs/c10_all_fisher_anatomy

Our fisher (nasi.scores.proxies.fisher, zero-cost-nas' definition) is a sum over every
conv/linear layer of 0.5 * mean_n(sum_hw a * dL/da)^2 per output channel, each channel
weighted by the layer's fan-in (zero-cost-nas broadcasts the channel value to all weights of
the channel before summing). On the whole space it reads Spearman 0.510 on CIFAR-10 against
the published 0.36. This script scores the same 1,000-architecture sample as
``c10_real_n1000`` (numpy default_rng(42), the fixed real batch of 64, seed 42, the engine's
per-isomorphism-class init) and records the sum per layer group (stem conv, cell convs,
reduction-block convs, classifier), with and without the fan-in weight, so that any variant
of the definition that drops or reweights a group can be ranked without running a network
again. Sum of all groups with the weight = our fisher (checked per architecture).
``--all`` scores the whole space instead: one network per isomorphism class (its lowest-index
member, as the engine), the value fanned out to the class, disconnected architectures 0.

Writes OUT/components.csv.gz (index, one column per group and weighting; on the sample also
the registry's fisher) and OUT/summary.json (Spearman of each variant against the three
CIFAR-10 labels, the cross-checks). ``--cell-conv-bias`` gives the cell convs biases first, as
in zero-cost-nas' NB201 model (see add_cell_conv_biases).
"""

from __future__ import annotations

import argparse
import functools
import json
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import pandas as pd
import torch

from studies.paths import PROXY_RUNS

GROUPS = ("stem", "cell", "reduction", "classifier")
LABELS = ["cifar10_valid_oritest", "cifar10_valid", "cifar10_test"]


def _group(name: str, reductions: set[int]) -> str:
    if name.startswith("stem"):
        return "stem"
    if name.startswith("classifier"):
        return "classifier"
    return "reduction" if int(name.split(".")[1]) in reductions else "cell"


def add_cell_conv_biases(model: torch.nn.Module) -> None:
    """Give every cell conv a bias, PyTorch's default init (uniform +-1/sqrt(fan_in)), drawn
    after the network's own weights: the cells of zero-cost-nas' NB201 model use BN
    affine=False and xautodl's ReLUConvBN, whose conv has ``bias = not affine``."""
    from nasi.network import InferCell

    for cell in model.cells:
        if not isinstance(cell, InferCell):
            continue
        for m in cell.modules():
            if isinstance(m, torch.nn.Conv2d):
                bound = 1.0 / (m.weight[0].numel() ** 0.5)
                m.bias = torch.nn.Parameter(torch.empty(m.out_channels).uniform_(-bound, bound))


@functools.cache
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed real CIFAR-10 batch of the sample runs (b=64, seed 42), read once per worker."""
    from nasi.data import load_batch

    return load_batch("cifar10", "real", 64, 42, "true")


def components(index: int, check: bool = True, cell_bias: bool = False) -> dict:
    torch.set_num_threads(1)
    from nasi.network import ResNetBasicblock
    from nasi.scores.context import ScoringContext
    from nasi.scores.proxies import channel_fisher, fisher, layer_output_grads
    from nasi.scoring import ScoreConfig, build_scoring_model
    from nasi.space import Arch

    check = check and not cell_bias  # the registry's network has no biases
    arch = Arch.from_index(index)
    row = {"index": index, **{f"{g}_{w}": 0.0 for g in GROUPS for w in ("w", "u")}}
    if not arch.is_connected:
        return row | ({"fisher": 0.0} if check else {})
    cfg = ScoreConfig(dataset="cifar10", batch_size=64, seed=42)
    x, y = batch()
    model = build_scoring_model(arch, cfg)
    if cell_bias:
        add_cell_conv_biases(model)
    reductions = {i for i, c in enumerate(model.cells) if isinstance(c, ResNetBasicblock)}
    names = {m: n for n, m in model.named_modules()}
    ce = partial(torch.nn.functional.cross_entropy, target=y)
    for m, a, g in layer_output_grads(model, lambda net: ce(net(x))):
        per_channel = float(channel_fisher(a, g).sum())
        grp = _group(names[m], reductions)
        row[f"{grp}_u"] += per_channel
        row[f"{grp}_w"] += per_channel * m.weight[0].numel()
    if check:  # the registry's own fisher on a fresh network of the same seed
        ctx = ScoringContext(build_scoring_model(arch, cfg), x, y, 10, cfg.loss, None,
                             arch=arch, config=cfg)
        row["fisher"] = float(fisher(ctx))
    return row


VARIANTS = {
    "all, fan-in weighted (ours = zero-cost-nas definition)": [f"{g}_w" for g in GROUPS],
    "all, unweighted channel sum": [f"{g}_u" for g in GROUPS],
    "without classifier": ["stem_w", "cell_w", "reduction_w"],
    "without stem": ["cell_w", "reduction_w", "classifier_w"],
    "without reduction blocks": ["stem_w", "cell_w", "classifier_w"],
    "cells only": ["cell_w"],
    "classifier only": ["classifier_w"],
    "stem only": ["stem_w"],
    "reduction blocks only": ["reduction_w"],
}
ENGINE_RUN = PROXY_RUNS / "c10_real_all_jacobcov_fisher_synflow"


def score(args) -> pd.DataFrame:
    """Components per architecture: index + the group columns (+ fisher on the sample)."""
    from harness.scoring.engine import class_representatives
    from nasi.space import Arch, sample_indices

    work = partial(components, check=not args.all, cell_bias=args.cell_conv_bias)
    if args.all:
        reps = class_representatives()
        rep_idx = sorted(a.index for a in reps.values())
        with ProcessPoolExecutor(args.workers) as pool:
            by_rep = {r["index"]: r for r in pool.map(work, rep_idx, chunksize=8)}
        rows = [by_rep[reps[Arch.from_index(i).iso_key].index] | {"index": i}
                for i in range(15625)]
    else:
        idx = sample_indices(args.n, 42)
        with ProcessPoolExecutor(args.workers) as pool:
            rows = list(pool.map(work, idx, chunksize=8))
    return pd.DataFrame(rows)


def summarise(df: pd.DataFrame, protocol: str) -> dict:
    from benchmarks import load_benchmark

    df = df.merge(load_benchmark()[["index", *LABELS]], on="index")
    total = sum(df[f"{g}_w"] for g in GROUPS)
    checks = {}
    if "fisher" in df:  # the registry's fisher on a fresh network, same seed and path
        checks["max_rel_diff_vs_registry_fisher"] = float(
            ((total - df["fisher"]).abs() / df["fisher"].where(df["fisher"] > 0)).max())
    elif len(df) == 15625 and (ENGINE_RUN / "ranking.csv.gz").is_file():
        # the engine's whole-space run (channels_last, other float summation order)
        eng = pd.read_csv(ENGINE_RUN / "ranking.csv.gz")[["index", "fisher"]]
        m = df.assign(total=total).merge(eng, on="index")
        rel = (m["total"] - m["fisher"]).abs() / m["fisher"].where(m["fisher"] > 0)
        checks["vs_engine_run"] = {"run": ENGINE_RUN.name,
                                   "median_rel_diff": float(rel.median()),
                                   "max_rel_diff": float(rel.max()),
                                   "spearman": float(m["total"].corr(m["fisher"], "spearman"))}
    rho = {name: {lab: round(float(df[cols].sum(axis=1).corr(df[lab], method="spearman")), 4)
                  for lab in LABELS} for name, cols in VARIANTS.items()}
    share = {g: round(float((df[f"{g}_w"] / total.where(total > 0)).median()), 4)
             for g in GROUPS}
    return {"protocol": protocol, "n": len(df), "checks": checks,
            "median_share_of_weighted_sum": share, "spearman": rho}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--all", action="store_true",
                   help="whole space, one network per isomorphism class")
    p.add_argument("--cell-conv-bias", action="store_true",
                   help="give every cell conv a bias (zero-cost-nas' NB201 cells: BN "
                        "affine=False, conv bias = not affine)")
    p.add_argument("--summarise", action="store_true",
                   help="only rebuild OUT/summary.json from OUT/components.csv.gz")
    p.add_argument("--out", default=str(PROXY_RUNS / "c10_fisher_anatomy"))
    args = p.parse_args(argv)
    out = Path(args.out)
    if args.summarise:
        if not (out / "components.csv.gz").is_file() or not (out / "summary.json").is_file():
            p.error(f"--summarise: {out} has no components.csv.gz and summary.json")
        df = pd.read_csv(out / "components.csv.gz")
        protocol = json.loads((out / "summary.json").read_text())["protocol"]
    else:
        df = score(args)
        out.mkdir(parents=True, exist_ok=True)
        df.to_csv(out / "components.csv.gz", index=False, float_format="%.9g")
        which = ("all 15,625 (one network per isomorphism class)" if args.all else
                 f"{args.n}-architecture sample (numpy default_rng(42))")
        bias = ", cell convs with biases (zero-cost-nas' cells)" if args.cell_conv_bias else ""
        protocol = (f"{which}, CIFAR-10, fixed real batch of 64 (seed 42), true labels, BN "
                    f"train, CE, init seed 42 per isomorphism key{bias}")
    summary = summarise(df, protocol)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
