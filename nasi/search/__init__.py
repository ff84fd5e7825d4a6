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
  run seed by SHA-256 (namespace ``nasi.search`` of :mod:`nasi.seeding`), each in its own
  generator: the same seed gives the same search (on the
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
/ s_t. Why: at N = 5 cells per stage the score of a sampled subnet spans orders of magnitude,
so with the linear reward a few samples carry almost all of sum_t G_t; the log reward weighs
every sample's direction by its relative change.

Modules: :mod:`~nasi.search.config` (options and result), :mod:`~nasi.search.run`
(Algorithm 1), :mod:`~nasi.search.estimators` (one step's score and gradient),
:mod:`~nasi.search.update` (nu rules, reward, Eq. 18, re-aggregation of a trace),
:mod:`~nasi.search.batches` (fresh batches), :mod:`~nasi.search.exact` (the exact
expected-reward gradient from a score table), :mod:`~nasi.search.baseline` (random search at
equal time). The measurements behind the defaults are in ``docs/notes/nasi-search.md``.
"""

from .baseline import random_search_baseline
from .batches import BatchStream
from .config import (
    ESTIMATORS,
    N_EDGES,
    N_OPS,
    NU_MODES,
    SCALES,
    SearchConfig,
    SearchError,
    SearchResult,
)
from .estimators import sample_gumbel, score_and_hard_grad, score_only
from .exact import ExactGradient, edge_agreement, exact_gradient
from .run import build_supernet, run_search
from .update import (
    Aggregate,
    aggregate,
    decode,
    nu_schedule,
    reward,
    running_max_update,
    soft_probs,
    st_jacobian_vjp,
)

__all__ = [
    "ESTIMATORS", "N_EDGES", "N_OPS", "NU_MODES", "SCALES", "Aggregate", "BatchStream",
    "ExactGradient", "SearchConfig", "SearchError", "SearchResult", "aggregate",
    "build_supernet", "decode", "edge_agreement", "exact_gradient", "nu_schedule",
    "random_search_baseline", "reward", "run_search", "running_max_update", "sample_gumbel",
    "score_and_hard_grad", "score_only", "soft_probs", "st_jacobian_vjp",
]
