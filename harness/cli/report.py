"""`python -m harness.report`: correlation, top-k, transfer and agnostic analyses of
``harness.rank`` run folders (the library: :func:`harness.reporting.report.write_report`)."""

from __future__ import annotations

import sys
import time

from harness.analysis import correlation as C
from harness.cli import Parser
from harness.errors import UserError
from harness.limits import MAX_BOOTSTRAP, check_count, check_seed
from harness.reporting.figures import check_formats
from harness.reporting.report import write_report


def build_parser() -> Parser:
    p = Parser(prog="python -m harness.report",
               description="Correlation, top-k, transfer and agnostic analyses of "
                           "harness.rank run directories, as report.md + CSV + JSON + "
                           "figures (PNG, PDF, SVG).")
    p.add_argument("run_dirs", nargs="*", metavar="RUN_DIR",
                   help="run directories written by python -m harness.rank")
    p.add_argument("--scores", action="append", default=[], metavar="FILE",
                   help="a score table computed elsewhere (repeatable): a CSV with an index or "
                        "arch column and one column per score, or NASLib's zero-cost benchmark "
                        "JSON (zc_nasbench201.json); its configuration is reported as unknown")
    p.add_argument("--dataset", help="with --scores: the dataset the scores were computed on "
                                     "(cifar10 | cifar100 | ImageNet16-120)")
    p.add_argument("--score-columns", metavar="LIST",
                   help="with --scores: comma-separated score columns to use (default: every "
                        "numeric column that is not an index or ground truth)")
    p.add_argument("--name", help="report name, a plain folder name (default: the first "
                                  "RUN_DIR's folder name)")
    p.add_argument("--out", help="output folder (default reports/NAME)")
    p.add_argument("--formats", default="png", metavar="LIST",
                   help="figure formats, comma-separated: png, pdf, svg (default png)")
    p.add_argument("--bootstrap", type=int, default=C.DEFAULT_BOOTSTRAP, metavar="N",
                   help=f"bootstrap resamples for the 95%% CIs (default {C.DEFAULT_BOOTSTRAP}; "
                        "0 = no CIs)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--no-plots", action="store_true", help="skip the figures")
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
    inputs = list(args.run_dirs) + _score_tables(args)
    if not inputs:
        raise UserError("give at least one RUN_DIR or --scores FILE")
    formats = check_formats(args.formats)
    t0 = time.monotonic()
    out = write_report(inputs, args.out, args.name, bootstrap=args.bootstrap,
                       seed=args.seed, plots=not args.no_plots, baselines=not args.no_baselines,
                       workers=args.workers, formats=formats)
    print(f"wrote {out / 'report.md'} in {time.monotonic() - t0:.1f} s", file=sys.stdout)
    return 0



def _score_tables(args) -> list:
    """The --scores tables, read and checked before any analysis."""
    if not args.scores:
        if args.dataset or args.score_columns:
            raise UserError("--dataset and --score-columns only apply with --scores")
        return []
    if not args.dataset:
        raise UserError("--scores needs --dataset: the dataset its scores were computed on")
    from harness.reporting.score_tables import read_score_table

    columns = [c.strip() for c in (args.score_columns or "").split(",") if c.strip()]
    return [read_score_table(path, args.dataset, columns or None) for path in args.scores]
