"""What every search flow of ``python -m harness.search`` shares: the evaluation columns, the
published rows they are compared with, the search groups (transfer / agnostic), statistics
and JSON cleaning."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from nasi.datasets import DATASETS, get_dataset  # noqa: F401 (re-exported)

from .cli import UserError

EVAL_COLUMNS = ("cifar10_test", "cifar100_test", "imagenet16_test")
COLUMN_TITLES = {"cifar10_test": "CIFAR-10 test", "cifar100_test": "CIFAR-100 test",
                 "imagenet16_test": "ImageNet16-120 test"}

# [S]: Causal-Znas Table 2 quoting NASI (docs: nasi-method.md section 2.1); 1080Ti GPU seconds.
PAPER_ROWS = (
    {"method": "NASI (T) [S]", "cost": "30 GPU-s (1080Ti)",
     "cifar10_test": (93.08, 0.24), "cifar100_test": (69.51, 0.59),
     "imagenet16_test": (40.87, 0.85)},
    {"method": "NASI (4T) [S]", "cost": "120 GPU-s (1080Ti)",
     "cifar10_test": (93.55, 0.10), "cifar100_test": (71.20, 0.14),
     "imagenet16_test": (44.84, 1.41)},
)
PAPER_SOURCE = ("[S]: secondary source, Causal-Znas Table 2 quoting NASI (also on the "
                "PapersWithCode NATS-Bench-Topology leaderboard); whether NASI searched on "
                "CIFAR-10 and transferred is not confirmed; search cost on one 1080Ti GPU.")
# Other training-free searches on NB201, for the leaderboard (same table of the docs: TE-NAS
# [S] from third-party notes on the TE-NAS paper; NASWOT [P] Mellor et al. ICML 2021 Table 2).
ANCHOR_ROWS = (
    {"method": "TE-NAS [S]", "cost": "1558 GPU-s",
     "cifar10_test": (93.9, 0.47), "cifar100_test": (71.24, 0.56),
     "imagenet16_test": (42.38, 0.46)},
    {"method": "NASWOT (N=1000) [P]", "cost": "306 GPU-s (1080Ti)",
     "cifar10_test": (92.96, 0.81), "cifar100_test": (69.98, 1.22),
     "imagenet16_test": (44.44, 2.10)},
)


def search_groups(dataset: str, data: str, labels: str, transfer: bool, agnostic: bool,
                  data_cifar100: str = "gaussian", data_imagenet16: str = "gaussian"
                  ) -> list[dict]:
    """The searches one command runs (name, title, dataset, data, labels)."""
    ds = get_dataset(dataset).name
    if transfer and agnostic:
        raise UserError("use either --transfer or --agnostic, not both")
    if transfer:
        if ds != "cifar10":
            raise UserError("--transfer searches on cifar10 and on each dataset directly; "
                            "leave --dataset at cifar10")
        return [
            {"name": "cifar10", "title": f"searched on CIFAR-10 (data={data}), "
                                         "evaluated on all three (transfer)",
             "dataset": "cifar10", "data": data, "labels": labels},
            {"name": "cifar100-direct", "title": f"searched on CIFAR-100 directly "
                                                 f"(data={data_cifar100})",
             "dataset": "cifar100", "data": data_cifar100, "labels": labels},
            {"name": "imagenet16-direct", "title": f"searched on ImageNet16-120 directly "
                                                   f"(data={data_imagenet16})",
             "dataset": "ImageNet16-120", "data": data_imagenet16, "labels": labels},
        ]
    if agnostic:
        return [
            {"name": "standard", "title": f"standard (true labels, data={data})",
             "dataset": ds, "data": data, "labels": "true"},
            {"name": "random-label", "title": f"random labels (data={data})",
             "dataset": ds, "data": data, "labels": "random"},
            {"name": "random-data", "title": "random data (Gaussian inputs, random labels)",
             "dataset": ds, "data": "gaussian", "labels": "random"},
        ]
    return [{"name": "search", "title": f"searched on {ds} (data={data}, labels={labels})",
             "dataset": ds, "data": data, "labels": labels}]


def stats(values) -> dict:
    """mean, population std (ddof 0) and n of the non-missing values."""
    v = np.asarray([x for x in values if x is not None and not math.isnan(x)], dtype=float)
    if len(v) == 0:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": round(float(v.mean()), 4), "std": round(float(v.std()), 4), "n": len(v)}


def fmt(st: dict) -> str:
    if not st or st.get("mean") is None:
        return "–"
    return f"{st['mean']:.2f} ± {st['std']:.2f}"


def jsonable(obj):
    """Plain JSON types; non-finite floats become null."""
    if isinstance(obj, float):
        return None if not math.isfinite(obj) else obj
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    return obj


def accuracy(truth: pd.DataFrame, index: int, col: str):
    if col not in truth.columns:
        return None
    v = truth.loc[index, col]
    return None if pd.isna(v) else round(float(v), 4)


def optimum(truth: pd.DataFrame) -> dict:
    """The benchmark's best value of each evaluation column, with its index and arch."""
    out = {}
    for c in EVAL_COLUMNS:
        if c in truth.columns:
            i = int(truth[c].idxmax())
            out[c] = {"value": round(float(truth[c].max()), 4), "index": i,
                      "arch": truth.loc[i, "arch"]}
    return out
