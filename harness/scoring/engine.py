"""Score many architectures under one score configuration.

- One network per isomorphism class (6,466 for the whole space), built from the class's
  lowest benchmark index and seeded from the class key, so every member gets the same score
  whatever subset, order or shard it was requested in.
- The 341 disconnected architectures get each score's documented ``disconnected_value``
  without running a network; closed-form scores (params, flops) are computed per architecture.
- Results go to the SQLite cache as each class finishes: reruns and interrupted runs resume.
- CUDA when available, else CPU with channels_last; ``executor`` decides where the missing
  classes run (harness.scoring.executors: worker processes, one thread each on the CPU; or Ray).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from harness.progress import Progress
from harness.scoring.cache import ScoreCache
from harness.scoring.executors import shard
from harness.scoring.local_pool import cpu_threads
from harness.scoring.oom import score_splitting_on_oom
from nasi.scores import get_score
from nasi.scoring import Batch, ScoreConfig, score_architecture
from nasi.space import Arch, all_archs, parse_arch


@functools.cache
def class_representatives() -> dict[str, Arch]:
    """iso_key -> the architecture with the lowest benchmark index in that class."""
    reps: dict[str, Arch] = {}
    for a in all_archs():
        reps.setdefault(a.iso_key, a)
    return reps


@dataclass
class EngineStats:
    classes_total: int = 0
    classes_cached: int = 0
    classes_computed: int = 0
    compute_seconds: float = 0.0
    wall_seconds: float = 0.0


def score_archs(archs: Sequence[Arch], names: Sequence[str], cfg: ScoreConfig,
                x: torch.Tensor, y: torch.Tensor, batch_fingerprint: str,
                cache: ScoreCache | None, device: torch.device, progress: bool = True,
                stats: EngineStats | None = None, wait_for_others_s: float = 3600.0,
                executor=None) -> pd.DataFrame:
    """Scores of ``archs`` (one row each, in the given order) for every name in ``names``.

    ``executor`` (:mod:`harness.scoring.executors`) computes the classes missing from the
    cache in worker processes or Ray tasks, shards of a few classes each; None computes them
    in this process (:func:`score_classes`).
    """
    t0 = time.monotonic()
    stats = stats if stats is not None else EngineStats()
    scores = [get_score(n) for n in names]
    net_names = [s.name for s in scores if s.needs_network]
    key = cfg.key(batch_fingerprint)
    batch = (x, y)  # as given: an executor ships it to its workers
    x, y, _ = _prepare_batch(x, y, device)
    reps = class_representatives()
    wanted = sorted({a.iso_key for a in archs if a.is_connected},
                    key=lambda k: reps[k].index)
    results = _from_cache(cache, key, wanted, net_names, {**cfg.key_dict(),
                                                           "batch": batch_fingerprint})
    todo = [k for k in wanted if any(n not in results[k] for n in net_names)]
    stats.classes_total = len(wanted)
    stats.classes_cached = len(wanted) - len(todo)

    bar = Progress(len(todo), f"scoring {cfg.dataset} ({','.join(net_names)})", progress,
                   unit="nets")
    try:
        computed = compute_classes(todo, net_names, cfg, *batch, key, cache, device, executor,
                                   stats, bar.update, wait_for_others_s)
    finally:
        bar.close()
    for k, values in computed.items():
        results[k].update(values)

    rows = []
    for a in archs:
        row: dict[str, float] = {"index": a.index}
        for s in scores:
            if not s.needs_network:
                row[s.name] = score_architecture(a, [s.name], cfg, x, y, device)[s.name]
            elif not a.is_connected:
                row[s.name] = s.disconnected_value
            else:
                row[s.name] = results[a.iso_key][s.name]
        rows.append(row)
    stats.wall_seconds = time.monotonic() - t0
    return pd.DataFrame(rows, columns=["index", *names])


def score(archs: Sequence, scores: Sequence[str], config: ScoreConfig, batch: Batch, *,
          cache: ScoreCache | None = None, device: torch.device | str = "cpu", executor=None,
          progress: bool = False, stats: EngineStats | None = None) -> pd.DataFrame:
    """:func:`score_archs` with keywords: ``archs`` (Arch, index or arch string each) scored
    with ``scores`` under ``config`` on ``batch`` (:func:`nasi.scoring.make_batch`)."""
    return score_archs([parse_arch(a) for a in archs], list(scores), config, batch.x, batch.y,
                       batch.fingerprint, cache, torch.device(device), progress=progress,
                       stats=stats, executor=executor)


def _from_cache(cache, key, wanted, names, config) -> dict[str, dict[str, float]]:
    """iso_key -> the scores ``names`` the cache holds for it (empty without a cache)."""
    results: dict[str, dict[str, float]] = {k: {} for k in wanted}
    if cache is not None:
        cache.register_config(key, config)
        for n in names:
            done = cache.lookup(key, n)
            for k in wanted:
                if k in done:
                    results[k][n] = done[k]
    return results


def compute_classes(iso_keys: Sequence[str], names: Sequence[str], cfg: ScoreConfig,
                    x: torch.Tensor, y: torch.Tensor, key: str, cache: ScoreCache | None,
                    device: torch.device, executor=None, stats: EngineStats | None = None,
                    on_done: Callable[[], object] | None = None,
                    wait_for_others_s: float = 3600.0) -> dict[str, dict[str, float]]:
    """The network scores of ``iso_keys``, computed where ``executor`` says: in this process
    (None, or a job too small for its workers; with the executor's thread count) or in shards
    of a few classes on its workers or Ray tasks. iso_key -> {name: value}."""
    stats = stats if stats is not None else EngineStats()
    on_done = on_done or (lambda: None)
    if executor is None or executor.runs_here(len(iso_keys)):
        with cpu_threads(None if executor is None else executor.threads):
            out = score_classes(iso_keys, names, cfg, x, y, key, cache, device, stats,
                                on_done=on_done, wait_for_others_s=wait_for_others_s)
        if executor is not None:
            executor.info = {"processes_used": 1}
        return out
    return _score_sharded(list(iso_keys), names, cfg, (x, y), key, cache, executor, stats,
                          on_done)


def _prepare_batch(x: torch.Tensor, y: torch.Tensor, device: torch.device):
    """The batch on ``device`` (channels_last on CPU); a no-op when it already is."""
    channels_last = device.type == "cpu"
    x = x.to(device)
    y = y.to(device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, y, channels_last


def score_classes(iso_keys: Sequence[str], names: Sequence[str], cfg: ScoreConfig,
                  x: torch.Tensor, y: torch.Tensor, key: str, cache: ScoreCache | None,
                  device: torch.device, stats: EngineStats | None = None,
                  on_done: Callable[[], object] | None = None,
                  wait_for_others_s: float = 3600.0) -> dict[str, dict[str, float]]:
    """Compute the network scores ``names`` of the classes ``iso_keys`` (each on its
    representative) under the cache key ``key``; iso_key -> {name: value}.

    Each class is stored in ``cache`` as soon as it is computed. Claims let processes that
    share the cache split the work: a class another live process is computing is waited for,
    and taken over when its claim expires or its process is gone. A class already stored is
    read, not recomputed. Used by :func:`score_archs` and by each task of an executor.
    """
    stats = stats if stats is not None else EngineStats()
    x, y, channels_last = _prepare_batch(x, y, device)
    reps = class_representatives()
    results: dict[str, dict[str, float]] = {k: {} for k in iso_keys}

    def run(k: str) -> None:
        _compute(k, reps[k], names, cfg, x, y, device, channels_last, results, cache, key,
                 stats)

    def done() -> None:
        if on_done is not None:
            on_done()

    deferred: list[str] = []
    try:
        for k in iso_keys:
            status = "mine" if cache is None else cache.claim(key, k, names)
            if status == "mine":
                run(k)
            elif status == "done":  # another process stored it since we looked
                results[k].update(cache.get(key, k))
            else:
                deferred.append(k)  # another process is computing it
                continue
            done()
        # classes another process holds: wait for its results; take a class over when the
        # claim expires or its process is gone
        deadline = time.monotonic() + wait_for_others_s
        while deferred:
            still = []
            for k in deferred:
                status = cache.claim(key, k, names)
                if status == "done":
                    results[k].update(cache.get(key, k))
                elif status == "mine" or time.monotonic() > deadline:
                    run(k)
                else:
                    still.append(k)
                    continue
                done()
            deferred = still
            if deferred:
                time.sleep(0.2)
    finally:
        if cache is not None:
            cache.release_claims()
    return results


def _compute(iso_key, rep, names, cfg, x, y, device, channels_last, results, cache, key, stats):
    t = time.perf_counter()
    # on a GPU out-of-memory error, scores that allow it are recomputed on batch chunks
    values = score_splitting_on_oom(score_architecture, rep, list(names), cfg, x, y,
                                    device=device, prune=True, channels_last=channels_last)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    dt = time.perf_counter() - t
    stats.classes_computed += 1
    stats.compute_seconds += dt
    results[iso_key].update(values)
    if cache is not None:
        cache.store(key, iso_key, values, dt, str(device))


MAX_LOCAL_SHARD, MAX_RAY_SHARD = 8, 64  # classes per task: smooth progress, little lost work


@dataclass(frozen=True)
class ShardJob:
    iso_keys: list[str]
    names: list[str]
    cfg: ScoreConfig
    key: str
    cache_path: str | None  # each task stores every class there as it finishes


def _score_sharded(todo, names, cfg, batch, key, cache, executor, stats, on_done):
    max_size = MAX_RAY_SHARD if executor.name == "ray" else MAX_LOCAL_SHARD
    shards = shard(todo, executor, max_size, getattr(executor, "shard_size", None))
    path = None if cache is None else str(Path(cache.path).resolve())
    jobs = [ShardJob(keys, list(names), cfg, key, path) for keys in shards]
    x, y = (t.detach().cpu() for t in batch)
    results: dict[str, dict[str, float]] = {}
    for out, computed, seconds in executor.map_unordered(score_shard, jobs, (x, y)):
        results.update(out)
        stats.classes_computed += computed
        stats.compute_seconds += seconds
        for _ in out:
            on_done()
    executor.info.update({"shards": len(shards), "shard_size": len(shards[0])})
    return results


_CACHES: dict[str, ScoreCache] = {}  # a worker's open caches, reused across its tasks


def score_shard(job: ShardJob, batch, device: str):
    """One executor task: (iso_key -> values, classes computed, seconds)."""
    cache = None
    if job.cache_path is not None:
        cache = _CACHES.get(job.cache_path)
        if cache is None:
            cache = _CACHES[job.cache_path] = ScoreCache(job.cache_path)
    stats = EngineStats()
    out = score_classes(job.iso_keys, job.names, job.cfg, *batch, job.key, cache,
                        torch.device(device), stats)
    return out, stats.classes_computed, stats.compute_seconds
