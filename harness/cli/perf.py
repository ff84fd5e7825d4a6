"""`python -m harness.perf`: throughput of the `nasi` score, our engine vs the straightforward
loop, in one run (see :mod:`harness.scoring.perf`).

    python -m harness.perf [--n 100] [--batch-size 64] [--device auto] [--seed 2022]

Prints one JSON object.
"""

from __future__ import annotations

import json

from harness.cli import Parser
from harness.errors import UserError
from harness.limits import check_batch_fits, check_count, check_seed
from harness.scoring.perf import measure
from nasi.device import resolve_device
from nasi.scoring import ScoreConfig
from nasi.space import NUM_ARCHS


def main(argv=None) -> int:
    p = Parser(prog="python -m harness.perf", description=__doc__)
    p.add_argument("--n", type=int, default=100, help="sample size (default 100)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=2022, help="sample seed (default 2022)")
    p.add_argument("--device", default="auto")
    p.add_argument("--workers", type=int, default=None,
                   help="engine worker processes (default: as harness.rank, the usable cores "
                        "on the CPU, 1 on CUDA)")
    args = p.parse_args(argv)
    check_count(args.n, "--n", 1, NUM_ARCHS)
    check_seed(args.seed)
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers must be >= 1, got {args.workers}")
    device = resolve_device(args.device)
    check_batch_fits(ScoreConfig(batch_size=args.batch_size, data="gaussian"), device,
                     args.workers)
    result = measure(args.n, args.batch_size, args.seed, device,
                     args.workers)
    print(json.dumps(result, indent=2))
    return 0
