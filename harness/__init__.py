"""nasi-harness: training-free NAS evaluation on NAS-Bench-201 / NATS-Bench (topology).

The public Python API (imported on first use, so the command lines stay quick to start)::

    import harness
    truth = harness.load_ground_truth()
    cfg = harness.ScoreConfig(batch_size=16)
    table = harness.score_architectures([0, 6111], ["nasi", "synflow"], cfg)

See README "Python API"; everything else is internal and may change. No exported name is
the name of a submodule (``harness.rank`` is the command line's module): importing that
module would replace the attribute.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    # ground truth and architectures
    "load_ground_truth": "harness.api", "lookup": "harness.api",
    "Arch": "nasi.space", "all_archs": "nasi.space", "NUM_ARCHS": "nasi.space",
    # scoring
    "ScoreConfig": "nasi.scoring", "Batch": "nasi.scoring", "make_batch": "nasi.scoring",
    "score_architectures": "harness.api", "score_model": "harness.api",
    "register": "nasi.scores", "available_scores": "nasi.scores",
    "ScoringContext": "nasi.scores", "load_plugins": "nasi.scores.plugins",
    # pipelines
    "RankRequest": "harness.scoring.rank", "Ranking": "harness.scoring.rank",
    "rank_architectures": "harness.api", "ScoreCache": "harness.scoring.cache",
    "LocalExecutor": "harness.scoring.executors", "RayExecutor": "harness.scoring.executors",
    "write_report": "harness.reporting.report",
    "read_score_table": "harness.reporting.score_tables",
    "search_architectures": "harness.api", "BlackBoxConfig": "nasi.blackbox",
    "SearchConfig": "nasi.search",
    "RunSummary": "harness.summary", "UserError": "harness.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'harness' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
