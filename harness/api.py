"""The Python API behind :mod:`harness` (see README "Python API"): keyword arguments and
small value objects over the library the command lines use.

- ground truth: :func:`load_ground_truth`; architectures: :func:`lookup` (index, arch string,
  NASLib op-index tuple or an :class:`nasi.space.Arch`);
- scores: :func:`score_architectures` (benchmark networks, the batch built from the
  :class:`nasi.scoring.ScoreConfig` or checked against it) and :func:`score_model` (any
  ``nn.Module``, as zero-cost-nas' ``find_measures``); scores of your own: ``register`` +
  :func:`load_plugins` (workers import them too, :mod:`harness.scoring.shipping`);
- pipelines: :func:`rank_architectures` (cache, executor), :func:`search_architectures`,
  :func:`harness.reporting.report.write_report`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from benchmarks import load_benchmark
from harness.errors import UserError
from harness.scoring.cache import ScoreCache
from harness.scoring.engine import score
from harness.scoring.rank import Ranking, RankRequest, rank
from nasi.scores import ScoreError, ScoringContext, get_score
from nasi.scoring import Batch, ScoreConfig, check_batch, make_batch
from nasi.space import Arch, parse_arch


def load_ground_truth(benchmark: str | Path = "embedded") -> pd.DataFrame:
    """The benchmark table, one row per architecture in benchmark index order: index, arch,
    iso_key, connected, accuracies (``benchmarks.columns`` says what each is), params/flops.
    ``benchmark``: 'embedded' (shipped) or an official NATS-Bench folder / NB201 .pth file."""
    return load_benchmark(None if str(benchmark) == "embedded" else benchmark)


def lookup(spec) -> Arch:
    """An architecture from its index, arch string, NASLib op-index tuple or an Arch."""
    if isinstance(spec, (tuple, list)):
        return Arch.from_naslib(spec)
    return parse_arch(spec)


def _batch_for(config: ScoreConfig, batch) -> Batch:
    if batch is None:
        return make_batch(config)
    if isinstance(batch, Batch):
        return check_batch(config, batch.x, batch.y)
    x, y = batch
    return check_batch(config, x, y)


def score_architectures(archs: Iterable, scores: Sequence[str] = ("nasi",),
                        config: ScoreConfig | None = None, batch=None, *,
                        device: torch.device | str = "cpu",
                        cache: str | Path | ScoreCache | None = None, executor=None,
                        progress: bool = False) -> pd.DataFrame:
    """Scores of benchmark architectures, one row each (index, arch, one column per score).

    ``config``: everything that changes a score (default ``ScoreConfig()``); ``batch``: None
    builds the config's batch; a :class:`nasi.scoring.Batch` or ``(x, y)`` must be exactly
    that batch (else a ScoreError says what differs), since the config is what gets recorded.
    ``cache``: an SQLite file (or ScoreCache) reused across calls; ``executor``: where the
    networks run (:class:`harness.scoring.executors.LocalExecutor` / ``RayExecutor``; None:
    this process); it is kept open for further calls: close it (or use it as a context
    manager) when done.
    """
    config = config or ScoreConfig()
    archs = [lookup(a) for a in archs]
    if not archs:
        raise UserError("no architecture given")
    b = _batch_for(config, batch)
    opened = ScoreCache(cache) if isinstance(cache, (str, Path)) else cache
    try:
        table = score(archs, list(scores), config, b, cache=opened, device=device,
                      executor=executor, progress=progress)
    finally:
        if opened is not None and opened is not cache:
            opened.close()
    table.insert(1, "arch", [a.string for a in archs])
    return table


def score_model(model: nn.Module, scores: Sequence[str], x: torch.Tensor, y: torch.Tensor, *,
                num_classes: int, loss: str = "ce") -> dict[str, float]:
    """Registry scores of any network on one batch (zero-cost-nas' ``find_measures``):
    ``{name: value}``. ``model`` is used in the mode it is in (train: batch statistics);
    scores that rebuild the network get a copy made before any score runs. Closed-form
    scores of benchmark cells (params, flops) need an architecture: they raise ScoreError."""
    wanted = [get_score(n) for n in scores]
    closed = [s.name for s in wanted if not s.needs_network]
    if closed:
        raise ScoreError(f"score(s) {', '.join(closed)} are closed forms of a benchmark cell; "
                         "use score_architectures for benchmark networks")
    device = next(model.parameters()).device
    initial = copy.deepcopy(model)
    ctx = ScoringContext(model, x.to(device), y.to(device), num_classes, loss,
                         lambda: copy.deepcopy(initial))
    return {s.name: float(s.fn(ctx)) for s in wanted}


def rank_architectures(request: RankRequest, device: torch.device | str | None = None,
                       executor=None) -> Ranking:
    """:func:`harness.scoring.rank.rank`: score ``request`` (cache, executor; the executor is
    closed at the end) and pair the scores with the ground truth; a :class:`Ranking` holds
    the table and its :class:`harness.summary.RunSummary`."""
    return rank(request, device, executor)


def search_architectures(config, device: torch.device | str = "cpu"):
    """One training-free search: :class:`nasi.blackbox.BlackBoxConfig` (evolution, random,
    REINFORCE over a registry objective) -> ``BlackBoxResult``, or
    :class:`nasi.search.SearchConfig` (the NASI replication) -> ``SearchResult``. Both have
    ``.arch`` (look its accuracies up with :func:`load_ground_truth`)."""
    from nasi.blackbox import BlackBoxConfig, run_blackbox
    from nasi.device import resolve_device
    from nasi.objective import NetworkEvaluator, Objective
    from nasi.search import SearchConfig, run_search

    dev = resolve_device(device)
    if isinstance(config, BlackBoxConfig):
        evaluator = NetworkEvaluator(Objective.parse(config.objective), config.score_config(),
                                     dev)
        return run_blackbox(config, evaluator, str(dev))
    if isinstance(config, SearchConfig):
        return run_search(config, dev)
    raise UserError(f"search takes a BlackBoxConfig or a SearchConfig, got "
                    f"{type(config).__name__}")
