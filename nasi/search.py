"""NASI's search on NAS-Bench-201 (Shu et al., ICLR 2022, Sec. 3.3, Algorithm 1).

Algorithm 1 as implemented here:

- alpha: per-edge categorical logits, 6 edges x 5 ops (:data:`nasi.space.OPS` order), alpha0 = 0.
- Step t = 1..T, all at alpha0 (Algorithm 1 takes no iterative steps on alpha):
  a fresh mini-batch D_t of size b; Gumbel noise g_t (a seeded ``torch.Generator``);
  p_t = softmax((alpha0 + g_t) / tau) per edge; the sampled architecture A_t = argmax p_t (a
  sample of Categorical(softmax(alpha0)) whatever tau); hard weights h_t = one_hot(A_t) +
  (p_t - stopgrad(p_t)) (value exactly one-hot, gradient of p_t: straight-through).
- The supernet (:mod:`nasi.supernet`, weights fixed at init) runs only A_t's ops.
  s_t = ||grad_theta(A_t) CE_batch-mean||^2 over the sampled subnet's parameters (NASI Eq. 12;
  unsampled ops' weights are excluded), R_t = s_t - mu * max(0, s_t - nu_t) (Eq. 14),
  G_t = dR_t/dalpha by double backprop (``create_graph=True`` through the score).
- Delta = (xi / T) * sum_t G_t / max_{i<=t} ||G_i||_2 (Eq. 18, xi = 1); alpha* = Delta;
  the architecture = per-edge argmax of alpha* (including 'none', as GDAS's genotype).

Implementation notes:

- G_t = dR_t/dalpha = (1 - mu * 1[s_t > nu_t]) * J_t^T (ds_t/dh_t) with J_t = dp_t/dalpha =
  (diag(p_t) - p_t p_t^T) / tau per edge. The search backpropagates s_t to the hard weights h_t
  once (``ds_dh``, 6 x 5) and applies the rest in closed form, so every step stores (g_t, A_t,
  s_t, ds_dh_t): tau, mu, nu and the nu rule can then be re-evaluated on the same trajectory
  without rerunning the network (:func:`aggregate`); this is exact because the samples do not
  depend on them (all gradients are at alpha0). The test suite checks the closed form against
  autograd through the softmax and against finite differences.
- Straight-through estimator (``st``, see :mod:`nasi.supernet`): "chosen" (default) takes
  d(edge output)/d h[e, o] = op_o(x) for the sampled op and 0 for the others, so each G_t moves
  the sampled op's logit by the sign of ds/dh (and the others by -p_o times that); "full" runs
  every op and uses the exact derivative of the relaxed mixture at the hard sample; "gdas" is
  xautodl's forward_gdas (unsampled ops enter as their scalar weight).
- A sampled architecture with no input-to-output path (341 of 15,625, ~2.2 % of uniform
  samples) makes the network ignore its input. Such a step is not run: s_t = 0 (the
  ``disconnected_value`` of the ``nasi`` score in :mod:`nasi.scores`), R_t = 0, G_t = 0; it
  still counts in T and is logged with ``disconnected: true``. A zero ||G_t|| never updates the
  running max, and while the running max is 0 a step adds nothing (no 0/0).
- NASI-FIX: nu is fixed (``nu``). NASI-ADA (our rule; the paper's App. B.1 is not public):
  nu_t = the q-quantile (``nu_quantile``) of the scores of the connected architectures sampled
  at steps < t; before ``ada_warmup`` connected scores have been seen, nu_t = ``nu`` (the
  initial value). So the constraint binds on the most complex (1 - q) fraction of the
  architectures the search itself samples: it is scale-free (the raw score scale changes with
  the width, depth, batch, data and labels), it converges to the q-quantile of the score
  distribution under uniform sampling, and it is what :func:`exact_gradient` uses for "ada".
- Fresh batches: real data and PATHs are read once into a pool (the 500 embedded CIFAR-10 test
  images for ``data="real"``; up to 4096 images of a path) and each step draws b of them
  without replacement from a seeded generator; Gaussian data draws N(0, 1) inputs per step.
  Random labels (and every label of Gaussian data, as :mod:`nasi.data`) are uniform over the
  classes, drawn per step from the same generator.
- Seeds: supernet weights, Gumbel noise and batches come from three seeds derived from the
  run seed by SHA-256, each in its own generator: the same seed gives the same search (on the
  same device and torch build), independent of the global RNG.

Estimator (``estimator``, our addition). ``"st"`` (default) is Algorithm 1 as above.
``"reinforce"`` keeps everything else (alpha0 = 0, the Gumbel samples, fresh batches, R_t, the
running-max normalised sum of Eq. 18, the per-edge argmax) but estimates the expected-reward
gradient of Eq. 17 by the score function: G_t = (R_t - b_t)(onehot(A_t) - softmax(alpha0)),
b_t = the mean reward of the earlier connected steps. It is unbiased for d E[R]/d alpha at
alpha0, the quantity :func:`exact_gradient` computes from a full table (the straight-through
G_t is not: it is the derivative of R along a continuous relaxation at the sampled point), and
it needs one ordinary backward per step instead of a double backward (tau plays no role).

Reward scale (``scale``, our addition). ``"linear"`` is Eq. 14 literally. ``"log"`` (default)
applies the same penalised reward to log s with the constraint log s <= log nu_t: the feasible
set and the ranking of architectures are unchanged, G_t = (1 - mu 1[s_t > nu_t]) ds_t/dalpha
/ s_t. Why: at N = 5 cells per stage the score of a sampled subnet spans orders of magnitude
(deep plain ReLU-conv-BN chains have exploding gradients at init: on one supernet the median
sampled s was 22 and the 90th percentile 924), so with the linear reward a few samples carry
almost all of sum_t G_t; the log reward weighs every sample's direction by its relative change.

Measurements behind the defaults (CIFAR-10, real data, true labels; accuracy = NB201 200-epoch
test accuracy of the architecture found on CIFAR-10 / CIFAR-100 / ImageNet16-120, mean +- std
over supernet seeds; 2-core x86 CPU shared with other jobs, 1 thread, torch 2.13):

1. Ranking signal of the score vs supernet depth (Kendall tau of the all-parameter ``nasi``
   score with CIFAR-10 test accuracy, 300 random standalone networks, b = 64, real data):
   C=8 N=1: -0.12; C=8 N=3: 0.19; C=4 N=5: 0.28; C=8 N=5: 0.30; C=16 N=2: 0.23;
   C=16 N=5 (60 nets): 0.33. At N = 1 the gradient norm is dominated by the stem, reduction
   blocks and classifier and anti-correlates with accuracy; searches there reached only
   ~90-91 % on CIFAR-10 (C=8 N=1 b=64 T=200, 5 seeds). Hence N = 5.
2. Cost of one search step (double backward), 1 thread, median over steps: C=8 N=5 b=32
   0.6 s; C=8 N=5 b=64 1.2 s; C=4 N=5 b=32 0.3 s; C=16 N=5 b=32 1.2 s; st='full' at C=8 N=5
   b=32 2.5 s (4x 'chosen': not pursued). With 2 threads on the shared machine a step was
   up to 30x slower (OpenMP oversubscription), hence one thread by default on the CPU.
3. tau, mu, the nu rule and the scale were compared on the same stored trajectories (exact,
   see :func:`aggregate`): C=8 N=5 b=32 (T=200, 10 seeds; T=400, 5 seeds), C=4 N=5 b=32
   (T=200/400/600), C=16 N=5 b=32 (T=100). Pooled over these sets, log beat linear for every
   (tau, mu, q); the best settings (log, tau 3-10, mu 1.5-2, q 0.75-0.9) were within noise of
   each other (search-seed std ~0.5-1.5 on CIFAR-10). Chosen: log, tau = 10, mu = 2, q = 0.85.
4. The constraint matters. log reward, tau = 10 (CIFAR-10 / CIFAR-100 / ImageNet16-120):

   ==========================================  ===========================================
   C=8 N=5 b=32 T=200, 10 seeds                 C10 / C100 / IN16
   ==========================================  ===========================================
   ADA, q = 0.85, mu = 2                        92.03+-1.63 / 68.17+-2.61 / 40.89+-4.18
   FIX, nu = median over the other seeds'       92.70+-1.33 / 69.11+-2.21 / 43.02+-3.58
   q0.85 scores (a tuned fixed nu), mu = 2
   ADA, q = 0.5, mu = 2                         90.97+-1.94 / 65.82+-3.37 / 37.87+-4.82
   no constraint (mu = 0)                       83.06+-24.4 / 58.91+-19.6 / 31.54+-11.9
   ==========================================  ===========================================

   At T=400 (5 seeds) ADA q=0.85 gave 92.73+-0.45 / 69.75+-1.06 / 43.74+-1.63 and FIX
   92.91+-0.47 / 68.98+-2.22 / 43.17+-2.46; at C=16 N=5 T=100 ADA 92.82+-0.59 / 69.25+-1.19 /
   42.23+-2.47 vs no constraint 91.03 / 64.57 / 33.42. ADA matches a hand-tuned fixed nu
   without knowing the score scale, which moves with C, N, b, data and labels (the
   per-seed q0.85 ranged 68-407 at one setting).
5. Quality vs T with the defaults (log, tau 10, mu 2, ADA q 0.85), prefixes of the stored
   trajectories, C10 / C100 / IN16:
   C=8 N=5 b=32: T=25 92.20+-1.31 / 68.19 / 41.14; T=50 92.37+-1.18 / 68.85 / 41.74;
   T=100 92.49+-0.88 / 68.54 / 41.02; T=200 92.03+-1.63 / 68.17 / 40.89 (10 seeds);
   T=400 92.73+-0.45 / 69.75 / 43.74 (5 seeds).
   C=4 N=5 b=32 (5 seeds): T=50 90.75; T=100 92.76; T=200 92.59; T=400 91.76; T=600 91.86.
   C=16 N=5 b=32 (5 seeds): T=25 91.60; T=50 92.59; T=100 92.82 / 69.25 / 42.23.
   C=8 N=1 b=64 (5 seeds): T=100 91.82; T=200 90.17.
   Beyond T ~ 100 the mean does not move by more than the seed-to-seed noise. T = 100
   (about 55-60 s per search here) is the default.
6. Where the spread comes from. Redrawing the supernet's initial weights at every step
   (``redraw_every=1``, C=8 N=5 b=32 T=100, 10 seeds) gave 92.20+-1.28 / 68.06+-2.03 /
   40.91+-3.73 against 92.49+-0.88 / 68.54 / 41.02 with one draw: averaging over
   initialisations does not remove the seed-to-seed spread, so it is not the supernet draw
   but the straight-through estimate itself (a derivative along the relaxation at the sampled
   point, whose expectation is not the expected-reward gradient). BatchNorm without affine
   parameters in the cells (``bn="batch"``) changed the sampled scores by < 2 % and the found
   cells not at all (same 10 seeds).
7. The reward's own optimum. The exact expected-reward gradient at alpha = 0 from the
   standalone scores of all 15,625 architectures at the search scale (C=8, N=5, b=32; see
   ``exact_gradient`` and the search report) has as per-edge argmax the all-3x3-conv cell
   (index 1462: 93.76 / 71.11 / 41.44) under the log reward for (mu, q) = (0.5-1, 0.5-0.9),
   (1.5, 0.8-0.95), (2, 0.85-0.95: the default) and (3, 0.95-0.99), and under the linear
   reward for mu = 1, q <= 0.8; other settings pick worse cells. Its gradient penalises
   skip_connect on every edge, most of all on the input-to-output edge that NB201's best
   ImageNet16-120 cells have (s is larger without it: plain deep chains have larger
   gradients at initialisation). So even a noiseless search with this reward meets NASI(4T)
   on CIFAR-10 and CIFAR-100 but not on ImageNet16-120 (44.84 +- 1.41).
8. Estimators (same reward and defaults otherwise, 5 seeds, C10 / C100 / IN16): ``st`` at
   T=100 92.15+-0.73 / 67.90+-1.80 / 40.20+-2.77 (55 s); ``reinforce`` at T=400 (same CPU
   budget: no double backward) 93.22+-0.34 / 69.75+-0.70 / 42.67+-2.47 (82 s on a busy
   machine), random search at equal time 92.23 / 68.44 / 41.04. With exact table rewards
   an unbiased estimator reaches 93.17 / 69.95 / 41.66 at T=400 and 93.45 / 70.55 / 41.62 at
   T=1600 (``reports/search/estimator_bound.py``). ``st`` stays the default because it is
   Algorithm 1; ``reinforce`` is the better search (reports/search/README.md).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .datasets import get_dataset
from .device import resolve_device
from .space import EDGES, NUM_ARCHS, OPS, Arch, all_archs
from .supernet import BN_MODES, ST_MODES, Supernet, arch_of

NU_MODES = ("fix", "ada")
SCALES = ("log", "linear")
ESTIMATORS = ("st", "reinforce")
LABEL_MODES = ("true", "random")
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
            (self.bn in BN_MODES, f"bn must be one of {BN_MODES}, got {self.bn!r}"),
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


# --------------------------------------------------------------------------------- seeding
def derive_seed(seed: int, purpose: str) -> int:
    """A 63-bit seed from (run seed, purpose) by SHA-256."""
    digest = hashlib.sha256(f"nasi.search:{int(seed)}:{purpose}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def _generator(seed: int) -> torch.Generator:
    g = torch.Generator(device="cpu")
    g.manual_seed(seed)
    return g


def sample_gumbel(gen: torch.Generator, shape=(N_EDGES, N_OPS)) -> torch.Tensor:
    """Gumbel(0, 1) noise -log(-log U), U uniform in (0, 1) (float64 on the CPU)."""
    u = torch.rand(shape, generator=gen, dtype=torch.float64)
    u = u.clamp(min=torch.finfo(torch.float64).tiny, max=1.0 - 1e-16)
    return -torch.log(-torch.log(u))


# --------------------------------------------------------------------------------- batches
class BatchStream:
    """A fresh mini-batch per step from a seeded generator (see the module docstring)."""

    POOL_SIZES = (4096, 2048, 1024, 500, 256, 128)

    def __init__(self, dataset: str, data: str = "real", batch_size: int = 64,
                 labels: str = "true", seed: int = 0, device="cpu"):
        from .data import DataError, load_batch

        self.spec = get_dataset(dataset)
        self.data, self.b, self.labels, self.device = data, batch_size, labels, device
        self.gen = _generator(derive_seed(seed, "batches"))
        self.pool_x = self.pool_y = None
        if data != "gaussian":
            last: Exception | None = None
            for n in (*self.POOL_SIZES, batch_size):
                if n < batch_size:
                    continue
                try:
                    self.pool_x, self.pool_y = load_batch(self.spec.name, data, n,
                                                          seed=derive_seed(seed, "pool") % 2**31,
                                                          labels="true")
                    break
                except DataError as exc:  # pool smaller than n: try the next size
                    last = exc
                    if "images available" not in str(exc):
                        raise
            if self.pool_x is None:
                raise last  # type: ignore[misc]

    @property
    def pool_size(self) -> int | None:
        return None if self.pool_x is None else int(self.pool_x.shape[0])

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.pool_x is None:
            x = torch.randn((self.b, *self.spec.input_shape), generator=self.gen)
            y = torch.randint(0, self.spec.num_classes, (self.b,), generator=self.gen)
        else:
            idx = torch.randperm(self.pool_x.shape[0], generator=self.gen)[: self.b]
            x = self.pool_x[idx]
            if self.labels == "true":
                y = self.pool_y[idx]
            else:
                y = torch.randint(0, self.spec.num_classes, (self.b,), generator=self.gen)
        return x.to(self.device), y.to(self.device)


# --------------------------------------------------------------------------------- one step
def soft_probs(g: torch.Tensor, tau: float, alpha: torch.Tensor | None = None) -> torch.Tensor:
    """p = softmax((alpha + g) / tau) per edge (alpha0 = 0 by default)."""
    z = g if alpha is None else alpha + g
    return torch.softmax(z / tau, dim=-1)


def st_jacobian_vjp(g: torch.Tensor, tau: float, ds_dh: torch.Tensor) -> torch.Tensor:
    """ds/dalpha at alpha0 = 0 from ds/dh, through h = one_hot + p - stopgrad(p):
    per edge (diag(p) - p p^T) ds_dh / tau."""
    p = soft_probs(g.double(), tau)
    v = ds_dh.double()
    return p * (v - (p * v).sum(-1, keepdim=True)) / tau


def score_and_hard_grad(net: Supernet, x: torch.Tensor, y: torch.Tensor, index: Sequence[int],
                        st: str = "chosen", hardwts: torch.Tensor | None = None
                        ) -> tuple[float, torch.Tensor, float]:
    """s = ||grad_theta(A) CE||^2 of the sampled subnet and ds/dh (6 x 5), by double backprop.

    ``hardwts`` defaults to the one-hot of ``index`` (as a leaf needing grad); pass other
    values only for finite-difference checks. Returns (s, ds_dh, loss)."""
    dev = x.device
    if hardwts is None:
        hardwts = F.one_hot(torch.as_tensor(list(index)), N_OPS).to(dev, x.dtype)
    hardwts = hardwts.detach().requires_grad_(True)
    logits = net(x, hardwts, index, st)
    loss = F.cross_entropy(logits, y)
    params = net.subnet_parameters(index)
    grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
    terms = [g.pow(2).sum() for g in grads if g is not None]
    s = torch.stack(terms).sum()
    (ds_dh,) = torch.autograd.grad(s, hardwts, allow_unused=True)
    if ds_dh is None:  # no op weight on the graph (cannot happen for a connected cell)
        ds_dh = torch.zeros_like(hardwts)
    return float(s.detach()), ds_dh.detach().cpu(), float(loss.detach())


# --------------------------------------------------------------------------------- nu rules
def nu_schedule(scores: np.ndarray, connected: np.ndarray, mode: str, nu: float | None,
                quantile: float = 0.5, warmup: int = 5) -> np.ndarray:
    """nu_t for every step. fix: nu. ada: the ``quantile`` of the connected scores of steps
    < t once ``warmup`` of them exist, else the initial ``nu``. nu None = +inf (no constraint)."""
    T = len(scores)
    nu = math.inf if nu is None else float(nu)
    if mode == "fix":
        return np.full(T, nu)
    if mode != "ada":
        raise SearchError(f"nu mode must be one of {NU_MODES}, got {mode!r}")
    out = np.empty(T)
    seen: list[float] = []
    for t in range(T):
        out[t] = float(np.quantile(seen, quantile)) if len(seen) >= warmup else nu
        if connected[t]:
            seen.append(float(scores[t]))
    return out


def reward(s, mu: float, nu, scale: str = "linear"):
    """R = s - mu * max(0, s - nu) (NASI Eq. 13/14), or the same on log s and log nu
    (``scale="log"``); elementwise on arrays."""
    s = np.asarray(s, dtype=np.float64)
    if scale == "log":
        with np.errstate(divide="ignore", invalid="ignore"):
            s, nu = np.log(s), np.log(nu)
    elif scale != "linear":
        raise SearchError(f"scale must be one of {SCALES}, got {scale!r}")
    return s - mu * np.maximum(0.0, s - nu)


def decode(alpha) -> Arch:
    """The architecture of alpha: argmax_A p_alpha(A), the per-edge argmax (Algorithm 1's
    last line); ties go to the first op in OPS order."""
    return arch_of(np.asarray(alpha).argmax(-1))


def running_max_update(G: np.ndarray, xi: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Eq. 18 for every prefix: Delta_t = (xi / t) sum_{i<=t} G_i / max_{j<=i} ||G_j||.

    G: (T, ...) gradients. Returns (Delta_T, cumulative sums S_t = sum_{i<=t} G_i / m_i of
    shape (T, ...)); Delta for a prefix of length t is xi * S_t / t. Steps with a zero running
    max add nothing."""
    G = np.asarray(G, dtype=np.float64)
    T = G.shape[0]
    norms = np.sqrt((G.reshape(T, -1) ** 2).sum(1))
    run = np.maximum.accumulate(norms) if T else norms
    contrib = np.zeros_like(G)
    ok = run > 0
    contrib[ok] = G[ok] / run[ok].reshape((-1,) + (1,) * (G.ndim - 1))
    cum = np.cumsum(contrib, axis=0)
    return xi * cum[-1] / T, cum


@dataclass
class Aggregate:
    G: np.ndarray  # (T, 6, 5)
    nu: np.ndarray  # (T,)
    rewards: np.ndarray  # (T,)
    delta: np.ndarray  # (6, 5)
    prefix_argmax: np.ndarray  # (T, 6): per-edge argmax of Delta after t steps


def aggregate(trace: dict, mu: float, nu: float | None, nu_mode: str, tau: float,
              nu_quantile: float = 0.5, ada_warmup: int = 5, xi: float = 1.0,
              scale: str = "linear", estimator: str = "st") -> Aggregate:
    """G_t, nu_t, R_t and Delta from a search trace (``SearchResult.trace``) for any (mu, nu,
    rule, tau, scale): exact, since the sampled architectures do not depend on them.

    G_t = (1 - mu 1[s_t > nu_t]) ds_t/dalpha (linear), divided by s_t under ``scale="log"``
    (d log s = ds / s). ``estimator="reinforce"``: G_t = (R_t - b_t) (onehot(A_t) -
    softmax(alpha0)) with b_t the mean reward of the connected steps before t (b_1 = R_1)."""
    s = np.asarray(trace["score"], dtype=np.float64)
    conn = np.asarray(trace["connected"], dtype=bool)
    g = torch.as_tensor(np.asarray(trace["gumbel"]))
    dsdh = torch.as_tensor(np.asarray(trace["ds_dh"]))
    T = len(s)
    nus = nu_schedule(s, conn, nu_mode, nu, nu_quantile, ada_warmup)
    ds_da = st_jacobian_vjp(g, tau, dsdh).numpy() if T else np.zeros((0, N_EDGES, N_OPS))
    if estimator == "reinforce":
        return _aggregate_reinforce(trace, s, conn, nus, mu, scale, xi)
    if estimator != "st":
        raise SearchError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    factor = np.where(s > nus, 1.0 - mu, 1.0) * conn
    if scale == "log":
        factor = np.where(conn, factor / np.where(conn & (s > 0), s, 1.0), 0.0)
    G = ds_da * factor[:, None, None]
    with np.errstate(invalid="ignore"):
        rewards = np.where(conn, reward(s, mu, nus, scale), 0.0)
    delta, cum = running_max_update(G, xi)
    return Aggregate(G, nus, rewards, delta, cum.argmax(-1))


def _aggregate_reinforce(trace, s, conn, nus, mu, scale, xi) -> Aggregate:
    idx = np.asarray(trace["index"], dtype=int)
    T = len(s)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = reward(s, mu, nus, scale)
    ok = conn & np.isfinite(r)
    G = np.zeros((T, N_EDGES, N_OPS))
    total, n = 0.0, 0
    for t in range(T):
        if not ok[t]:
            continue
        base = total / n if n else r[t]  # past rewards only: the estimator stays unbiased
        onehot = np.zeros((N_EDGES, N_OPS))
        onehot[np.arange(N_EDGES), idx[t]] = 1.0
        G[t] = (r[t] - base) * (onehot - 1.0 / N_OPS)
        total, n = total + r[t], n + 1
    delta, cum = running_max_update(G, xi)
    return Aggregate(G, nus, np.where(ok, r, 0.0), delta, cum.argmax(-1))


def score_only(net: Supernet, x: torch.Tensor, y: torch.Tensor, index: Sequence[int]
               ) -> tuple[float, float]:
    """s of the sampled subnet by one ordinary backward (no graph kept); (s, loss)."""
    hardwts = F.one_hot(torch.as_tensor(list(index)), N_OPS).to(x.device, x.dtype)
    logits = net(x, hardwts, index, "chosen")
    loss = F.cross_entropy(logits, y)
    grads = torch.autograd.grad(loss, net.subnet_parameters(index), allow_unused=True)
    s = sum(float(g.pow(2).sum()) for g in grads if g is not None)
    return s, float(loss.detach())


# --------------------------------------------------------------------------------- search
def build_supernet(cfg: SearchConfig, device="cpu") -> Supernet:
    net = Supernet(get_dataset(cfg.dataset).num_classes, C=cfg.C, N=cfg.N, bn=cfg.bn,
                   seed=derive_seed(cfg.seed, "supernet"))
    return net.to(device).train()


def run_search(cfg: SearchConfig, device="auto", stream: BatchStream | None = None,
               progress=None) -> SearchResult:
    """Algorithm 1 (see the module docstring). ``progress(t, T)`` is called after each step."""
    t0 = time.perf_counter()
    dev = resolve_device(device)
    net = build_supernet(cfg, dev)
    if stream is None:
        stream = BatchStream(cfg.dataset, cfg.data, cfg.batch_size, cfg.labels, cfg.seed, dev)
    gen = _generator(derive_seed(cfg.seed, "gumbel"))
    T = cfg.steps
    gumbels = np.zeros((T, N_EDGES, N_OPS))
    dsdh = np.zeros((T, N_EDGES, N_OPS))
    scores, losses, conn, idxs, secs = (np.zeros(T), np.full(T, np.nan), np.zeros(T, bool),
                                        np.zeros((T, N_EDGES), int), np.zeros(T))
    for t in range(T):
        ts = time.perf_counter()
        if cfg.redraw_every and t and t % cfg.redraw_every == 0:
            net.redraw(derive_seed(cfg.seed, f"supernet:{t // cfg.redraw_every}"))
        x, y = stream.next()
        g = sample_gumbel(gen)
        index = g.argmax(-1).tolist()  # argmax of softmax((alpha0 + g) / tau) for any tau
        arch = arch_of(index)
        gumbels[t], idxs[t] = g.numpy(), index
        if arch.is_connected and cfg.estimator == "reinforce":
            s, loss = score_only(net, x, y, index)
            scores[t], losses[t], conn[t] = s, loss, True
        elif arch.is_connected:
            s, d, loss = score_and_hard_grad(net, x, y, index, cfg.st)
            scores[t], dsdh[t], losses[t], conn[t] = s, d.double().numpy(), loss, True
        secs[t] = time.perf_counter() - ts
        if progress is not None:
            progress(t + 1, T)
    trace = {"gumbel": gumbels, "ds_dh": dsdh, "score": scores, "connected": conn,
             "index": idxs, "loss": losses, "step_seconds": secs}
    agg = aggregate(trace, cfg.mu, cfg.nu, cfg.nu_mode, cfg.tau, cfg.nu_quantile,
                    cfg.ada_warmup, cfg.xi, cfg.scale, cfg.estimator)
    alpha = agg.delta  # alpha* = alpha0 + Delta, alpha0 = 0
    arch = decode(alpha)
    seconds = time.perf_counter() - t0
    norms = np.sqrt((agg.G.reshape(T, -1) ** 2).sum(1))
    steps = [{"t": t + 1, "arch_index": all_index(arch_of(idxs[t])),
              "connected": bool(conn[t]), "score": float(scores[t]),
              "nu": float(agg.nu[t]) if math.isfinite(agg.nu[t]) else None,
              "reward": float(agg.rewards[t]) if conn[t] else None,
              "grad_norm": float(norms[t]),
              "loss": None if not conn[t] else float(losses[t]),
              "seconds": float(secs[t])} for t in range(T)]
    return SearchResult(cfg, alpha.tolist(), agg.delta.tolist(), arch, arch.index, seconds,
                        steps, trace, str(dev))


def all_index(arch: Arch) -> int:
    return arch.index


# --------------------------------------------------------------------------------- exact check
@dataclass
class ExactGradient:
    grad: np.ndarray  # (6, 5): d E_{A ~ p_alpha}[R(A)] / d alpha at alpha = 0
    arch: Arch  # per-edge argmax of grad
    nu: float
    mean_reward: float
    n: int  # architectures in the table


def exact_gradient(indices: Sequence[int], scores: Sequence[float], mu: float, nu: float | None,
                   nu_mode: str = "fix", nu_quantile: float = 0.5,
                   zero_disconnected: bool = True, scale: str = "linear") -> ExactGradient:
    """The exact expected-reward gradient at alpha = 0 from a table of scores.

    At alpha = 0 every edge's op is uniform, so d E[R] / d alpha[e, o] = E[R (1[A_e = o] -
    1/5)] = (mean of R over architectures with op o on edge e - mean of R) / 5. R = s - mu *
    max(0, s - nu); with nu_mode 'ada' nu is the ``nu_quantile`` of the connected
    architectures' scores (what the search's ada rule converges to under uniform sampling).
    Disconnected architectures count with R = 0 (their score 0, as in the search) unless
    ``zero_disconnected`` is False (then their table value is used as any other). Under
    ``scale="log"`` (R on log s) a score of 0 would give R = -inf: disconnected architectures
    (and any score <= 0) get the lowest reward of the table's other architectures instead
    (the search gives them G = 0, as for any constant reward). With fewer
    than 15,625 rows the conditional means are over the rows given (an approximation).
    """
    idx = np.asarray(indices, dtype=int)
    s = np.asarray(scores, dtype=np.float64)
    if len(idx) != len(s) or len(idx) == 0:
        raise SearchError("exact check: need one score per index and at least one row")
    if not np.all(np.isfinite(s)):
        raise SearchError("exact check: the score column holds NaN or infinite values")
    archs = all_archs()
    ops = np.array([[OPS.index(o) for o in archs[i].ops] for i in idx])
    conn = np.array([archs[i].is_connected for i in idx])
    if not zero_disconnected:
        conn = np.ones(len(idx), dtype=bool)
    nu = math.inf if nu is None else float(nu)
    if nu_mode == "ada":
        nu = float(np.quantile(s[conn], nu_quantile)) if conn.any() else nu
    elif nu_mode != "fix":
        raise SearchError(f"nu mode must be one of {NU_MODES}, got {nu_mode!r}")
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(conn, reward(s, mu, nu, scale), 0.0)
    if scale == "log":
        ok = conn & (s > 0)
        if not ok.any():
            raise SearchError("exact check: no positive scores of connected architectures")
        r = np.where(ok, r, r[ok].min())
    mean = r.mean()
    grad = np.zeros((N_EDGES, N_OPS))
    for e in range(N_EDGES):
        for o in range(N_OPS):
            sel = ops[:, e] == o
            grad[e, o] = (r[sel].mean() - mean) / N_OPS if sel.any() else 0.0
    return ExactGradient(grad, arch_of(grad.argmax(-1)), float(nu), float(mean), int(len(r)))


def edge_agreement(a: Arch | Sequence[int], b: Arch | Sequence[int]) -> float:
    """Fraction of the 6 edges on which two architectures choose the same op."""
    ia = [OPS.index(o) for o in a.ops] if isinstance(a, Arch) else list(a)
    ib = [OPS.index(o) for o in b.ops] if isinstance(b, Arch) else list(b)
    return float(np.mean([x == y for x, y in zip(ia, ib, strict=True)]))


# --------------------------------------------------------------------------------- baseline
def random_search_baseline(cfg: SearchConfig, seconds: float, device="cpu",
                           max_archs: int | None = None) -> dict:
    """Random search at equal wall time: uniform architectures (seeded by the run seed), each
    scored with :func:`nasi.scoring.score_architecture` (``nasi``, the standalone network at
    the search's width C and cells N) on one fixed batch of the same data, dataset, labels and
    batch size; stops when ``seconds`` have elapsed (after at least one architecture). Picks
    the architecture with the highest penalised reward R under the same mu and nu rule (fix:
    nu; ada: the nu_quantile of the scores it has seen), and reports the plain-score argmax
    as well."""
    from .data import load_batch
    from .scoring import ScoreConfig, score_architecture

    dev = resolve_device(device)
    t0 = time.perf_counter()
    scfg = ScoreConfig(dataset=cfg.dataset, batch_size=cfg.batch_size, labels=cfg.labels,
                       data=cfg.data, seed=cfg.seed, C=cfg.C, N=cfg.N,
                       bn="train")
    x, y = load_batch(cfg.dataset, cfg.data, cfg.batch_size, seed=cfg.seed, labels=cfg.labels,
                      device=dev)
    rng = np.random.default_rng(derive_seed(cfg.seed, "random-baseline"))
    archs = all_archs()
    seen: list[tuple[int, float]] = []
    while True:
        i = int(rng.integers(NUM_ARCHS))
        s = score_architecture(archs[i], ["nasi"], scfg, x, y, device=dev)["nasi"]
        seen.append((i, float(s)))
        if time.perf_counter() - t0 >= seconds or (max_archs and len(seen) >= max_archs):
            break
    idx = np.array([i for i, _ in seen])
    s = np.array([v for _, v in seen])
    conn = np.array([archs[i].is_connected for i in idx])
    nu = math.inf if cfg.nu is None else float(cfg.nu)
    if cfg.nu_mode == "ada" and conn.any():
        nu = float(np.quantile(s[conn], cfg.nu_quantile))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(conn & (s > 0), reward(s, cfg.mu, nu, cfg.scale), -np.inf)
    best_r, best_s = int(idx[int(np.argmax(r))]), int(idx[int(np.argmax(s))])
    return {"index": best_r, "arch": archs[best_r].string, "index_max_score": best_s,
            "arch_max_score": archs[best_s].string, "n_archs": len(seen), "nu": nu,
            "seconds": time.perf_counter() - t0}
