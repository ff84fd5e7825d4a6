"""Does zero-cost-nas' data protocol explain the grad_norm / snip / jacob_cov gaps?

    python -m studies.proxies.per_arch_batches --n 1000 --out reports/proxies/runs/c10_perarch_aug

zero-cost-nas scores every architecture on a NEW mini-batch from a shuffled, augmented
CIFAR-10 training loader (random crop 32 with 4-pixel zero padding, horizontal flip), while
``harness.rank`` scores all architectures on ONE fixed batch. This script reproduces the
per-architecture protocol as far as the embedded data allows: for each architecture of the
same 1,000-architecture sample as ``c10_real_n1000`` (numpy default_rng(42)), a batch of 64
drawn from the 500 embedded CIFAR-10 *test* images (no training images are embedded) with a
seed derived from the architecture index, augmented like the training loader (padding with
black pixels before normalisation), then grad_norm, snip and jacob_cov on the architecture's
own network (initialised from seed 42 and its isomorphism key, as the engine does), computed
by the same registry functions. Two worker processes, one torch thread each.
Writes OUT/ranking.csv (index, arch, scores, ground truth) and prints Spearman per label.
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
import torch

from studies.paths import PROXY_RUNS

NAMES = ["grad_norm", "snip", "jacob_cov"]
LABELS = ["cifar10_valid_oritest", "cifar10_valid", "cifar10_test"]


def augmented_batch(index: int, b: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    from nasi.data import derived_seed, load_cifar10_sample, normalise
    from nasi.datasets import get_dataset

    s = load_cifar10_sample()
    rng = np.random.default_rng(derived_seed(index, "per-arch-batch"))
    pick = rng.choice(len(s["labels"]), size=b, replace=False)
    padded = np.pad(s["images"][pick], ((0, 0), (4, 4), (4, 4), (0, 0)))  # black border
    out = np.empty((b, 32, 32, 3), dtype=np.uint8)
    for i in range(b):
        dy, dx = rng.integers(0, 9, size=2)
        crop = padded[i, dy:dy + 32, dx:dx + 32]
        out[i] = crop[:, ::-1] if rng.random() < 0.5 else crop
    x = normalise(out, get_dataset("cifar10"))
    return x, torch.as_tensor(np.asarray(s["labels"])[pick], dtype=torch.int64)


def score_one(index: int, names: tuple[str, ...] = tuple(NAMES)) -> dict:
    torch.set_num_threads(1)
    from nasi.scoring import ScoreConfig, score_architecture
    from nasi.space import Arch

    arch = Arch.from_index(index)
    x, y = augmented_batch(index)
    cfg = ScoreConfig(dataset="cifar10", batch_size=64, seed=42)
    x = x.contiguous(memory_format=torch.channels_last)
    out = score_architecture(arch, list(names), cfg, x, y, prune=True, channels_last=True)
    return {"index": index, **out}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", default=str(PROXY_RUNS / "c10_perarch_aug"))
    p.add_argument("--scores", default=",".join(NAMES), help="registry names (default %(default)s)")
    args = p.parse_args(argv)
    names = tuple(args.scores.split(","))
    import pandas as pd

    from benchmarks import load_benchmark
    from nasi.space import sample_indices

    idx = sample_indices(args.n, 42)
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(partial(score_one, names=names), idx, chunksize=8))
    table = load_benchmark()
    df = pd.DataFrame(rows).merge(table[["index", "arch", "connected", *LABELS]], on="index")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / "ranking.csv", index=False)
    rho = {n: {lab: round(float(df[[n, lab]].dropna().corr("spearman").iloc[0, 1]), 4)
               for lab in LABELS} for n in names}
    (out / "summary.json").write_text(json.dumps({
        "protocol": "per-architecture augmented batch of 64 from the embedded CIFAR-10 test "
                    "sample, init seed 42 per isomorphism key, BN train, CE",
        "n": len(df), "spearman": rho}, indent=2) + "\n")
    print(json.dumps(rho, indent=2))


if __name__ == "__main__":
    main()
