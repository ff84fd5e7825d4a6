"""The options of NASI's search (:class:`SearchConfig`), its result and its error type."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from ..data import LABEL_MODES
from ..datasets import get_dataset
from ..space import EDGES, OPS, Arch
from ..supernet import CELL_BN_KINDS, ST_MODES

NU_MODES = ("fix", "ada")
SCALES = ("log", "linear")
ESTIMATORS = ("st", "reinforce")
N_EDGES, N_OPS = len(EDGES), len(OPS)


class SearchError(ValueError):
    """An invalid search option."""


@dataclass(frozen=True)
class SearchConfig:
    """Everything that changes a search result besides the device."""

    dataset: str = "cifar10"
    steps: int = 100  # T
    batch_size: int = 32  # b
    mu: float = 2.0  # penalty coefficient (NASI Sec. 5.2 uses mu = 2)
    nu: float | None = None  # fixed nu (fix) or the initial nu (ada); None: no constraint
    nu_mode: str = "ada"
    nu_quantile: float = 0.85  # ada: nu_t = this quantile of the sampled scores
    ada_warmup: int = 5  # ada: connected scores needed before the quantile is used
    tau: float = 10.0  # Gumbel-softmax temperature
    scale: str = "log"  # reward on log s (ours) or on s (Eq. 14 literally)
    xi: float = 1.0
    C: int = 8
    N: int = 5
    bn: str = "nb201"
    st: str = "chosen"
    estimator: str = "st"  # st: Algorithm 1 (Gumbel straight-through); reinforce: ours
    redraw_every: int = 0  # redraw the supernet's initial weights every K steps; 0: never
    labels: str = "true"
    data: str = "real"
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "dataset", get_dataset(self.dataset).name)
        checks = [
            (self.steps >= 1, f"steps (T) must be >= 1, got {self.steps}"),
            (self.batch_size >= 2, f"batch size must be >= 2 (batch-statistics BN), got "
                                   f"{self.batch_size}"),
            (self.mu >= 0 and math.isfinite(self.mu), f"mu must be a finite number >= 0, got "
                                                       f"{self.mu}"),
            (self.nu is None or math.isfinite(self.nu), f"nu must be finite, got {self.nu}"),
            (self.nu_mode in NU_MODES, f"nu mode must be one of {NU_MODES}, got "
                                       f"{self.nu_mode!r}"),
            (0.0 <= self.nu_quantile <= 1.0, f"nu quantile must lie in [0, 1], got "
                                             f"{self.nu_quantile}"),
            (self.ada_warmup >= 1, f"ada warm-up must be >= 1, got {self.ada_warmup}"),
            (self.tau > 0 and math.isfinite(self.tau), f"tau must be > 0, got {self.tau}"),
            (self.scale in SCALES, f"scale must be one of {SCALES}, got {self.scale!r}"),
            (self.xi > 0, f"xi must be > 0, got {self.xi}"),
            (self.C >= 1 and self.N >= 1, f"width and cells must be >= 1, got C={self.C}, "
                                          f"N={self.N}"),
            (self.bn in CELL_BN_KINDS, f"bn must be one of {CELL_BN_KINDS}, got "
                                           f"{self.bn!r}"),
            (self.st in ST_MODES, f"st must be one of {ST_MODES}, got {self.st!r}"),
            (self.estimator in ESTIMATORS, f"estimator must be one of {ESTIMATORS}, got "
                                           f"{self.estimator!r}"),
            (self.labels in LABEL_MODES, f"labels must be one of {LABEL_MODES}, got "
                                         f"{self.labels!r}"),
            (self.seed >= 0, f"seed must be >= 0, got {self.seed}"),
            (self.redraw_every >= 0, f"redraw_every must be >= 0, got {self.redraw_every}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise SearchError(msg)

    def as_dict(self) -> dict:
        return asdict(self)

    def replace(self, **kw) -> SearchConfig:
        return SearchConfig(**{**self.as_dict(), **kw})


@dataclass
class SearchResult:
    config: SearchConfig
    alpha: list[list[float]]  # alpha* = alpha0 + Delta (6 x 5, OPS order)
    delta: list[list[float]]
    arch: Arch
    index: int
    seconds: float  # wall time of the search (supernet build + T steps + aggregation)
    steps: list[dict] = field(default_factory=list)  # per-step log
    trace: dict = field(default_factory=dict)  # raw per-step arrays (see run_search)
    device: str = "cpu"

    @property
    def arch_str(self) -> str:
        return self.arch.string

    def summary(self) -> dict:
        return {"arch": self.arch.string, "index": self.index, "seconds": self.seconds,
                "alpha": self.alpha, "delta": self.delta, "config": self.config.as_dict(),
                "device": self.device}

