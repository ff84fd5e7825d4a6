"""`python -m harness.perf`: throughput of the `nasi` score, our engine vs the straightforward
loop, in one run (see :mod:`harness.scoring.perf`).

    python -m harness.perf [--n 100] [--batch-size 64] [--device auto] [--seed 2022]
                           [--precision fp32|bf16] [--tf32]

Two more measurements, each its own mode:

    python -m harness.perf --peer PATH_TO_zero-cost-nas [--n 100] [--threads T]
        zero-cost-nas' own NB201 model + gradient-norm loop vs ours, same sample, batch and
        threads (harness.scoring.peer)
    python -m harness.perf --agreement [--n 1000] [--cache FILE | --no-cache]
        the same architectures scored in fp32 and bf16: Spearman between them and the
        score-accuracy correlations with bootstrap intervals (harness.scoring.agreement)

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json

from harness.cli import Parser
from harness.cli.rank import precision_options
from harness.errors import UserError
from harness.limits import check_batch_fits, check_count, check_seed
from harness.provenance import json_clean
from harness.scoring.agreement import measure_agreement
from harness.scoring.peer import measure_peer
from harness.scoring.perf import measure
from harness.scoring.rank import DEFAULT_CACHE
from nasi.device import resolve_device
from nasi.precision import check_precision
from nasi.scoring import ScoreConfig
from nasi.space import NUM_ARCHS


def build_parser() -> Parser:
    p = Parser(prog="python -m harness.perf", description=__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=None,
                   help="sample size (default 100; 1000 with --agreement)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=2022, help="sample seed (default 2022)")
    p.add_argument("--device", default="auto")
    p.add_argument("--workers", type=int, default=None,
                   help="engine worker processes (default: as harness.rank, the usable cores "
                        "on the CPU, 1 on CUDA)")
    precision_options(p)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--peer", metavar="PATH",
                      help="time zero-cost-nas (its checkout at PATH) against ours")
    mode.add_argument("--agreement", action="store_true",
                      help="score the sample in fp32 and bf16 and compare the rankings")
    p.add_argument("--threads", type=int, default=None,
                   help="--peer: the peer's torch threads and our worker count (default: the "
                        "usable cores)")
    p.add_argument("--cache", default=str(DEFAULT_CACHE),
                   help=f"--agreement: SQLite score cache (default {DEFAULT_CACHE})")
    p.add_argument("--no-cache", action="store_true", help="--agreement: no cache")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    n = args.n if args.n is not None else (1000 if args.agreement else 100)
    check_count(n, "--n", 1, NUM_ARCHS)
    check_seed(args.seed)
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers must be >= 1, got {args.workers}")
    device = resolve_device(args.device)
    check_batch_fits(ScoreConfig(batch_size=args.batch_size, data="gaussian"), device,
                     args.workers)
    if (args.peer or args.agreement) and (args.precision != "fp32" or args.tf32):
        raise UserError("--precision / --tf32 apply to the plain benchmark, not to --peer "
                        "(float32 against the peer) or --agreement (runs fp32 and bf16)")
    if args.peer and args.workers is not None:
        raise UserError("--peer: use --threads (the peer's torch threads and our workers)")
    if args.agreement:
        check_precision("bf16", False, device)
        result = measure_agreement(n, args.seed, batch_size=args.batch_size, device=device,
                                   workers=args.workers,
                                   cache=None if args.no_cache else args.cache)
    elif args.peer:
        result = measure_peer(args.peer, n, args.batch_size, args.seed, device, args.threads)
    else:
        check_precision(args.precision, args.tf32, device)
        result = measure(n, args.batch_size, args.seed, device, args.workers,
                         args.precision, args.tf32)
    print(json.dumps(json_clean(result), indent=2))
    return 0
