"""Ground truth of NAS-Bench-201 / NATS-Bench (topology) as one pandas DataFrame.

``load_benchmark(source)`` returns one row per architecture (benchmark index order) with:
``index``, ``arch``, ``iso_key``, ``connected``, ``params_<dataset>``, ``flops_<dataset>``
(benchmark convention, see :mod:`nasi.cost`) and accuracy columns named
``<dataset>_<split>`` (see :mod:`benchmarks.columns` for what each means).

Sources: ``None`` / ``"embedded"`` (shipped table), a NATS-Bench tss ``fast_mode`` folder
(``NATS-tss-v1_0-3ffb9-simple``), or an NB201 ``.pth`` file (see :mod:`benchmarks.official`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from nasi.cost import closed_form_counts
from nasi.datasets import DATASETS
from nasi.space import NUM_ARCHS, all_archs

from .columns import ACCURACY_COLUMNS, TEST_COLUMN, describe  # noqa: F401
from .embedded import load_embedded
from .errors import BenchmarkError

EMBEDDED = "embedded"

__all__ = ["ACCURACY_COLUMNS", "EMBEDDED", "TEST_COLUMN", "BenchmarkError", "describe",
           "load_benchmark", "with_structure"]


def load_benchmark(source: str | Path | None = None, *, cache_dir: str | Path | None = None,
                   progress=None) -> pd.DataFrame:
    """The ground-truth table of all 15,625 architectures from ``source``; ``progress(done,
    total)`` follows the first read of an official folder (see :mod:`benchmarks.official`)."""
    if source is None or str(source) == EMBEDDED:
        acc = load_embedded()
    else:
        from .official import load_official  # optional dependencies live there

        acc = load_official(Path(source), cache_dir=cache_dir, progress=progress)
    return with_structure(acc)


def with_structure(acc: pd.DataFrame) -> pd.DataFrame:
    """Add the columns derived from the search space to an ``index`` + accuracies table."""
    if list(acc["index"]) != list(range(NUM_ARCHS)):
        raise BenchmarkError("a benchmark table must hold indices 0..15624 in order")
    archs = all_archs()
    cols: dict[str, object] = {
        "index": acc["index"].to_numpy(),
        "arch": [str(a) for a in archs],
        "iso_key": [a.iso_key for a in archs],
        "connected": [a.is_connected for a in archs],
    }
    for name, spec in DATASETS.items():
        params, macs = closed_form_counts(archs, name)
        cols[f"params_{spec.key}"] = params
        cols[f"flops_{spec.key}"] = macs / 1e6
    table = pd.DataFrame(cols)
    known = [c for c in ACCURACY_COLUMNS if c in acc.columns]
    extra = [c for c in acc.columns if c != "index" and c not in ACCURACY_COLUMNS]
    for c in known + extra:
        table[c] = acc[c].to_numpy()
    return table.set_index("index", drop=False).rename_axis(None)
