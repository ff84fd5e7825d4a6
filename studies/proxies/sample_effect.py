"""How far the 1,000-architecture sample's correlation lies from the whole space's, per score.

    python -m studies.proxies.sample_effect reports/proxies/runs/c10_real_all_gradnorm_snip ...

The sample runs score ``numpy.random.default_rng(42).choice(15625, 1000, replace=False)``.
For every whole-space run given (compact ranking.csv.gz, see ``studies.proxies.make_table``)
and every score in it, this prints Spearman rho with each dataset's published label column over
all finite architectures and over the sample's architectures, and their difference
(sample - full): the part of a sample run's gap to a published whole-space value that is the
draw of the sample.
The whole-space runs use CIFAR-10 images (the only real images we have); the difference is
printed against all three labels, because the same 1,000 architectures are used for every
dataset.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from harness.analysis.correlation import spearman_rho
from harness.reporting.markdown import md_table
from nasi.space import sample_indices
from studies.proxies.make_table import LABEL, read_ranking

SAMPLE = sample_indices(1000, 42)


def rho(table, score: str, label: str) -> float:
    s, t = table[score].to_numpy(float), table[label].to_numpy(float)
    keep = np.isfinite(s) & np.isfinite(t)
    return spearman_rho(s[keep], t[keep])


def sample_error(table, score: str, label: str) -> tuple[float, float]:
    """(rho over the whole space, rho over the sample minus that) of a whole-space table."""
    full = rho(table, score, label)
    return full, rho(table.set_index("index").loc[SAMPLE], score, label) - full


def main(runs: list[str]) -> None:
    rows = []
    for run in map(Path, runs):
        table = read_ranking(run)
        if table is None or len(table) < 15625:
            sys.exit(f"{run}: needs a whole-space ranking (ranking.csv or ranking.csv.gz)")
        for score in json.loads((run / "summary.json").read_text())["config"]["scores"]:
            for label in LABEL.values():
                full, err = sample_error(table, score, label)
                rows.append([score, label, f"{full:+.3f}", f"{full + err:+.3f}", f"{err:+.3f}",
                             f"`{run.name}`"])
    print(md_table(["score", "label", "whole space", "1,000 sample", "sample − whole", "run"],
                   rows))


if __name__ == "__main__":
    main(sys.argv[1:])
