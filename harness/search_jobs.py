"""Where the searches of ``python -m harness.search`` run, one job per (group, seed).

- in this process, one after another (``--workers 1``, the default);
- ``--workers W``: W local worker processes (spawned; killed with the driver), each with
  ``--threads`` torch threads: on a 2-core CPU two single-thread searches run side by side;
- ``--executor ray [--address ADDR]``: one Ray task per job (``pip install
  nasi-harness[ray]``), one CPU each, a quarter GPU when the cluster has GPUs and the device
  is not forced to the CPU; failed tasks are retried.

A search is seeded and runs with a fixed thread count, so every executor gives the same
architectures and traces (tested). Jobs are yielded as they finish; the driver writes each
seed's files at once (``harness.search_store``), so an interrupted run keeps the
seeds it finished and the same command run again searches only the others.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass


@dataclass(frozen=True)
class SearchJob:
    group: str
    cfg: object  # nasi.search.SearchConfig or nasi.blackbox.BlackBoxConfig
    random_baseline: bool
    checkpoint: str | None = None  # black-box: the evaluations file of this search


def run_job(job: SearchJob, device: str, threads: int) -> tuple[SearchJob, object, dict | None]:
    """One search (and its random baseline at equal wall time): (job, result, rb)."""
    import torch

    from nasi.blackbox import BlackBoxConfig
    from nasi.device import resolve_device
    from nasi.search import random_search_baseline, run_search

    dev = resolve_device(device)
    if dev.type == "cpu":
        torch.set_num_threads(threads)
    if isinstance(job.cfg, BlackBoxConfig):
        return job, *run_blackbox_job(job, dev)
    res = run_search(job.cfg, dev)
    rb = random_search_baseline(job.cfg, res.seconds, dev) if job.random_baseline else None
    return job, res, rb


CHECKPOINT_EVERY = 10  # networks scored between two checkpoint writes


def run_blackbox_job(job: SearchJob, dev) -> tuple[object, dict | None]:
    """A black-box search resumed from (and checkpointed to) ``job.checkpoint``, then, if
    asked, random search with the same objective for the same wall time (fresh cache)."""
    from pathlib import Path

    from nasi.blackbox import run_blackbox
    from nasi.objective import NetworkEvaluator, Objective
    from nasi.space import NUM_ARCHS

    from . import search_store

    cfg, path = job.cfg, Path(job.checkpoint) if job.checkpoint else None
    objective = Objective.parse(cfg.objective)
    known = search_store.read_checkpoint(path, cfg, str(dev)) if path else {}
    evaluator = NetworkEvaluator(objective, cfg.score_config(), dev, known)
    scored: list = [(i, v, s) for i, (v, s) in known.items()]

    def evaluate(index: int):
        ev = evaluator(index)
        if not ev.cached and path is not None and ev.index not in known:
            scored.append((ev.index, ev.values, ev.seconds))
            if len(scored) % CHECKPOINT_EVERY == 0:
                search_store.write_checkpoint(path, cfg, str(dev), scored)
        return ev

    res = run_blackbox(cfg, evaluate, str(dev))
    # a resumed search replays its stored networks in no time: count their measured cost, so
    # that its seconds (and the random baseline's equal time) are those of the whole search
    res.seconds += sum(secs for _, secs in known.values())
    if path is not None:
        search_store.write_checkpoint(path, cfg, str(dev), scored)
    rb = None
    if job.random_baseline:
        rcfg = cfg.replace(method="random", evals=NUM_ARCHS, seconds=max(res.seconds, 1e-3))
        r = run_blackbox(rcfg, NetworkEvaluator(objective, cfg.score_config(), dev), str(dev))
        rb = {"index": r.index, "arch": r.arch.string, "n_archs": r.evaluations,
              "seconds": r.seconds}
    return res, rb


def run_jobs(jobs: Sequence[SearchJob], device: str, threads: int, workers: int = 1,
             executor: str = "local", address: str | None = None) -> Iterator[tuple]:
    """(job, SearchResult, random baseline or None) for every job, as they finish.
    (``harness.search`` checks the options before any work.)"""
    if not jobs:
        return
    if executor == "ray":
        yield from _run_ray(jobs, device, threads, address)
    elif workers == 1 or len(jobs) == 1:
        for job in jobs:
            yield run_job(job, device, threads)
    else:
        yield from _run_pool(jobs, device, threads, workers)


def _run_pool(jobs, device, threads, workers):
    from .local_pool import kill_pool, spawn_pool

    pool = spawn_pool(min(workers, len(jobs)), threads)
    pending = {pool.submit(run_job, job, device, threads) for job in jobs}
    try:
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                yield fut.result()
    except BaseException:
        kill_pool(pool)
        raise
    pool.shutdown(wait=True)


def _run_ray(jobs, device, threads, address):
    from .executors import import_ray, start_ray

    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        start_ray(ray, address)
    try:
        gpus = ray.cluster_resources().get("GPU", 0) if device != "cpu" else 0
        task = ray.remote(run_job).options(num_cpus=threads, num_gpus=0.25 if gpus else 0,
                                           max_retries=3, retry_exceptions=True,
                                           name="nasi-search")
        pending = [task.remote(job, device if gpus or device == "cpu" else "cpu", threads)
                   for job in jobs]
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                yield ray.get(ready[0])
        finally:
            for ref in pending:
                ray.cancel(ref)
    finally:
        if started:
            ray.shutdown()
