"""The ground-truth table shipped with the project (works offline). See data/PROVENANCE.md."""

from __future__ import annotations

from importlib import resources

import pandas as pd

EMBEDDED_FILE = "data/nb201_tss.csv.gz"


def load_embedded() -> pd.DataFrame:
    """Index plus accuracy columns of all 15,625 architectures (NATS-Bench / NB201 v1.1)."""
    with resources.files("benchmarks").joinpath(EMBEDDED_FILE).open("rb") as f:
        return pd.read_csv(f, compression="gzip")
