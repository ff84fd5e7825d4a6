"""The harness's one error type for bad input; command lines report it in one line, exit 2."""

from __future__ import annotations

import sys


class UserError(Exception):
    """A mistake in the caller's input (an option, a file, a run folder), not a bug."""


def user_error_types() -> tuple[type[BaseException], ...]:
    """Exceptions that mean bad input rather than a bug.

    Only modules already imported can have raised one, so nothing is imported here: an
    argparse error must not pay for importing torch.
    """
    candidates = {
        "benchmarks.errors": "BenchmarkError", "nasi.datasets": "DatasetError",
        "nasi.space": "ArchError", "nasi.scores.registry": "ScoreError",
        "nasi.data_sources": "DataError",
        "harness.scoring.cache": "CacheError", "nasi.device": "DeviceError",
    }
    types: list[type[BaseException]] = [UserError]
    for module, name in candidates.items():
        mod = sys.modules.get(module)
        if mod is not None and hasattr(mod, name):
            types.append(getattr(mod, name))
    return tuple(types)
