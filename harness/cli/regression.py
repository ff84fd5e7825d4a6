"""`python -m harness.regression`: the search-quality gate (see :mod:`harness.searching.gate`).

    python -m harness.regression                 # check against reports/baseline.json
    python -m harness.regression --fail-fast     # stop after the first stage that fails
    python -m harness.regression --refresh       # re-measure the baseline on purpose
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli import Parser
from harness.errors import UserError
from harness.provenance import check_writable
from harness.searching import gate
from harness.searching.gate import BASELINE, check, refresh


def main(argv=None) -> int:
    p = Parser(prog="python -m harness.regression", description=gate.__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--baseline", default=str(BASELINE), help=f"default {BASELINE}")
    p.add_argument("--refresh", action="store_true", help="re-measure and overwrite the baseline")
    p.add_argument("--variance-seeds", type=int, default=4,
                   help="extra seeds measured by --refresh for the tolerances (default 4)")
    p.add_argument("--fail-fast", action="store_true",
                   help="stop after the first stage with a regression")
    args = p.parse_args(argv)
    path = Path(args.baseline)
    if args.variance_seeds < 0:
        raise UserError(f"--variance-seeds must be >= 0, got {args.variance_seeds}")
    if args.refresh:
        check_writable(path, "baseline")
        baseline = refresh(path, args.variance_seeds)
        for name, m in baseline["metrics"].items():
            print(f"{name}: {m['value']:.4f} (std over seeds {m['std_over_seeds']:.4f}, "
                  f"tolerance {m['tolerance']:.4f})")
        print(f"wrote {path}")
        return 0
    return check(path, args.fail_fast)
