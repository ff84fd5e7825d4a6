"""`python -m harness.rank`: the command lives in :mod:`harness.cli.rank`."""

from harness.cli import run
from harness.cli.rank import main

if __name__ == "__main__":
    raise SystemExit(run(main))
