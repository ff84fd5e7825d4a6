"""Where the isomorphism classes missing from the cache are computed.

- ``local`` (default): worker processes on this machine, one intra-op thread each on the CPU
  (:class:`harness.local_pool.LocalExecutor`). Needs no Ray.
- ``ray`` (optional extra, ``pip install nasi-harness[ray]``): :class:`RayExecutor` cuts the
  missing classes (ordered by representative index) into shards and runs one Ray task per
  shard, with a fraction of a GPU each when the cluster has GPUs, else one CPU. Each task opens
  its own connection to the SQLite cache and stores every class as it completes (the cache
  file must be on a filesystem all Ray nodes share), so a task that fails is retried
  (``max_retries``, ``retry_exceptions``) without redoing the classes it finished, and a rerun
  after a killed driver or worker only computes what is missing. At the end the driver reads
  every class back from the cache, so the table is the one the local executor gives.
"""

from __future__ import annotations

import logging
import math
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from .cli import UserError, user_error_types
from .local_pool import usable_cores

RAY_MISSING = "--executor ray needs `pip install nasi-harness[ray]`"
RAY_DEVICES = ("auto", "cpu", "cuda")
MAX_AUTO_SHARD = 64


def import_ray():
    """The ray module, or a one-line UserError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UserError(RAY_MISSING) from None
    return ray


def score_shard(iso_keys: Sequence[str], names: Sequence[str], cfg, x: torch.Tensor,
                y: torch.Tensor, key: str, cache_path: str, use_gpu: bool) -> dict:
    """One Ray task: score a shard of classes into the cache at ``cache_path``.

    Classes already stored (e.g. by an earlier attempt of this task) are read, not
    recomputed. Returns counts for the driver's statistics, or {"error": exc} for an error in
    the user's input, which no retry can fix (the driver raises it).
    """
    from .cache import ScoreCache
    from .engine import EngineStats, score_classes

    if use_gpu and not torch.cuda.is_available():
        raise RuntimeError("this Ray task was given a GPU but torch sees no CUDA device")
    device = torch.device("cuda" if use_gpu else "cpu")
    stats = EngineStats()
    cache = ScoreCache(cache_path)
    try:
        score_classes(list(iso_keys), list(names), cfg, x, y, key, cache, device, stats)
    except user_error_types() as exc:
        return {"error": exc}
    finally:
        cache.close()
    return {"computed": stats.classes_computed, "seconds": stats.compute_seconds,
            "device": str(device)}


@dataclass
class RayExecutor:
    """Compute classes as Ray tasks; call it as ``score_archs(..., executor=...)``.

    ``address``: an existing cluster (``ray.init(address=...)``); None starts a local one with
    ``num_cpus`` CPUs (default: the cores this process may use). When Ray is already
    initialised in this process, that cluster is used and left running.
    ``shard_size``: classes per task (None: about four tasks per slot, at most 64).
    ``gpus_per_task``: GPU fraction per task when GPUs are used (Ray's fractions are logical:
    tasks share the memory; an out-of-memory error splits the batch, see harness.oom).
    ``device``: auto (GPUs if the cluster has any), cpu or cuda.
    ``cpus_per_task``: CPUs per task, which Ray turns into the task's torch threads
    (OMP_NUM_THREADS). On CPU, float32 scores depend on the thread count in the last digits
    (reduction order): the local executor matches a task bit for bit when it runs with as
    many threads (e.g. ``torch.set_num_threads(1)`` for the default 1).
    ``task_fn``: the task body (tests wrap it to inject failures).
    """

    address: str | None = None
    shard_size: int | None = None
    gpus_per_task: float = 0.25
    device: str = "auto"
    max_retries: int = 3
    cpus_per_task: int = 1
    num_cpus: int | None = None
    task_fn: Callable[..., dict] = score_shard
    info: dict = field(default_factory=dict)  # what the last run did, for summary.json

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

    def describe(self) -> dict:
        return {"name": "ray", "address": self.address, "gpus_per_task": self.gpus_per_task,
                "cpus_per_task": self.cpus_per_task, "max_retries": self.max_retries,
                **self.info}

    # ------------------------------------------------------------------ running
    def __call__(self, iso_keys: Sequence[str], names: Sequence[str], cfg, x: torch.Tensor,
                 y: torch.Tensor, key: str, cache, stats=None,
                 on_done: Callable[[], object] | None = None) -> dict[str, dict[str, float]]:
        """Score ``iso_keys`` into ``cache``; iso_key -> {name: value}, read from the cache."""
        if cache is None:
            raise UserError("--executor ray needs the score cache (its tasks write their "
                            "results there): drop --no-cache")
        if not iso_keys:
            return {}
        ray = import_ray()
        started = not ray.is_initialized()
        if started:
            self._init(ray)
        try:
            self._run(ray, list(iso_keys), list(names), cfg, x, y, key, cache, stats, on_done)
        finally:
            if started:
                ray.shutdown()
        return self._collect(list(iso_keys), list(names), key, cache)

    def _init(self, ray) -> None:
        start_ray(ray, self.address, self.num_cpus)

    def _use_gpu(self, ray) -> bool:
        gpus = ray.cluster_resources().get("GPU", 0)
        if self.device == "cpu":
            return False
        if self.device == "cuda" and gpus <= 0:
            raise UserError("--device cuda: the Ray cluster has no GPUs")
        return gpus > 0

    def _run(self, ray, todo, names, cfg, x, y, key, cache, stats, on_done) -> None:
        use_gpu = self._use_gpu(ray)
        resources = ray.cluster_resources()
        slots = max(1, int(resources.get("CPU", 1) // self.cpus_per_task))
        if use_gpu:
            slots = max(1, min(slots, int(resources.get("GPU", 0) / self.gpus_per_task)))
        size = self.shard_size or max(1, min(MAX_AUTO_SHARD, math.ceil(len(todo) / (4 * slots))))
        shards = [todo[i:i + size] for i in range(0, len(todo), size)]
        self.info = {"shards": len(shards), "shard_size": size, "slots": slots,
                     "task_device": "cuda" if use_gpu else "cpu", "ray": ray.__version__}
        task = ray.remote(self.task_fn).options(
            num_cpus=self.cpus_per_task, num_gpus=self.gpus_per_task if use_gpu else 0,
            max_retries=self.max_retries, retry_exceptions=True, name="nasi-score-shard")
        x_ref, y_ref = ray.put(x.detach().cpu()), ray.put(y.detach().cpu())
        path = str(cache.path.resolve())
        pending = {task.remote(shard, names, cfg, x_ref, y_ref, key, path, use_gpu): shard
                   for shard in shards}
        failures = []
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    shard = pending.pop(ref)
                    try:
                        out = ray.get(ref)
                    except ray.exceptions.RayError as exc:  # failed after its retries
                        failures.append(exc)
                        continue
                    if "error" in out:
                        raise out["error"]
                    if stats is not None:
                        stats.classes_computed += out["computed"]
                        stats.compute_seconds += out["seconds"]
                    for _ in shard:
                        if on_done is not None:
                            on_done()
        finally:
            for ref in pending:  # on an error or Ctrl-C: stop what is still queued
                ray.cancel(ref)
        if failures:
            n = self.max_retries
            raise RuntimeError(
                f"{len(failures)} of {len(shards)} Ray shard(s) failed after {n} "
                f"retr{'y' if n == 1 else 'ies'}; the classes they finished are in the cache "
                f"{path}, a rerun computes the rest. First error: {_one_line(failures[0])}") \
                from failures[0]

    @staticmethod
    def _collect(todo, names, key, cache) -> dict[str, dict[str, float]]:
        out = {k: cache.get(key, k) for k in todo}
        missing = [k for k, v in out.items() if not set(names) <= set(v)]
        if missing:
            raise RuntimeError(
                f"{len(missing)} of {len(todo)} classes are not in the cache {cache.path} after "
                "every Ray shard finished: is that file on a filesystem all Ray nodes share?")
        return out


def start_ray(ray, address: str | None, num_cpus: int | None = None) -> None:
    """Connect to the cluster at ``address`` (a one-line UserError when it does not answer),
    or start a local one with ``num_cpus`` CPUs (default: the usable cores)."""
    common = {"include_dashboard": False, "logging_level": logging.WARNING}
    if not address:
        ray.init(num_cpus=num_cpus or usable_cores(), **common)
        return
    _probe(address)
    try:
        ray.init(address=address, **common)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        msg = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(f"cannot connect to the Ray cluster at {address}: {msg}") from None


def make_executor(args, device: torch.device):
    """The executor of ``python -m harness.rank`` arguments: a LocalExecutor on ``device``,
    or a checked RayExecutor (a UserError when ray is not installed)."""
    ray_only = {"--address": args.address, "--shard-size": args.shard_size,
                "--gpus-per-task": args.gpus_per_task}
    if args.executor != "ray":
        given = [flag for flag, v in ray_only.items() if v is not None]
        if given:
            raise UserError(f"{', '.join(given)} only apply with --executor ray")
        from .local_pool import LocalExecutor

        return LocalExecutor(device=device, workers=args.workers)
    if args.workers is not None:
        raise UserError("--workers only applies with --executor local (Ray sizes its own "
                        "tasks)")
    if args.no_cache:
        raise UserError("--executor ray needs the score cache (its tasks write their results "
                        "there): drop --no-cache")
    ex = RayExecutor(address=args.address, shard_size=args.shard_size, device=args.device,
                     **({} if args.gpus_per_task is None
                        else {"gpus_per_task": args.gpus_per_task}))
    import_ray()
    return ex


def _probe(address: str, timeout_s: float = 10.0) -> None:
    """Fail fast on a HOST:PORT nobody answers on (ray.init would retry for minutes)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return  # 'auto', 'local', ray:// client addresses: left to ray.init
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise UserError(f"cannot connect to the Ray cluster at {address}: "
                        f"{exc.strerror or exc}") from None


def _one_line(exc: BaseException) -> str:
    """'Type: first line' of a task's error (the user exception inside a RayTaskError)."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        exc = cause
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
