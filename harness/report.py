"""`python -m harness.report`: the command lives in :mod:`harness.cli.report`."""

from harness.cli import run
from harness.cli.report import main

if __name__ == "__main__":
    raise SystemExit(run(main))
