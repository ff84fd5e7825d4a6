"""Search objectives: any registry score, or an equal-weight rank combination of several.

An objective is written ``score`` or ``score+score+...`` (e.g. ``synflow+jacob_cov``). Its
fitness of an architecture is the mean, over the named scores, of the architecture's
percentile rank among every architecture the search has evaluated so far (its archive):

    fitness(A) = (1/k) sum_j P_j(A),  P_j(A) = (#{B: s_j(B) < s_j(A)} + #{B: s_j(B) = s_j(A)}/2) / n

over the n archived architectures B (A included), with s_j negated where the registry says
lower is better. A NaN or infinite score ranks below every finite one. Why ranks: score
magnitudes differ by tens of orders (synflow reaches 1e60) and shift with the batch, the data
and the labels, so no fixed scale is comparable across scores or settings; ranks among the
architectures actually evaluated need no reference table, cost nothing beyond the scores, and
are what zero-cost-nas' vote and the rank sums of the literature use. For one score the
fitness orders architectures exactly as the raw score does. The reference is the search's
own archive, so fitness values are comparable within one search, not across searches.

Evaluators give the score vector of an architecture: :class:`NetworkEvaluator` scores the
benchmark network (C, N of the config) with :func:`nasi.scoring.score_architecture` on one
fixed batch, once per isomorphism class; :class:`TableEvaluator` looks the values up in a
table of precomputed scores (exact rewards, no network: the search gate and the studies).
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .scores import ScoreError, get_score
from .space import NUM_ARCHS, all_archs

SEPARATOR = "+"


class ObjectiveError(ValueError):
    """An invalid objective or evaluator option."""


@dataclass(frozen=True)
class Objective:
    """The registry scores an objective combines (equal weights, ranks; see the module)."""

    scores: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Objective:
        names = [n.strip() for n in str(text).split(SEPARATOR)]
        if not names or any(not n for n in names):
            raise ObjectiveError(f"objective {text!r}: write a score or score+score+... "
                                 "(e.g. synflow+jacob_cov)")
        if len(set(names)) != len(names):
            raise ObjectiveError(f"objective {text!r} names a score twice")
        for n in names:
            try:
                get_score(n)
            except ScoreError as exc:
                raise ObjectiveError(f"objective {text!r}: {exc}") from None
        return cls(tuple(names))

    @property
    def name(self) -> str:
        return SEPARATOR.join(self.scores)

    @property
    def signs(self) -> np.ndarray:
        """+1 where higher is better, -1 where lower is better, per score."""
        return np.array([1.0 if get_score(n).higher_is_better else -1.0 for n in self.scores])

    def describe(self) -> str:
        if len(self.scores) == 1:
            return f"the {self.scores[0]} score (fitness = its percentile among evaluated)"
        return ("equal-weight mean of the percentile ranks of " + ", ".join(self.scores)
                + " among the architectures the search evaluated")


def _key(value: float, sign: float) -> float:
    """Sort key of one score value: oriented, with non-finite values lowest."""
    return sign * value if math.isfinite(value) else -math.inf


class Archive:
    """Every architecture a search evaluated, with sorted score columns for percentile ranks."""

    def __init__(self, objective: Objective):
        self.objective = objective
        self._signs = objective.signs
        self.indices: list[int] = []
        self.values: list[np.ndarray] = []
        self._sorted: list[list[float]] = [[] for _ in objective.scores]

    def __len__(self) -> int:
        return len(self.indices)

    def add(self, index: int, values: np.ndarray) -> None:
        self.indices.append(int(index))
        self.values.append(values)
        for col, v, s in zip(self._sorted, values, self._signs, strict=True):
            bisect.insort(col, _key(float(v), s))

    def fitness(self, values: np.ndarray) -> float:
        """Mean percentile rank of a score vector among the archive (see the module)."""
        n = len(self.indices)
        if n == 0:
            raise ObjectiveError("fitness needs at least one archived architecture")
        total = 0.0
        for col, v, s in zip(self._sorted, values, self._signs, strict=True):
            k = _key(float(v), s)
            below = bisect.bisect_left(col, k)
            equal = bisect.bisect_right(col, k) - below
            total += (below + 0.5 * equal) / n
        return total / len(self._sorted)

    def best(self) -> tuple[int, float]:
        """(index, fitness) of the fittest archived architecture; the earliest on ties."""
        fits = [self.fitness(v) for v in self.values]
        i = int(np.argmax(fits))
        return self.indices[i], float(fits[i])


@dataclass(frozen=True)
class Evaluation:
    index: int
    values: np.ndarray  # one value per objective score
    seconds: float  # cost of computing it (0 when it came from a cache)
    cached: bool


class NetworkEvaluator:
    """Scores benchmark networks (once per isomorphism class) under a :class:`ScoreConfig`.

    ``known``: evaluations from an earlier, interrupted run ({index: (values, seconds)}); they
    are returned as computed then (charged their stored seconds) instead of being recomputed.
    """

    def __init__(self, objective: Objective, score_config, device="cpu",
                 known: Mapping[int, tuple[Sequence[float], float]] | None = None):
        from .data import load_batch

        self.objective, self.config, self.device = objective, score_config, device
        c = score_config
        self.x, self.y = load_batch(c.dataset, c.data, c.batch_size, seed=c.seed,
                                    labels=c.labels, device=device)
        self._by_class: dict[str, np.ndarray] = {}
        self._known = {int(k): (np.asarray(v, dtype=float), float(s))
                       for k, (v, s) in (known or {}).items()}

    def __call__(self, index: int) -> Evaluation:
        from .scoring import score_architecture

        arch = all_archs()[index]
        if arch.iso_key in self._by_class:
            return Evaluation(index, self._by_class[arch.iso_key], 0.0, True)
        if index in self._known:
            values, secs = self._known[index]
        else:
            t0 = time.perf_counter()
            out = score_architecture(arch, list(self.objective.scores), self.config, self.x,
                                     self.y, device=self.device)
            values = np.array([out[n] for n in self.objective.scores], dtype=float)
            secs = time.perf_counter() - t0
        self._by_class[arch.iso_key] = values
        return Evaluation(index, values, secs, False)


class TableEvaluator:
    """Exact rewards from a table with one column per objective score, indexed 0..15624."""

    def __init__(self, objective: Objective, table, seconds_per_eval: float = 0.0):
        missing = [n for n in objective.scores if n not in table.columns]
        if missing:
            raise ObjectiveError(f"score table has no column {missing[0]!r} (columns: "
                                 f"{', '.join(map(str, table.columns))})")
        if len(table) != NUM_ARCHS:
            raise ObjectiveError(f"score table must hold all {NUM_ARCHS} architectures, "
                                 f"got {len(table)} rows")
        self.objective = objective
        self._values = table[list(objective.scores)].to_numpy(dtype=float)
        self._iso = [a.iso_key for a in all_archs()]
        self._seen: set[str] = set()
        self.seconds_per_eval = seconds_per_eval

    def __call__(self, index: int) -> Evaluation:
        key = self._iso[index]
        cached = key in self._seen
        self._seen.add(key)
        secs = 0.0 if cached else self.seconds_per_eval
        return Evaluation(index, self._values[index], secs, cached)


Evaluator = Callable[[int], Evaluation]
