"""The local executor: isomorphism classes scored by worker processes on this machine.

Why processes: the NB201 networks are small (16-64 channels), so one architecture does not
keep two intra-op threads busy (2 threads score ~1.65x faster than 1 on this project's 2-core
CPU), while two single-threaded processes scale ~1.95x. Each class is therefore always scored
with one intra-op thread on the CPU, in a worker or in this process, so a score does not depend
on the worker count (float32 reductions depend on the thread count in the last digits).

- ``workers`` processes (default: the usable cores on the CPU, 1 on CUDA); a job of fewer than
  ``min_pool_classes`` classes, or ``workers=1``, runs in this process (no start-up cost).
- Shards of a few classes go to the workers in index order; each worker stores every class in
  the SQLite cache as it finishes (claims as for concurrent runs), so an interrupted run keeps
  what was computed; results also come back to the driver, so it works without a cache.
- Workers keep freed memory for reuse (glibc ``mallopt``, :func:`keep_freed_memory`): by
  default every tensor over 128 KiB-32 MiB is a fresh ``mmap`` whose pages fault in on first
  touch and go back to the OS when freed, which costs ~9 % of a worker's time here.
- Workers never outlive the driver (Linux: parent-death signal), ignore Ctrl-C (the driver
  handles it), and are started with "spawn" (forking a process that has run torch can hang).
"""

from __future__ import annotations

import math
import os
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

MAX_SHARD = 8  # classes per task: small enough for a smooth progress line


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@contextmanager
def cpu_threads(n: int | None):
    """torch intra-op threads set to ``n`` inside the block (None: unchanged)."""
    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


@dataclass
class LocalExecutor:
    """Score classes on this machine; call it as ``score_archs(..., executor=...)``.

    Use it as a context manager (or call :meth:`close`) to stop the workers; the pool is
    started on first use and kept for later calls.
    """

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    workers: int | None = None  # None: usable cores on the CPU, 1 on CUDA
    min_pool_classes: int = 16
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.workers is None:
            self.workers = usable_cores() if self.device.type == "cpu" else 1
        if self.workers < 1:
            from .cli import UserError

            raise UserError(f"--workers must be >= 1, got {self.workers}")
        self._pool: ProcessPoolExecutor | None = None

    @property
    def threads(self) -> int | None:
        """Intra-op threads per scoring process (None: torch's default, on CUDA)."""
        return 1 if self.device.type == "cpu" else None

    def describe(self) -> dict:
        return {"name": "local", "workers": self.workers, "threads_per_worker": self.threads,
                **self.info}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __call__(self, iso_keys: Sequence[str], names: Sequence[str], cfg, x: torch.Tensor,
                 y: torch.Tensor, key: str, cache, stats=None,
                 on_done: Callable[[], object] | None = None) -> dict[str, dict[str, float]]:
        from .engine import score_classes

        todo = list(iso_keys)
        if self.workers == 1 or len(todo) < self.min_pool_classes:
            self.info = {"processes_used": 1}
            with cpu_threads(self.threads):
                return score_classes(todo, list(names), cfg, x, y, key, cache, self.device,
                                     stats, on_done=on_done)
        return self._run_pool(todo, list(names), cfg, x, y, key, cache, stats, on_done)

    def _run_pool(self, todo, names, cfg, x, y, key, cache, stats, on_done):
        if self._pool is None:
            self._pool = spawn_pool(self.workers, self.threads)
        size = max(1, min(MAX_SHARD, math.ceil(len(todo) / (4 * self.workers))))
        shards = [todo[i:i + size] for i in range(0, len(todo), size)]
        self.info = {"processes_used": self.workers, "shards": len(shards), "shard_size": size}
        x, y = x.detach().cpu(), y.detach().cpu()
        path = None if cache is None else str(cache.path.resolve())
        pending = {self._pool.submit(_score_shard, shard, names, cfg, x, y, key, path,
                                     str(self.device)) for shard in shards}
        results: dict[str, dict[str, float]] = {}
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    out, computed, seconds = fut.result()
                    results.update(out)
                    if stats is not None:
                        stats.classes_computed += computed
                        stats.compute_seconds += seconds
                    for _ in out:
                        if on_done is not None:
                            on_done()
        except BaseException:
            for fut in pending:
                fut.cancel()
            self._terminate()
            raise
        return results

    def _terminate(self) -> None:
        """Stop the workers now (on an error or Ctrl-C); stored classes stay in the cache."""
        pool, self._pool = self._pool, None
        if pool is not None:
            kill_pool(pool)


def spawn_pool(workers: int, threads: int | None) -> ProcessPoolExecutor:
    """``workers`` spawned processes set up by :func:`worker_init`."""
    import multiprocessing

    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=worker_init, initargs=(os.getpid(), threads))


def kill_pool(pool: ProcessPoolExecutor) -> None:
    """Kill the workers at once (an error or Ctrl-C in the driver) and drop queued tasks."""
    for proc in list(getattr(pool, "_processes", {}).values()):
        proc.kill()
    pool.shutdown(wait=False, cancel_futures=True)


# ------------------------------------------------------------------ worker side
_CACHES: dict[str, object] = {}


def worker_init(parent_pid: int, threads: int | None) -> None:
    """Set up a worker process: Ctrl-C left to the driver, killed with the driver, and
    ``threads`` torch intra-op threads (None: unchanged)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver handles Ctrl-C
    _die_with_parent(parent_pid)
    keep_freed_memory()
    if threads is not None:
        torch.set_num_threads(threads)


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters (malloc.h)
MMAP_THRESHOLD_MAX = 32 << 20  # glibc's ceiling for M_MMAP_THRESHOLD on 64-bit


def keep_freed_memory() -> bool:
    """Make glibc serve allocations up to 32 MiB from its heap and never trim it, so the
    activations of one network reuse the pages of the previous one instead of mapping fresh
    zeroed pages (one page fault per 4 KiB) and unmapping them again. Scores are unchanged;
    the process keeps its peak heap. Returns False where there is no glibc (then a no-op)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)
                    and libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1))
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        return False


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGKILL this worker when the driver dies (e.g. kill -9), so no worker
    keeps computing or holding claims for a run that is gone."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return
    if os.getppid() != parent_pid:  # the driver died before prctl took effect
        os._exit(1)


def _score_shard(iso_keys, names, cfg, x, y, key, cache_path, device):
    """One task: score a shard of classes (into the cache when there is one)."""
    from .cache import ScoreCache
    from .engine import EngineStats, score_classes

    cache = None
    if cache_path is not None:
        cache = _CACHES.get(cache_path)
        if cache is None:
            cache = _CACHES[cache_path] = ScoreCache(cache_path)
    stats = EngineStats()
    out = score_classes(iso_keys, names, cfg, x, y, key, cache, torch.device(device), stats)
    return out, stats.classes_computed, stats.compute_seconds
