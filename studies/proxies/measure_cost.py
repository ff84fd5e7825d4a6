"""Per-architecture cost of each proxy on this machine, as the engine runs them.

    python -m studies.proxies.measure_cost [--n 6] [--batch-size 64] [--seed 42]
        [--scores grad_norm,snip,...]

Scores ``n`` connected architectures (drawn with numpy default_rng(seed) from the benchmark
indices) at C=16, N=5 on CIFAR-10 (embedded real sample), CPU, channels_last, one proxy per
call (so each pays its own forward/backward; params/flops need no network), after one warm-up
call. Prints one JSON line per proxy: median wall and CPU (process) milliseconds per arch.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch

from nasi.data import load_batch
from nasi.scoring import ScoreConfig, score_architecture
from nasi.space import NUM_ARCHS, all_archs

DEFAULT = ("params,flops,nasi,grad_norm,snip,nasi+grad_norm+snip,grasp,fisher,synflow,"
           "jacob_cov,naswot,ntk_trace_hnas,ntk_cond")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=6)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--scores", default=DEFAULT, help="comma list; a+b+c = one shared pass")
    args = p.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    archs = [a for a in (all_archs()[i] for i in rng.permutation(NUM_ARCHS)) if a.is_connected]
    archs = archs[:args.n]
    cfg = ScoreConfig(batch_size=args.batch_size, seed=args.seed)
    x, y = load_batch("cifar10", "real", args.batch_size, args.seed, "true")
    x = x.contiguous(memory_format=torch.channels_last)
    print(json.dumps({"threads": torch.get_num_threads(), "n": len(archs),
                      "batch_size": args.batch_size, "archs": [a.index for a in archs]}))
    for group in args.scores.split(","):
        names = group.split("+")
        score_architecture(archs[0], names, cfg, x, y, channels_last=True)  # warm-up
        wall, cpu = [], []
        for a in archs:
            t, c = time.perf_counter(), time.process_time()
            score_architecture(a, names, cfg, x, y, channels_last=True)
            wall.append(1e3 * (time.perf_counter() - t))
            cpu.append(1e3 * (time.process_time() - c))
        print(json.dumps({"score": group, "wall_ms_median": round(statistics.median(wall), 1),
                          "cpu_ms_median": round(statistics.median(cpu), 1),
                          "wall_ms": [round(v) for v in wall]}), flush=True)


if __name__ == "__main__":
    main()
