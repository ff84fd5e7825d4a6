"""`python -m harness.perf`: the command lives in :mod:`harness.cli.perf`."""

from harness.cli import run
from harness.cli.perf import main

if __name__ == "__main__":
    raise SystemExit(run(main))
