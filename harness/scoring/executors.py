"""Where work runs: one interface for ranking (shards of isomorphism classes) and search (one
job per group and seed).

An executor maps a picklable function over jobs and yields the results as they finish:
``fn(job, shared, device) -> result``, ``shared`` being data every job reads (the batch),
shipped once where the executor allows it. Jobs are taken from their iterable only when a
slot frees up (at most two per slot in flight), so a caller can decide a job (e.g. claim its
classes in the cache) just before it runs. Results travel back to the caller, the only
process that writes files or the cache: workers and Ray tasks need no shared filesystem.
Two implementations:

- :class:`LocalExecutor`: this process (``workers=1``, or fewer jobs than ``min_pool_jobs``),
  or spawned worker processes (:mod:`harness.scoring.local_pool`) with ``threads`` torch
  threads each (default 1 on the CPU: a result does not depend on the worker count, float32
  reductions depend on the thread count in the last digits).
- :class:`RayExecutor`: one Ray task per job (``pip install nasi-harness[ray]``), retried
  (``max_retries``) when it fails or its worker or node is lost (only the jobs in flight
  there are redone), except for bad input, which no retry can fix and which is raised in the
  driver. Jobs still queued are cancelled on an error or Ctrl-C.

Both send the user's scores with every job (:mod:`harness.scoring.shipping`): plugins are
imported in the worker, scores defined in ``__main__`` travel by value.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass, field

import torch

from harness.errors import UserError, user_error_types
from harness.scoring.local_pool import cpu_threads, kill_pool, spawn_pool, usable_cores
from harness.scoring.ray_support import (
    RAY_DEVICES,
    DeferredSignals,
    import_ray,
    one_line,
    start_ray,
    stop_reaper,
)
from harness.scoring.shipping import CannotShip, pack_scores, run_with_scores, warn_in_process

Job = object
JobFn = Callable[[Job, object, str], object]
SIGNAL_POLL_S = 0.5  # how long a signal may wait for the next Ray call to return
IN_FLIGHT_PER_SLOT = 2  # queued jobs per slot: slots never idle, little work lost with a node


class Executor:
    """The interface; see the module docstring."""

    name = "executor"
    threads: int | None = None  # torch threads per job (None: torch's default)
    info: dict  # what the last map did, for summaries

    def runs_here(self, n_jobs: int) -> bool:
        """True when ``n_jobs`` jobs would run in this process."""
        return False

    def slots(self) -> int:
        """Jobs that run at once."""
        return 1

    def map_unordered(self, fn: JobFn, jobs: Iterable[Job], shared=None) -> Iterator[object]:
        raise NotImplementedError

    def describe(self) -> dict:
        return {"name": self.name, **self.info}

    def close(self) -> None:
        """Stop the workers (or the Ray cluster this executor started)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def shard(items: Sequence, executor: Executor, max_size: int, size: int | None = None) -> list:
    """``items`` cut into consecutive shards: ``size`` each, or about four per slot (at most
    ``max_size``), so progress stays smooth and a lost task costs little."""
    size = size or max(1, min(max_size, math.ceil(len(items) / (4 * executor.slots()))))
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


@dataclass
class LocalExecutor(Executor):
    """This machine: ``workers`` spawned processes (default: the usable cores on the CPU, 1 on
    CUDA) with ``threads`` torch threads each (default: 1 on the CPU, torch's on CUDA). The
    pool starts on first use and is kept for later maps until :meth:`close`."""

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    workers: int | None = None
    threads: int | None = None
    min_pool_jobs: int = 16  # fewer jobs run in this process (no start-up cost)
    info: dict = field(default_factory=dict)
    name = "local"

    def __post_init__(self):
        if self.workers is None:
            self.workers = usable_cores() if self.device.type == "cpu" else 1
        if self.workers < 1:
            raise UserError(f"--workers must be >= 1, got {self.workers}")
        if self.threads is None and self.device.type == "cpu":
            self.threads = 1
        self._pool = None

    def runs_here(self, n_jobs: int) -> bool:
        return self.workers == 1 or n_jobs < self.min_pool_jobs

    def slots(self) -> int:
        return self.workers

    def describe(self) -> dict:
        return {"name": self.name, "workers": self.workers, "threads_per_worker": self.threads,
                **self.info}

    def map_unordered(self, fn: JobFn, jobs: Iterable[Job], shared=None,
                      n_jobs: int | None = None) -> Iterator[object]:
        """``n_jobs``: how many ``jobs`` holds when it is not a sequence (decides whether they
        run in this process)."""
        device = str(self.device)
        n_jobs = len(jobs) if n_jobs is None else n_jobs
        pack, here = None, self.runs_here(n_jobs)
        if not here:
            try:
                pack = pack_scores()  # the user's scores, for the workers
            except CannotShip as exc:
                warn_in_process(str(exc))
                here = True
        if here:
            self.info = {"processes_used": 1}
            with cpu_threads(self.threads):
                for job in jobs:
                    yield fn(job, shared, device)
            return
        if self._pool is None:
            self._pool = spawn_pool(self.workers, self.threads)
        self.info = {"processes_used": min(self.workers, n_jobs)}
        queue, pending = iter(jobs), set()
        try:
            while True:
                for job in itertools.islice(queue, IN_FLIGHT_PER_SLOT * self.workers
                                            - len(pending)):
                    pending.add(self._pool.submit(run_with_scores, pack, fn, job, shared, device))
                if not pending:
                    break
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    yield fut.result()
        except BaseException:  # an error, Ctrl-C, or the consumer stopped early
            for fut in pending:
                fut.cancel()
            pool, self._pool = self._pool, None
            kill_pool(pool)
            raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


@dataclass
class RayExecutor(Executor):
    """Ray tasks. ``address``: an existing cluster; None starts a local one with ``num_cpus``
    CPUs (default: the usable cores); a cluster already initialised in this process is used
    and left running. ``device``: auto (GPUs when the cluster has any), cpu or cuda;
    ``gpus_per_task``: GPU fraction per task when GPUs are used (logical: tasks share the
    memory; an out-of-memory error splits the batch, see harness.scoring.oom);
    ``cpus_per_task``: CPUs per task, which Ray turns into the task's torch threads."""

    address: str | None = None
    shard_size: int | None = None  # classes per ranking task (None: about four per slot)
    gpus_per_task: float = 0.25
    device: str = "auto"
    max_retries: int = 3
    cpus_per_task: int = 1
    num_cpus: int | None = None
    info: dict = field(default_factory=dict)
    name = "ray"

    def __post_init__(self):
        if self.shard_size is not None and self.shard_size < 1:
            raise UserError(f"--shard-size must be >= 1, got {self.shard_size}")
        f = self.gpus_per_task
        if not (f > 0 and (f <= 1 or float(f).is_integer())):
            raise UserError(f"--gpus-per-task must be a fraction in (0, 1] or a whole number, "
                            f"got {f}")
        if self.device not in RAY_DEVICES:
            raise UserError(f"with --executor ray, --device must be one of "
                            f"{', '.join(RAY_DEVICES)} (Ray assigns the GPUs), got {self.device}")
        if self.cpus_per_task < 1:
            raise UserError(f"cpus_per_task must be >= 1, got {self.cpus_per_task}")
        if self.max_retries < 0:
            raise UserError(f"max_retries must be >= 0, got {self.max_retries}")
        self._ray, self._started, self._reaper = None, False, None

    def describe(self) -> dict:
        return {"name": self.name, "address": self.address, "gpus_per_task": self.gpus_per_task,
                "cpus_per_task": self.cpus_per_task, "max_retries": self.max_retries,
                **self.info}

    def open(self):
        """The ray module, with a cluster started or joined (once)."""
        if self._ray is None:
            ray = import_ray()
            if not ray.is_initialized():
                self._reaper = start_ray(ray, self.address, self.num_cpus)
                self._started = True
            self._ray = ray
        return self._ray

    def use_gpu(self) -> bool:
        gpus = self.open().cluster_resources().get("GPU", 0)
        if self.device == "cpu":
            return False
        if self.device == "cuda" and gpus <= 0:
            raise UserError("--device cuda: the Ray cluster has no GPUs")
        return gpus > 0

    def slots(self) -> int:
        resources = self.open().cluster_resources()
        slots = max(1, int(resources.get("CPU", 1) // self.cpus_per_task))
        if self.use_gpu():
            slots = max(1, min(slots, int(resources.get("GPU", 0) / self.gpus_per_task)))
        return slots

    def map_unordered(self, fn: JobFn, jobs: Iterable[Job], shared=None,
                      n_jobs: int | None = None) -> Iterator[object]:
        ray = self.open()
        use_gpu = self.use_gpu()
        device = "cuda" if use_gpu else "cpu"
        slots = self.slots()
        self.info = {"slots": slots, "task_device": device, "ray": ray.__version__}
        task = ray.remote(_ray_task).options(
            num_cpus=self.cpus_per_task, num_gpus=self.gpus_per_task if use_gpu else 0,
            max_retries=self.max_retries, retry_exceptions=True,
            name=f"nasi-{getattr(fn, '__name__', 'task')}")
        shared_ref = ray.put(shared)
        pack = pack_scores()  # Ray pickles with cloudpickle: __main__ scores travel by value
        queue, pending, failures, submitted = iter(jobs), [], [], 0
        with DeferredSignals() as signals:  # Ctrl-C / SIGTERM act between Ray calls
            try:
                while True:
                    signals.check()
                    for job in itertools.islice(queue,
                                                IN_FLIGHT_PER_SLOT * slots - len(pending)):
                        pending.append(task.remote(fn, job, shared_ref, device, pack))
                        submitted += 1
                    if not pending:
                        break
                    ready, pending = ray.wait(pending, num_returns=1, timeout=SIGNAL_POLL_S)
                    if not ready:
                        continue
                    try:
                        out = ray.get(ready[0])
                    except ray.exceptions.RayError as exc:  # failed after its retries
                        failures.append(exc)
                        continue
                    if isinstance(out, _BadInput):
                        raise out.error
                    yield out
            finally:
                if pending and not self._started:  # a cluster we started goes down in close()
                    _cancel(ray, pending)
        if failures:
            n = self.max_retries
            raise RuntimeError(
                f"{len(failures)} of {submitted} Ray task(s) failed after {n} "
                f"retr{'y' if n == 1 else 'ies'}; what came back is kept, a rerun computes "
                f"the rest. First error: {one_line(failures[0])}") from failures[0]

    def close(self) -> None:
        if self._started and self._ray is not None:
            with DeferredSignals():  # a second SIGTERM does not break the shutdown
                self._ray.shutdown()
        stop_reaper(self._reaper)
        self._ray, self._started, self._reaper = None, False, None


def _cancel(ray, refs: list) -> None:
    """On an error or Ctrl-C on a cluster that outlives this run: stop the tasks still queued
    or running (best effort: a task that has just finished is not an error here). Not done on
    a cluster this process started: its shutdown stops them, and Ray 2.60 can abort the driver
    when a cancel races a task's completion (``task_manager.cc``: "Tried to complete task that
    was not pending", seen after SIGTERM)."""
    for ref in refs:
        with contextlib.suppress(Exception):  # best effort: the original error matters
            ray.cancel(ref)


@dataclass
class _BadInput:
    error: BaseException


def _ray_task(fn: JobFn, job: Job, shared, device: str, pack=None):
    """A Ray task: the user's scores installed (harness.scoring.shipping); bad input comes
    back as a value (Ray would retry an exception)."""
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("this Ray task was given a GPU but torch sees no CUDA device")
    try:
        return run_with_scores(pack, fn, job, shared, device)
    except user_error_types() as exc:
        return _BadInput(exc)


def make_executor(kind: str, device: torch.device, *, workers: int | None = None,
                  address: str | None = None, shard_size: int | None = None,
                  gpus_per_task: float | None = None, ray_device: str = "auto",
                  cache: bool = True) -> Executor:
    # ``cache`` is accepted for the command lines' sake: every executor works without one
    """The executor a command line asked for, checked before any work (UserError)."""
    ray_only = {"--address": address, "--shard-size": shard_size,
                "--gpus-per-task": gpus_per_task}
    if kind != "ray":
        given = [flag for flag, v in ray_only.items() if v is not None]
        if given:
            raise UserError(f"{', '.join(given)} only apply with --executor ray")
        return LocalExecutor(device=device, workers=workers)
    if workers is not None:
        raise UserError("--workers only applies with --executor local (Ray sizes its own "
                        "tasks)")
    ex = RayExecutor(address=address, shard_size=shard_size, device=ray_device,
                     **({} if gpus_per_task is None else {"gpus_per_task": gpus_per_task}))
    import_ray()
    return ex
