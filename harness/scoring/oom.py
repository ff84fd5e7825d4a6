"""A GPU out-of-memory error is answered with less memory and the same score.

:func:`score_splitting_on_oom` runs a scoring function; on ``torch.OutOfMemoryError`` it frees
the CUDA cache and

1. recomputes with activation checkpointing per cell (nasi.network): the same batch, the same
   batch statistics, the same function and gradients, with the activations of one cell at a
   time instead of all of them. Exact in every BatchNorm mode, for the scores in
   :data:`CHECKPOINT_SAFE` (those without forward hooks inside the cells, which would fire
   twice);
2. if that is still out of memory, recomputes the scores on the batch cut into 2, 4, 8, ...
   chunks (down to one sample per chunk), combining the chunk results so that the value is
   the full-batch score up to floating-point rounding, not an approximation:

- ``MEAN_GRAD`` scores are functions of g, the gradient of the batch-MEAN loss. Each chunk's
  gradient of (sum of its per-sample losses) / b is accumulated, so the chunks add up to g,
  and the score is computed once from g. (Squaring per chunk would be wrong:
  ||g1 + g2||^2 != ||g1||^2 + ||g2||^2.)
- ``SUM`` scores are sums over samples of a per-sample quantity: chunk scores add up.

Splitting holds only when samples are independent, i.e. BatchNorm in eval mode (running
statistics). With train-mode BatchNorm every output depends on the whole batch through the
batch statistics, and so do the gradients through them, so no split gives the same function:
that case (after checkpointing failed), and any score not listed in :data:`SPLITTABLE`,
raises :class:`BatchSplitError` (a one-line user error suggesting a smaller --batch-size or
--bn eval).
"""

from __future__ import annotations

import gc
from collections.abc import Callable

import torch

from harness.errors import UserError
from nasi.datasets import get_dataset
from nasi.scores import ScoringContext, get_score
from nasi.scoring import build_scoring_model
from nasi.space import Arch

MEAN_GRAD = "mean_grad"
SUM = "sum"

# How each score can be computed on batch chunks with the same result (BatchNorm in eval
# mode only). A score that is not listed is never split.
SPLITTABLE: dict[str, str] = {
    "nasi": MEAN_GRAD,  # ||g||^2, g = gradient of the batch-mean loss (Eq. 12)
    "ntk_persample": SUM,  # sum over samples of ||grad L_x||^2 (Eq. 11)
    "ntk_exact": SUM,  # sum over samples and logits of ||grad f_k(x)||^2 (Eq. 9)
}

# Scores whose value does not change under activation checkpointing: no forward hooks on
# modules inside the cells (fisher, naswot, grasp's and ntk_trace_hnas' recorders would see
# the recomputation as a second call).
CHECKPOINT_SAFE = frozenset({"nasi", "ntk_persample", "ntk_exact", "grad_norm", "snip",
                             "jacob_cov", "synflow", "params", "flops"})

OOM_ERRORS: tuple[type[BaseException], ...] = tuple(
    {getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError),
     torch.cuda.OutOfMemoryError})


class BatchSplitError(UserError):
    """Out of memory, and the batch cannot be split into chunks with the same score."""


def split_unsupported_reason(names, bn: str) -> str | None:
    """Why the scores ``names`` cannot be computed exactly on batch chunks, or None."""
    if bn != "eval":
        return ("with --bn train the batch statistics couple the samples, so no split of "
                "the batch gives the same score")
    other = [n for n in names if n not in SPLITTABLE]
    if other:
        return (f"score(s) {', '.join(other)} cannot be computed on batch chunks with the "
                f"same result (splittable with --bn eval: {', '.join(SPLITTABLE)})")
    return None


def score_splitting_on_oom(score_fn: Callable[..., dict[str, float]], arch: Arch,
                           names: list[str], cfg, x: torch.Tensor, y: torch.Tensor,
                           device: torch.device | str = "cpu", prune: bool = True,
                           channels_last: bool = False) -> dict[str, float]:
    """``score_fn(arch, names, cfg, x, y, device=, prune=, channels_last=, checkpoint=)`` (the
    signature of nasi.scoring.score_architecture); after an out-of-memory error the same
    scores with activation checkpointing, then on 2, 4, ... batch chunks (see the module
    doc)."""
    kw = {"device": device, "prune": prune, "channels_last": channels_last}
    try:
        return score_fn(arch, names, cfg, x, y, **kw)
    except OOM_ERRORS as exc:
        first = (str(exc).strip().splitlines() or ["out of memory"])[0]
    # outside the except clause: the traceback's frames (and their tensors) are gone
    free_memory()
    tried = ""
    if set(names) <= CHECKPOINT_SAFE:
        try:
            return score_fn(arch, names, cfg, x, y, checkpoint=True, **kw)
        except OOM_ERRORS:
            tried = " also with activation checkpointing"
        free_memory()
    b = int(x.shape[0])
    if b == 1:
        raise OOM_ERRORS[0](f"out of memory scoring {arch} with batch size 1{tried}: {first}")
    reason = split_unsupported_reason(names, cfg.bn)
    if reason is not None:
        raise BatchSplitError(
            f"out of memory scoring {arch} with batch size {b}{tried} ({first}); {reason}: "
            "use a smaller --batch-size" + (" or --bn eval" if cfg.bn != "eval" else ""))
    chunks = 2
    while True:
        try:
            return score_on_chunks(arch, names, cfg, x, y, chunks, device, prune,
                                   channels_last)
        except OOM_ERRORS:
            if chunks >= b:
                raise  # out of memory even with one sample per chunk
        free_memory()
        chunks = min(2 * chunks, b)


def score_on_chunks(arch: Arch, names: list[str], cfg, x: torch.Tensor, y: torch.Tensor,
                    chunks: int, device: torch.device | str = "cpu", prune: bool = True,
                    channels_last: bool = False) -> dict[str, float]:
    """The scores ``names`` (all in :data:`SPLITTABLE`; BatchNorm in eval mode) computed on
    ``chunks`` near-equal batch chunks and combined exactly."""
    reason = split_unsupported_reason(names, cfg.bn)
    if reason is not None:
        raise BatchSplitError(reason)
    b = int(x.shape[0])
    num_classes = get_dataset(cfg.dataset).num_classes

    def make_model():  # chunks with checkpointing: step 1 ran out of memory without it
        return build_scoring_model(arch, cfg, device, prune, channels_last,
                                   checkpoint=set(names) <= CHECKPOINT_SAFE)

    model = make_model()
    grad_names = [n for n in names if SPLITTABLE[n] == MEAN_GRAD]
    sum_names = [n for n in names if SPLITTABLE[n] == SUM]
    totals = dict.fromkeys(sum_names, 0.0)
    acc: list[torch.Tensor | None] | None = None
    for xc, yc in zip(x.tensor_split(chunks), y.tensor_split(chunks)):
        ctx = ScoringContext(model, xc, yc, num_classes, cfg.loss, make_model, arch=arch,
                             config=cfg)
        if grad_names:
            # this chunk's share of the gradient of the batch-mean loss: sum of its
            # per-sample losses divided by the FULL batch size
            loss = ctx.per_sample_loss(model(xc)).sum() / b
            grads = torch.autograd.grad(loss, ctx.params, allow_unused=True)
            acc = list(grads) if acc is None else [_add(a, g) for a, g in zip(acc, grads)]
            del loss, grads
        for n in sum_names:
            totals[n] += float(get_score(n).fn(ctx))
        del ctx
    out: dict[str, float] = dict(totals)
    if grad_names:
        ctx = _GivenGradContext(acc, model, x, y, num_classes, cfg.loss, make_model,
                                arch=arch, config=cfg)
        for n in grad_names:
            out[n] = float(get_score(n).fn(ctx))
    return {n: out[n] for n in names}


class _GivenGradContext(ScoringContext):
    """A context whose batch-mean loss gradient is given (accumulated over chunks)."""

    def __init__(self, grads, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._given = grads

    def loss_grads(self):
        return self._given


def _add(a: torch.Tensor | None, g: torch.Tensor | None) -> torch.Tensor | None:
    if a is None:
        return g
    return a if g is None else a + g


def free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
