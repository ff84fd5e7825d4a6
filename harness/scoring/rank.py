"""Rank architectures: score them under one configuration and pair them with ground truth.

:func:`rank` is what ``python -m harness.rank`` runs: load the benchmark table and the batch,
score the architectures (cache, executor), join the scores with the ground-truth columns, and
return the ranking table with its :class:`harness.summary.RunSummary`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from benchmarks import ACCURACY_COLUMNS, load_benchmark
from harness.analysis.correlation import basic_correlations
from harness.errors import UserError
from harness.progress import READING_BENCHMARK, ProgressCallback
from harness.provenance import environment
from harness.scoring.cache import CacheError, ScoreCache
from harness.scoring.engine import EngineStats, score_archs
from harness.scoring.executors import LocalExecutor
from harness.summary import EngineInfo, RunConfig, RunSummary, ScoreInfo
from nasi.data import batch_fingerprint, load_batch_with_info
from nasi.datasets import DATASETS
from nasi.device import resolve_device
from nasi.scores import get_score
from nasi.scoring import ScoreConfig
from nasi.space import NUM_ARCHS, all_archs

DEFAULT_CACHE = Path(os.environ.get("NASI_HARNESS_CACHE",
                                    Path.home() / ".cache" / "nasi-harness" / "scores.sqlite"))
ID_COLUMNS = ["index", "arch", "iso_key", "connected"]


@dataclass(frozen=True)
class RankRequest:
    """What to rank: ``scores`` of the architectures ``indices`` (None: all 15,625) under
    ``config``, against the ground truth ``benchmark`` ('embedded' or an official file)."""

    config: ScoreConfig
    scores: Sequence[str] = ("nasi",)
    indices: Sequence[int] | None = None
    selection: dict = field(default_factory=dict)  # how the indices were chosen (recorded)
    benchmark: str = "embedded"
    cache: str | Path | None = DEFAULT_CACHE  # None: no cache
    progress: bool = True


@dataclass
class Ranking:
    table: pd.DataFrame  # ID_COLUMNS, one column per score, the ground-truth columns
    summary: RunSummary


def ground_truth_columns(table: pd.DataFrame) -> list[str]:
    acc = [c for c in ACCURACY_COLUMNS if c in table.columns]
    cost = [f"{kind}_{spec.key}" for spec in DATASETS.values() for kind in ("params", "flops")]
    return acc + [c for c in cost if c in table.columns]


def rank(request: RankRequest, device=None, executor=None) -> Ranking:
    """Score and join; ``executor`` from :func:`harness.scoring.executors.make_executor`
    (closed here; None: a :class:`LocalExecutor` on the usable cores), ``device`` the torch
    device this process scores on (None: CUDA when available, else the CPU)."""
    device = resolve_device(device)
    executor = LocalExecutor(device=device) if executor is None else executor
    t_start = time.monotonic()
    cfg, names = request.config, list(request.scores)
    indices = list(range(NUM_ARCHS)) if request.indices is None else list(request.indices)
    table = load_benchmark(None if request.benchmark == "embedded" else request.benchmark,
                           progress=ProgressCallback(READING_BENCHMARK, request.progress,
                                                     unit="records"))
    x, y, data_info = load_batch_with_info(cfg.dataset, cfg.data, cfg.batch_size, cfg.seed,
                                           cfg.labels)
    fingerprint = batch_fingerprint(x, y)
    try:
        cache = None if request.cache is None else ScoreCache(request.cache)
    except CacheError as exc:
        raise UserError(str(exc)) from None
    stats = EngineStats()
    try:
        scores = score_archs([all_archs()[i] for i in indices], names, cfg, x, y, fingerprint,
                             cache, device, progress=request.progress, stats=stats,
                             executor=executor)
    finally:
        executor.close()
        if cache is not None:
            cache.close()

    truth = ground_truth_columns(table)
    ranking = pd.concat([table.loc[indices, ID_COLUMNS].reset_index(drop=True),
                         scores[names].reset_index(drop=True),
                         table.loc[indices, truth].reset_index(drop=True)], axis=1)
    targets = [c for c in ACCURACY_COLUMNS if c in ranking.columns]
    summary = RunSummary(
        config=RunConfig(**cfg.as_dict(), scores=names, benchmark=request.benchmark,
                         selection=request.selection, batch_fingerprint=fingerprint,
                         data_description=data_info),
        environment=environment(device),
        scores={n: _score_info(n) for n in names},
        targets=targets, n_archs=len(indices),
        n_disconnected=int((~ranking["connected"]).sum()),
        engine=EngineInfo(classes=stats.classes_total, classes_cached=stats.classes_cached,
                          classes_computed=stats.classes_computed,
                          compute_seconds=round(stats.compute_seconds, 3),
                          executor=executor.describe()),
        wall_time_s=round(time.monotonic() - t_start, 3),
        correlations=basic_correlations(ranking, names, targets))
    return Ranking(ranking, summary)


def _score_info(name: str) -> ScoreInfo:
    s = get_score(name)
    value = s.disconnected_value
    return ScoreInfo(higher_is_better=s.higher_is_better, description=s.description,
                     disconnected_value=None if value != value else value)  # NaN: JSON null
