"""Training-free scores of an initialised network on one mini-batch.

Every score is registered in :data:`SCORES` with the same signature
``fn(ctx: ScoringContext) -> float``; see :mod:`nasi.scores.ntk` for NASI's estimators.
"""

from __future__ import annotations

import importlib

from .context import ScoringContext
from .registry import SCORES, Score, ScoreError, get_score, parse_score_list, register

_MODULES = ("nasi.scores.ntk",)
# baseline proxies, when present (this order is the registry's order)
_EXTRA_MODULES = ("nasi.scores.proxies", "nasi.scores.proxies_kernel")


def _load_all() -> None:
    for mod in _MODULES:
        importlib.import_module(mod)
    for mod in _EXTRA_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise


def available_scores() -> dict[str, Score]:
    _load_all()
    return dict(SCORES)


__all__ = ["SCORES", "Score", "ScoreError", "ScoringContext", "available_scores", "get_score",
           "parse_score_list", "register"]
