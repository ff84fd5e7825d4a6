"""`python -m harness.search`: the command lives in :mod:`harness.cli.search`."""

from harness.cli import run
from harness.cli.search import main

if __name__ == "__main__":
    raise SystemExit(run(main))
