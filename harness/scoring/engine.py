"""Score many architectures under one score configuration.

- One network per isomorphism class (6,466 for the whole space), built from the class's
  lowest benchmark index and seeded from the class key, so every member gets the same score
  whatever subset, order or shard it was requested in.
- The 341 disconnected architectures get each score's documented ``disconnected_value``
  without running a network; closed-form scores (params, flops) are computed per architecture.
- Results go to the SQLite cache as they come back: reruns and interrupted runs resume. This
  process (the driver) is the cache's only writer; worker processes and Ray tasks return
  their results and never open it, so no filesystem has to be shared with them.
- CUDA when available, else CPU with channels_last; ``executor`` decides where the missing
  classes run (harness.scoring.executors: worker processes, one thread each on the CPU; or Ray).
"""

from __future__ import annotations

import functools
import itertools
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import pandas as pd
import torch

from harness.errors import UserError
from harness.progress import Progress
from harness.scoring.cache import ScoreCache, WaitNotice
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
    if todo and cache is not None and cache.read_only:
        raise UserError(f"the cache {cache.path} is read-only and lacks {len(todo)} of the "
                        f"{len(wanted)} classes this run needs: make it writable or pass "
                        "another --cache (or --no-cache)")
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
    """The network scores ``names`` of the classes ``iso_keys`` (each on its
    representative) under the cache key ``key``; iso_key -> {name: value}.

    They are computed where ``executor`` says: in this process (None, or a job too small for
    its workers; with the executor's thread count) or in shards of a few classes on its
    workers or Ray tasks. This process is the only one that writes ``cache``: it claims each
    class just before it is computed (so concurrent runs on one cache split the work) and
    stores each result as it comes back. A class another run holds is waited for (said on
    stderr) and taken over when that claim expires (:mod:`harness.scoring.cache`) or after
    ``wait_for_others_s``; a class already stored is read, not recomputed.
    """
    book = _Book(cache, key, stats if stats is not None else EngineStats(), on_done)
    book.results = {k: {} for k in iso_keys}  # in the order asked
    here = executor is None or executor.runs_here(len(iso_keys))
    batch = (x, y)
    notice = WaitNotice(cache)
    deadline = time.monotonic() + wait_for_others_s
    todo = list(iso_keys)
    try:
        while todo:
            taken: list[str] = []
            mine = _claimed(todo, book, names, taken, time.monotonic() > deadline)
            first = next(mine, None)  # claims up to the first class this run computes
            if first is not None and here:
                with cpu_threads(None if executor is None else executor.threads):
                    _compute_here(itertools.chain([first], mine), names, cfg, batch, device,
                                  book)
            elif first is not None:
                _compute_sharded(itertools.chain([first], mine), len(todo), names, cfg, batch,
                                 executor, book)
            todo = taken
            if todo:  # held by another run: wait, say so now and then
                notice.waiting(key, todo)
                time.sleep(WAIT_POLL_S)
    finally:
        if cache is not None:
            cache.release_claims()
    if here and executor is not None:
        executor.info = {"processes_used": 1}
    return book.results


WAIT_POLL_S = 0.2


class _Book:
    """The results so far; stores computed ones in the cache (one transaction per batch)."""

    def __init__(self, cache, key, stats: EngineStats, on_done):
        self.cache, self.key, self.stats = cache, key, stats
        self.on_done = on_done or (lambda: None)
        self.results: dict[str, dict[str, float]] = {}
        self.shards = 0  # shards computed on an executor

    def add(self, iso_key: str, values: dict[str, float]) -> None:
        self.results.setdefault(iso_key, {}).update(values)
        self.on_done()

    def store(self, rows, device: str) -> None:
        """``rows``: [(iso_key, values, seconds)] computed on ``device``."""
        if self.cache is not None:
            self.cache.store_many(self.key, rows, device)
        for k, values, seconds in rows:
            self.stats.classes_computed += 1
            self.stats.compute_seconds += seconds
            self.add(k, values)


def _claimed(keys, book: _Book, names, taken: list, force: bool) -> Iterator[str]:
    """The classes of ``keys`` this run computes, each claimed as it is drawn; classes stored
    meanwhile are read, classes another run holds are appended to ``taken``."""
    cache = book.cache
    for k in keys:
        status = "mine" if cache is None else cache.claim(book.key, k, names, force=force)
        if status == "mine":
            yield k
        elif status == "done":  # another run stored it since we looked
            book.add(k, cache.get(book.key, k))
        else:
            taken.append(k)


def _compute_here(mine: Iterator[str], names, cfg, batch, device, book: _Book) -> None:
    x, y, channels_last = _prepare_batch(*batch, device)
    reps = class_representatives()
    for k in mine:
        values, seconds = _score_one(reps[k], names, cfg, x, y, device, channels_last)
        book.store([(k, values, seconds)], str(device))


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
    """The network scores ``names`` of the classes ``iso_keys`` computed in this process
    (:func:`compute_classes` without an executor)."""
    return compute_classes(iso_keys, names, cfg, x, y, key, cache, device, None, stats,
                           on_done, wait_for_others_s)


def _score_one(rep: Arch, names, cfg, x, y, device, channels_last) -> tuple[dict, float]:
    """The scores of one class's representative and the seconds they took."""
    t = time.perf_counter()
    # on a GPU out-of-memory error, scores that allow it are recomputed on batch chunks
    values = score_splitting_on_oom(score_architecture, rep, list(names), cfg, x, y,
                                    device=device, prune=True, channels_last=channels_last)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return values, time.perf_counter() - t


MAX_LOCAL_SHARD, MAX_RAY_SHARD = 8, 64  # classes per task: smooth progress, little lost work


@dataclass(frozen=True)
class ShardJob:
    """Classes for one worker or Ray task; it returns their scores and opens no file."""

    iso_keys: list[str]
    names: list[str]
    cfg: ScoreConfig


def _shard_size(n: int, executor) -> int:
    max_size = MAX_RAY_SHARD if executor.name == "ray" else MAX_LOCAL_SHARD
    return len(shard(range(n), executor, max_size, getattr(executor, "shard_size", None))[0])


def _compute_sharded(mine: Iterator[str], n: int, names, cfg, batch, executor, book) -> None:
    """Shards of the classes ``mine`` (about ``n``) on the executor; each shard's results
    are stored by the driver as they come back."""
    size = _shard_size(n, executor)
    jobs = (ShardJob(keys, list(names), cfg) for keys in _chunks(mine, size))
    x, y = (t.detach().cpu() for t in batch)
    n_shards = math.ceil(n / size)
    for rows, device in executor.map_unordered(score_shard, jobs, (x, y), n_jobs=n_shards):
        book.store(rows, device)
        book.shards += 1
    executor.info.update({"shards": book.shards, "shard_size": size})


def _chunks(items: Iterator[str], size: int) -> Iterator[list[str]]:
    while chunk := list(itertools.islice(items, size)):
        yield chunk


def score_shard(job: ShardJob, batch, device: str):
    """One executor task: ([(iso_key, values, seconds)], device). It never touches the
    cache: the driver stores what it returns."""
    dev = torch.device(device)
    x, y, channels_last = _prepare_batch(*batch, dev)
    reps = class_representatives()
    rows = [(k, *_score_one(reps[k], job.names, job.cfg, x, y, dev, channels_last))
            for k in job.iso_keys]
    return rows, device
