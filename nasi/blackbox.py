"""Searches that only evaluate architectures: regularized evolution, random search and a
one-step REINFORCE, each maximising any :mod:`nasi.objective` (a registry score or a rank
combination of several) on standalone benchmark networks.

- ``evolution``: regularized (aging) evolution, Real et al., AAAI 2019: a population of
  ``population`` architectures, first drawn uniformly; each cycle samples ``tournament`` of
  them uniformly without replacement, mutates the fittest (one edge, chosen uniformly, gets
  one of the other four ops, chosen uniformly), evaluates the child, appends it and removes
  the oldest member.
- ``random``: uniform architectures.
- ``reinforce``: NASI's one-step update (Eq. 17-18 from alpha0 = 0, the running-max
  normalised sum, the per-edge argmax) with the score-function gradient estimate
  G_t = (r_t - b_t)(onehot(A_t) - 1/5), r_t the fitness of the uniformly sampled A_t among
  the architectures evaluated so far and b_t the mean of the earlier r_t (see nasi.search for
  the same estimator on NASI's penalised reward).

Every method returns the fittest architecture it evaluated (``reinforce``: the per-edge argmax
of its update). The budget counts *evaluations*: networks actually scored; an architecture
isomorphic to one already evaluated costs nothing and is not counted. ``seconds`` optionally
stops the search earlier, once the evaluations have cost that much (as charged: an evaluation
restored from an interrupted run is charged its stored time, so a resumed search takes the
same path). Randomness comes from numpy generators seeded from (seed, method): the same seed
and scores give the same search.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import asdict, dataclass, field

import numpy as np

from . import seeding
from .datasets import get_dataset
from .objective import Archive, Evaluation, Evaluator, Objective, ObjectiveError
from .precision import PRECISIONS
from .search.update import decode, running_max_update
from .space import EDGES, NUM_ARCHS, OPS, Arch, all_archs
from .supernet import index_of

METHODS = ("evolution", "random", "reinforce")
DEFAULT_OBJECTIVE = "synflow+jacob_cov"
PROPOSALS_PER_EVAL = 20  # stop when this many proposals per budgeted evaluation found nothing new


@dataclass(frozen=True)
class BlackBoxConfig:
    """Everything that changes a black-box search's result besides the device."""

    method: str = "evolution"
    objective: str = DEFAULT_OBJECTIVE
    evals: int = 200  # budget: networks scored
    seconds: float | None = None  # optional budget in charged evaluation seconds
    population: int = 20  # evolution
    tournament: int = 5  # evolution
    dataset: str = "cifar10"
    batch_size: int = 64
    labels: str = "true"
    data: str = "real"
    C: int = 16
    N: int = 5
    seed: int = 0
    precision: str = "fp32"  # of the scored networks (nasi.precision)

    def __post_init__(self):
        object.__setattr__(self, "dataset", get_dataset(self.dataset).name)
        object.__setattr__(self, "objective", Objective.parse(self.objective).name)
        checks = [
            (self.method in METHODS, f"method must be one of {METHODS}, got {self.method!r}"),
            (self.evals >= 1, f"the evaluation budget must be >= 1, got {self.evals}"),
            (self.seconds is None or self.seconds > 0,
             f"the time budget must be > 0 seconds, got {self.seconds}"),
            (self.population >= 2, f"population must be >= 2, got {self.population}"),
            (1 <= self.tournament <= self.population,
             f"tournament must lie in 1..population ({self.population}), got {self.tournament}"),
            (self.batch_size >= 2, f"batch size must be >= 2, got {self.batch_size}"),
            (self.C >= 1 and self.N >= 1, f"C and N must be >= 1, got C={self.C} N={self.N}"),
            (self.seed >= 0, f"seed must be >= 0, got {self.seed}"),
            (self.precision in PRECISIONS,
             f"precision must be one of {PRECISIONS}, got {self.precision!r}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ObjectiveError(msg)

    def as_dict(self) -> dict:
        """The fields; ``precision`` only when not fp32, so that float32 searches keep the
        identity (stored files, resume) they had before the option existed."""
        out = asdict(self)
        if out["precision"] == "fp32":
            del out["precision"]
        return out

    def replace(self, **kw) -> BlackBoxConfig:
        return BlackBoxConfig(**{**self.as_dict(), **kw})

    def score_config(self):
        """The scoring setup of every evaluated network (benchmark network, one batch)."""
        from .scoring import ScoreConfig

        return ScoreConfig(dataset=self.dataset, batch_size=self.batch_size,
                           labels=self.labels, data=self.data, seed=self.seed, C=self.C,
                           N=self.N, precision=self.precision)


@dataclass
class BlackBoxResult:
    config: BlackBoxConfig
    index: int
    fitness: float  # of the returned architecture among the archive, at the end
    evaluations: int  # networks scored
    proposals: int  # architectures proposed (cache hits included)
    seconds: float  # wall time of the search
    charged_seconds: float  # summed evaluation cost (what the time budget counts)
    history: list[dict] = field(default_factory=list)  # one row per proposal
    device: str = "cpu"

    @property
    def arch(self):
        return all_archs()[self.index]

    def summary(self) -> dict:
        return {"arch": self.arch.string, "index": self.index, "fitness": self.fitness,
                "evaluations": self.evaluations, "proposals": self.proposals,
                "seconds": self.seconds, "charged_seconds": self.charged_seconds,
                "config": self.config.as_dict(), "device": self.device}


class _Run:
    """Budget bookkeeping and the archive shared by every method."""

    def __init__(self, cfg: BlackBoxConfig, evaluate: Evaluator):
        self.cfg, self.evaluate = cfg, evaluate
        self.archive = Archive(Objective.parse(cfg.objective))
        self.evaluations = self.proposals = 0
        self.charged = 0.0
        self.history: list[dict] = []

    def done(self) -> bool:
        c = self.cfg
        return (self.evaluations >= c.evals
                or (c.seconds is not None and self.charged >= c.seconds)
                or self.proposals >= PROPOSALS_PER_EVAL * c.evals)

    def propose(self, index: int) -> Evaluation:
        ev = self.evaluate(int(index))
        self.proposals += 1
        if not ev.cached:
            self.evaluations += 1
            self.charged += ev.seconds
            self.archive.add(ev.index, ev.values)
        self.history.append({"t": self.proposals, "index": int(index), "cached": ev.cached,
                             "seconds": round(ev.seconds, 4)})
        return ev


def mutate(index: int, rng: np.random.Generator) -> int:
    """One edge (uniform) gets one of the other ops (uniform)."""
    ops = list(all_archs()[index].ops)
    e = int(rng.integers(len(EDGES)))
    others = [o for o in OPS if o != ops[e]]
    ops[e] = others[int(rng.integers(len(others)))]
    return Arch(tuple(ops)).index


def regularized_evolution(run: _Run, rng: np.random.Generator) -> int:
    cfg = run.cfg
    population: deque[tuple[int, np.ndarray]] = deque()
    while len(population) < cfg.population and not run.done():
        ev = run.propose(int(rng.integers(NUM_ARCHS)))
        population.append((ev.index, ev.values))
    while not run.done():
        picks = rng.choice(len(population), cfg.tournament, replace=False)
        fits = [run.archive.fitness(population[i][1]) for i in picks]
        parent = population[int(picks[int(np.argmax(fits))])][0]
        ev = run.propose(mutate(parent, rng))
        population.append((ev.index, ev.values))
        population.popleft()
    return run.archive.best()[0]


def random_search(run: _Run, rng: np.random.Generator) -> int:
    while not run.done():
        run.propose(int(rng.integers(NUM_ARCHS)))
    return run.archive.best()[0]


def one_step_reinforce(run: _Run, rng: np.random.Generator) -> int:
    G: list[np.ndarray] = []
    past: list[float] = []
    uniform = np.full((len(EDGES), len(OPS)), 1.0 / len(OPS))
    while not run.done():
        index = int(rng.integers(NUM_ARCHS))
        ev = run.propose(index)
        r = run.archive.fitness(ev.values)
        base = float(np.mean(past)) if past else r
        onehot = np.zeros_like(uniform)
        onehot[np.arange(len(EDGES)), index_of(all_archs()[index])] = 1.0
        G.append((r - base) * (onehot - uniform))
        past.append(r)
    delta, _ = running_max_update(np.asarray(G))
    return decode(delta).index


SEARCHES = {"evolution": regularized_evolution, "random": random_search,
            "reinforce": one_step_reinforce}


def run_blackbox(cfg: BlackBoxConfig, evaluate: Evaluator, device: str = "cpu"
                 ) -> BlackBoxResult:
    """Run ``cfg.method`` with ``evaluate`` (an :mod:`nasi.objective` evaluator)."""
    t0 = time.perf_counter()
    run = _Run(cfg, evaluate)
    rng = np.random.default_rng(seeding.derive_seed(seeding.BLACKBOX, cfg.seed, cfg.method))
    index = SEARCHES[cfg.method](run, rng)
    if run.archive and index in run.archive.indices:
        fitness = run.archive.fitness(run.archive.values[run.archive.indices.index(index)])
    else:
        fitness = float("nan")  # reinforce's argmax need not have been evaluated
    return BlackBoxResult(cfg, int(index), fitness, run.evaluations, run.proposals,
                          time.perf_counter() - t0, run.charged, run.history, str(device))
