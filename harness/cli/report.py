"""`python -m harness.report`: correlation, top-k, transfer and agnostic analyses of
``harness.rank`` run folders (the library: :func:`harness.reporting.report.write_report`)."""

from __future__ import annotations

import sys
import time

from harness.analysis import correlation as C
from harness.cli import Parser
from harness.errors import UserError
from harness.limits import MAX_BOOTSTRAP, check_count, check_seed
from harness.reporting.report import write_report


def build_parser() -> Parser:
    p = Parser(prog="python -m harness.report",
               description="Correlation, top-k, transfer and agnostic analyses of "
                           "harness.rank run directories, as report.md + CSV + JSON + PNG.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                   help="run directories written by python -m harness.rank")
    p.add_argument("--name", required=True, help="report name (a plain folder name)")
    p.add_argument("--out", help="output folder (default reports/NAME)")
    p.add_argument("--bootstrap", type=int, default=C.DEFAULT_BOOTSTRAP, metavar="N",
                   help=f"bootstrap resamples for the 95%% CIs (default {C.DEFAULT_BOOTSTRAP}; "
                        "0 = no CIs)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    p.add_argument("--no-baselines", action="store_true",
                   help="do not add the params/flops benchmark columns as reference scores")
    p.add_argument("--workers", type=int, default=None,
                   help="threads for the bootstrap (default: CPU count, at most 4)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    check_count(args.bootstrap, "--bootstrap", 0, MAX_BOOTSTRAP)
    check_seed(args.seed)
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers must be >= 1, got {args.workers}")
    t0 = time.monotonic()
    out = write_report(args.run_dirs, args.out, args.name, bootstrap=args.bootstrap,
                       seed=args.seed, plots=not args.no_plots, baselines=not args.no_baselines,
                       workers=args.workers)
    print(f"wrote {out / 'report.md'} in {time.monotonic() - t0:.1f} s", file=sys.stdout)
    return 0

