"""`python -m harness.perf`: throughput of the `nasi` score, our engine vs the straightforward
loop, in one run (see :mod:`harness.scoring.perf`).

    python -m harness.perf [--n 100] [--batch-size 64] [--device auto] [--seed 2022]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json

from harness.cli import Parser
from harness.scoring.perf import measure
from nasi.device import resolve_device


def main(argv=None) -> int:
    p = Parser(prog="python -m harness.perf", description=__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=100, help="sample size (default 100)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=2022, help="sample seed (default 2022)")
    p.add_argument("--device", default="auto")
    p.add_argument("--workers", type=int, default=None,
                   help="engine worker processes (default: as harness.rank, the usable cores "
                        "on the CPU, 1 on CUDA)")
    args = p.parse_args(argv)
    result = measure(args.n, args.batch_size, args.seed, resolve_device(args.device),
                     args.workers)
    print(json.dumps(result, indent=2))
    return 0
