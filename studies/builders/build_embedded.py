"""Maintainer script: rebuild the embedded ground-truth table from the two public extracts.

    python -m studies.builders.build_embedded NATS_CSV NB201_CSV

NATS_CSV: columns index, arch, cifar10_test, cifar100_test, imagenet16_test (NATS-Bench 1.8
tss simple release, get_more_info(i, D, hp='200', is_random=False)['test-accuracy']).
NB201_CSV: columns index, arch, cifar10_valid, cifar10_test, cifar10_valid_oritest
(NAS-Bench-201 v1.1, 200 epochs, mean over seeds). See benchmarks/data/PROVENANCE.md.
Arch strings are checked against the benchmark order shipped in nasi/data and then dropped
(the loader re-derives them from the index).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from nasi.space import all_archs
from studies.paths import ROOT

OUT = ROOT / "benchmarks" / "data" / "nb201_tss.csv.gz"


def build(nats_csv: str, nb201_csv: str, out: Path = OUT) -> pd.DataFrame:
    nats = pd.read_csv(nats_csv)
    nb201 = pd.read_csv(nb201_csv)
    order = [str(a) for a in all_archs()]
    for name, df in (("NATS", nats), ("NB201", nb201)):
        if list(df["index"]) != list(range(len(order))) or list(df["arch"]) != order:
            raise SystemExit(f"{name} extract is not in benchmark index order")
    table = pd.DataFrame({
        "index": nats["index"],
        "cifar10_test": nats["cifar10_test"],
        "cifar100_test": nats["cifar100_test"],
        "imagenet16_test": nats["imagenet16_test"],
        "cifar10_valid": nb201["cifar10_valid"],
        "cifar10_valid_oritest": nb201["cifar10_valid_oritest"],
    })
    table.to_csv(out, index=False, compression={"method": "gzip", "mtime": 0})
    return table


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    build(sys.argv[1], sys.argv[2])
