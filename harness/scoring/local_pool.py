"""Worker processes on this machine: spawned, one torch thread each, killed with the driver.

Why processes: the NB201 networks are small (16-64 channels), so one architecture does not
keep two intra-op threads busy (2 threads score ~1.65x faster than 1 on this project's 2-core
CPU), while two single-threaded processes scale ~1.95x. Each class is therefore always scored
with one intra-op thread on the CPU, in a worker or in this process, so a score does not depend
on the worker count (float32 reductions depend on the thread count in the last digits).

- Workers keep freed memory for reuse (glibc ``mallopt``, :func:`keep_freed_memory`): by
  default every tensor over 128 KiB-32 MiB is a fresh ``mmap`` whose pages fault in on first
  touch and go back to the OS when freed, which costs ~9 % of a worker's time here.
- Workers never outlive the driver (Linux: parent-death signal), ignore Ctrl-C (the driver
  handles it), and are started with "spawn" (forking a process that has run torch can hang).
"""

from __future__ import annotations

import os
import signal
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

import torch


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
