"""What every search flow of ``python -m harness.search`` shares: how the searches run
(:class:`SearchOptions`), the evaluation columns, the search groups (transfer / agnostic) and
statistics. The published rows they are compared with are :mod:`benchmarks.published`."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from harness.errors import UserError
from nasi.datasets import DATASETS, get_dataset  # noqa: F401 (re-exported)


@dataclass(frozen=True)
class SearchOptions:
    """How the searches run and where they go (what they search is the method's config)."""

    out: str = "runs/search"
    benchmark: str = "embedded"
    device: str = "auto"
    seeds: int = 5
    seed_start: int = 0
    random_baseline: bool = False
    no_resume: bool = False
    quiet: bool = False
    runs_dir: str | None = None  # black-box: where each search's files go (default OUT/runs)
    threads: int = 1
    workers: int = 1
    executor: str = "local"  # local | ray
    address: str | None = None
    exact_from: str | None = None  # nasi: a score table for the exact-gradient check
    exact_score: str = "nasi"
    exact_steps: str = "10,25,50,100,200"

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


EVAL_COLUMNS = ("cifar10_test", "cifar100_test", "imagenet16_test")
COLUMN_TITLES = {"cifar10_test": "CIFAR-10 test", "cifar100_test": "CIFAR-100 test",
                 "imagenet16_test": "ImageNet16-120 test"}

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
