"""Markdown table of our correlations (from harness.rank runs) next to the published ones.

    python -m studies.proxies.make_table reports/proxies/runs/*
    python -m studies.proxies.make_table --spread RUN_A RUN_B ...   # same archs, other seed/labels

For each run folder (ranking.csv + summary.json of ``python -m harness.rank``) and each score in
it: Spearman rho and Kendall tau-b of the raw score with the published protocol's label column
of the run's dataset (CIFAR-10: cifar10_valid_oritest = cifar10-valid run, ori-test @200
epochs; CIFAR-100 / ImageNet16-120: x-test @200), over the architectures with a finite score,
a 95 % percentile-bootstrap interval of rho (1,000 resamples, seed 0), and the published value
(``benchmarks.published.ANCHORS``).
Published values are |rho| (zero-cost-nas notebook), so a negative rho of ours with the same
magnitude is a sign convention, not a match: the sign is printed as it is.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.published import ANCHORS, KENDALL, SPEARMAN
from harness.analysis.correlation import bootstrap_ci, kendall_tau_b, spearman_rho
from harness.reporting.markdown import md_table

LABEL = {"cifar10": "cifar10_valid_oritest", "cifar100": "cifar100_test",
         "ImageNet16-120": "imagenet16_test"}
# ZiCo's CIFAR-10 column is NATS 'cifar10' ori-test (trained on 50k): #params reproduces its
# numbers exactly on that column (0.753 / 0.578 over all 15,625), not on cifar10-valid.
LABEL_OVERRIDE = {("params", "cifar10"): "cifar10_test", ("flops", "cifar10"): "cifar10_test"}
# The published number each score is compared with: (anchor proxy, metric, source prefix in
# benchmarks.published, source as shown in the table). Published zero-cost-nas values are |rho|.
COMPARED = {
    **{name: (name, SPEARMAN, "Abdelfattah", "zero-cost-nas")
       for name in ("grad_norm", "snip", "grasp", "fisher", "synflow", "jacob_cov")},
    "naswot": ("NASWOT (own paper)", KENDALL, "NASWOT", "NASWOT Fig. 3"),
    "params": ("#Params", SPEARMAN, "ZiCo", "ZiCo Tab. 1"),
    "flops": ("FLOPs", SPEARMAN, "ZiCo", "ZiCo Tab. 1"),
    "ntk_cond": ("TE-NAS (own paper)", KENDALL, "TE-NAS", "TE-NAS (dataset not named)"),
}
METRIC_SHORT = {SPEARMAN: "SPR", KENDALL: "KT"}


def published(score: str) -> tuple[str, dict[str, float]]:
    """(SPR | KT, {dataset: value}) of the anchor ``score`` is compared with, or ("", {})."""
    if score not in COMPARED:
        return "", {}
    proxy, metric, source, _ = COMPARED[score]
    values = {a.dataset: a.value for a in ANCHORS
              if a.proxy == proxy and a.metric == metric and a.source.startswith(source)
              and score in a.scores}
    return METRIC_SHORT[metric], values


PUBLISHED = {name: published(name) for name in COMPARED}
SOURCE = {name: shown for name, (_, _, _, shown) in COMPARED.items()}


def data_cell(cfg: dict) -> str:
    """'real' / 'gaussian', or for a path the stand-in folders of
    ``studies.proxies.stand_in_images``."""
    data = str(cfg["data"])
    if data in ("real", "gaussian"):
        return data
    name = Path(data).name
    what = {"rgb32": "C10 images", "rgb16": "C10 images 16px"}.get(name, f"path {name}")
    return what + (", random labels" if cfg.get("labels") == "random" else "")


def read_ranking(run: Path) -> pd.DataFrame | None:
    """The run's ranking.csv; or its compact ranking.csv.gz (index + score columns, what the
    whole-space runs commit) joined with the embedded ground truth; or None: the closed-form
    whole-space runs keep neither (4.5 MB, rebuilt in seconds), and their rows come from the
    summary's correlations, without an interval."""
    if (run / "ranking.csv").is_file():
        return pd.read_csv(run / "ranking.csv")
    if (run / "ranking.csv.gz").is_file():
        from benchmarks.embedded import load_embedded

        return pd.read_csv(run / "ranking.csv.gz").merge(load_embedded(), on="index")
    return None


def rows(run: Path) -> list[list[str]]:
    summary = json.loads((run / "summary.json").read_text())
    cfg = summary["config"]
    table = read_ranking(run)
    out = []
    for name in cfg["scores"]:
        label = LABEL_OVERRIDE.get((name, cfg["dataset"]), LABEL[cfg["dataset"]])
        if table is None:
            c = next(c for c in summary["correlations"]
                     if c["score"] == name and c["target"] == label)
            n, rho, tau, lo, hi = c["n"], c["spearman_rho"], c["kendall_tau"], None, None
        else:
            s, t = table[name].to_numpy(float), table[label].to_numpy(float)
            keep = np.isfinite(s) & np.isfinite(t)
            s, t, n = s[keep], t[keep], int(keep.sum())
            rho, tau = spearman_rho(s, t), kendall_tau_b(s, t)
            lo, hi = bootstrap_ci(s, t, n_boot=1000, seed=0, metrics=("spearman_rho",))[
                "spearman_rho"]
        ci = "" if lo is None else f" [{lo:+.3f}, {hi:+.3f}]"
        metric, values = PUBLISHED.get(name, ("", {}))
        pub = values.get(cfg["dataset"])
        ours = rho if metric == "SPR" else tau
        diff = "" if pub is None else f"{ours - pub:+.3f}"
        pub_txt = "–" if pub is None else f"{metric} {pub:.3f} ({SOURCE[name]})"
        out.append([name, f"{cfg['dataset']} ({label})", data_cell(cfg), cfg["batch_size"], n,
                    f"{rho:+.3f}{ci}", f"{tau:+.3f}", pub_txt, diff, f"`{run.name}`"])
    return out


def spread(paths: list[str]) -> None:
    """rho with the label on the architectures common to all runs, one column per run."""
    runs = [(Path(p), json.loads((Path(p) / "summary.json").read_text())) for p in paths]
    tables = [pd.read_csv(p / "ranking.csv").set_index("index") for p, _ in runs]
    common = sorted(set.intersection(*(set(t.index) for t in tables)))
    names = [n for n in runs[0][1]["config"]["scores"]
             if all(n in s["config"]["scores"] for _, s in runs)]
    label = LABEL[runs[0][1]["config"]["dataset"]]
    print(f"n = {len(common)} common architectures, label {label}\n")
    table_rows = []
    for name in names:
        vals = []
        for t in tables:
            s, y = t.loc[common, name].to_numpy(float), t.loc[common, label].to_numpy(float)
            keep = np.isfinite(s)
            vals.append(spearman_rho(s[keep], y[keep]))
        table_rows.append([name, *[f"{v:+.3f}" for v in vals], f"{max(vals) - min(vals):.3f}"])
    print(md_table(["proxy", *[f"seed {s['config']['seed']}, {s['config']['labels']} labels"
                               for _, s in runs], "max - min"], table_rows))


def main(paths: list[str]) -> None:
    if paths and paths[0] == "--spread":
        spread(paths[1:])
        return
    table_rows = [r for p in paths if (Path(p) / "summary.json").is_file() for r in rows(Path(p))]
    print(md_table(["proxy", "dataset", "data", "b", "n", "Spearman ours [95% CI]",
                    "Kendall ours", "published", "ours − published", "run"], table_rows))


if __name__ == "__main__":
    main(sys.argv[1:])
