"""The error of the benchmark layer (a leaf module: the loaders raise it, the package
re-exports it, and the command lines map it to a one-line message and exit code 2)."""


class BenchmarkError(Exception):
    """A benchmark source that cannot be read; the message names the path and what to do."""
