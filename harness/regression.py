"""`python -m harness.regression`: the command lives in :mod:`harness.cli.regression`."""

from harness.cli import run
from harness.cli.regression import main

if __name__ == "__main__":
    raise SystemExit(run(main))
