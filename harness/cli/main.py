"""``nasi-harness COMMAND [OPTIONS]``: the console script. Each command runs the same code as
``python -m harness.COMMAND`` (one-line errors, exit code 2 for bad input)."""

from __future__ import annotations

import importlib
import sys

import harness.cli as cli

COMMANDS = {
    "rank": "score architectures and pair them with ground truth (ranking.csv, summary.json)",
    "report": "report (markdown, CSV, JSON, figures) from rank run folders",
    "search": "training-free search (evolution, random, REINFORCE, the NASI replication)",
    "arch": "look architectures up: index, arch string, connectivity, params, FLOPs, accuracy",
    "perf": "throughput of the nasi score, our engine vs the straightforward loop",
    "regression": "CI gate on search quality against reports/baseline.json",
}
PROG = "nasi-harness"


def version() -> str:
    """The installed distribution's version (package metadata)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("nasi-harness")
    except PackageNotFoundError:
        return "unknown (not installed; pip install -e .)"


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"usage: {PROG} [--version] [-h] COMMAND [OPTIONS]", "",
             "Training-free NAS evaluation harness for NASI on NAS-Bench-201 / NATS-Bench.", "",
             "commands:"]
    lines += [f"  {name:<{width}}  {text}" for name, text in COMMANDS.items()]
    lines += ["", f"'{PROG} COMMAND --help' shows a command's options;",
              f"'{PROG} COMMAND ...' equals 'python -m harness.COMMAND ...'."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else cli.EXIT_USAGE
    if argv[0] == "--version":
        print(f"{PROG} {version()}")
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        sys.stderr.write(f"{PROG}: error: unknown command {command!r} (choose from "
                         f"{', '.join(COMMANDS)})\n")
        return cli.EXIT_USAGE
    cli.prog_prefix = PROG
    module = importlib.import_module(f"harness.cli.{command}")  # only this command's imports
    return cli.run(module.main, rest)


if __name__ == "__main__":
    raise SystemExit(main())
