"""Shared command-line plumbing: one-line errors and exit code 2 for user mistakes."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable

from harness.errors import user_error_types

PLUGIN_HELP = ("a module that registers scores of your own with nasi.scores.register: an "
               "importable module name or a .py file; repeatable. Imported here and by every "
               "worker process or Ray task")
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
EXIT_TERMINATED = 143  # SIGTERM (128 + SIGTERM), e.g. a batch scheduler's time limit


# Set by the ``nasi-harness`` console script: usage lines then read "nasi-harness rank", not
# "python -m harness.rank", so that they show the command the user typed.
prog_prefix: str | None = None


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument on one line (no usage block) and exits with 2."""

    def __init__(self, *args, **kwargs):
        prog = kwargs.get("prog")
        if prog_prefix and prog and prog.startswith("python -m harness."):
            kwargs["prog"] = f"{prog_prefix} {prog.removeprefix('python -m harness.')}"
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that it stops as cleanly as on Ctrl-C."""


def _raise_terminated(signum, frame):
    raise Terminated()


def run(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> int:
    """Run a CLI entry point, turning user errors into one line on stderr and exit code 2,
    and Ctrl-C / SIGTERM into one line and exit code 130 / 143 (worker processes stopped,
    results already stored kept)."""
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        code = main(argv)
    except user_error_types() as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt as exc:
        what = "terminated" if isinstance(exc, Terminated) else "interrupted"
        sys.stderr.write(f"{what}: results already stored (score cache, per-seed files) "
                         "are kept\n")
        return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)
    return int(code or 0)
