"""`python -m harness.arch`: the command lives in :mod:`harness.cli.arch`."""

from harness.cli import run
from harness.cli.arch import main

if __name__ == "__main__":
    raise SystemExit(run(main))
