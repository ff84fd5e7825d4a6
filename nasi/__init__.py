"""NASI (Shu et al., ICLR 2022) on NAS-Bench-201: the method layer of nasi-harness.

The public surface (imported on first use, so ``import nasi`` stays cheap)::

    from nasi import ScoreConfig, make_batch, parse_arch, score_architecture
    arch = parse_arch("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|"
                      "skip_connect~1|skip_connect~2|")
    batch = make_batch(ScoreConfig(batch_size=16))
    score_architecture(arch, ["nasi"], ScoreConfig(batch_size=16), batch.x, batch.y)

Scores: :func:`register` adds one (``fn(ctx: ScoringContext) -> float``), :func:`get_score` /
:func:`available_scores` read the registry. Searches: :class:`SearchConfig` +
:func:`run_search` (NASI, Algorithm 1), :class:`BlackBoxConfig` + :func:`run_blackbox`.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Arch": "nasi.space", "parse_arch": "nasi.space", "all_archs": "nasi.space",
    "NUM_ARCHS": "nasi.space", "sample_indices": "nasi.space",
    "ScoreConfig": "nasi.scoring", "Batch": "nasi.scoring", "make_batch": "nasi.scoring",
    "check_batch": "nasi.scoring", "score_architecture": "nasi.scoring",
    "build_scoring_model": "nasi.scoring",
    "register": "nasi.scores", "get_score": "nasi.scores", "available_scores": "nasi.scores",
    "ScoringContext": "nasi.scores", "Score": "nasi.scores", "ScoreError": "nasi.scores",
    "load_batch": "nasi.data",
    "SearchConfig": "nasi.search", "run_search": "nasi.search",
    "BlackBoxConfig": "nasi.blackbox", "run_blackbox": "nasi.blackbox",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'nasi' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
