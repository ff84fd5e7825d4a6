"""One registry of training-free scores, one signature: ``fn(ctx: ScoringContext) -> float``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


class ScoreError(ValueError):
    """An unknown score name or an invalid score option."""


@dataclass(frozen=True)
class Score:
    name: str
    fn: Callable  # (ScoringContext) -> float
    higher_is_better: bool
    description: str  # one line: what is computed (the equation in words)
    # Value given to the 341 architectures whose cell has no input-to-output path: their
    # network computes a function that ignores the input, so no network is run for them.
    disconnected_value: float = float("nan")
    needs_network: bool = True  # False for closed-form scores (params, flops)
    cost: str = "one forward + one backward"
    label: str = ""  # short display name for figures and tables ('NASI score ||g||^2')

    def __post_init__(self):
        if not self.label:
            object.__setattr__(self, "label", f"{self.name} score")


SCORES: dict[str, Score] = {}


def register(name: str, *, higher_is_better: bool, description: str,
             disconnected_value: float = float("nan"), needs_network: bool = True,
             cost: str = "one forward + one backward", label: str = ""):
    """Decorator adding a score function to the registry (``label``: its display name,
    '<name> score' by default)."""

    def wrap(fn):
        if name in SCORES:
            raise ScoreError(f"score {name!r} registered twice")
        SCORES[name] = Score(name, fn, higher_is_better, description, disconnected_value,
                             needs_network, cost, label)
        return fn

    return wrap


def get_score(name: str) -> Score:
    from . import _load_all  # registering modules are imported on first use

    _load_all()
    try:
        return SCORES[name]
    except KeyError:
        known = ", ".join(sorted(SCORES))
        raise ScoreError(f"unknown score {name!r}; available: {known}") from None


def parse_score_list(text: str) -> list[str]:
    """'nasi,ntk_exact' -> validated list of names (order kept, duplicates removed)."""
    names = [n.strip() for n in str(text).split(",") if n.strip()]
    if not names:
        raise ScoreError("no score named; pass e.g. --score nasi")
    for n in names:
        get_score(n)
    return list(dict.fromkeys(names))
