"""Where the searches of ``python -m harness.search`` run, one job per (group, seed).

- in this process, one after another (``--workers 1``, the default);
- ``--workers W``: W local worker processes, each with ``--threads`` torch threads: on a 2-core
  CPU two single-thread searches run side by side;
- ``--executor ray [--address ADDR]``: one Ray task per job, ``--threads`` CPUs each, a
  quarter GPU when the cluster has GPUs and the device is not the CPU; failed tasks (also on a
  lost worker or node) are retried. A Ray task opens no file: the driver hands it the
  black-box checkpoint's text and writes the checkpoint from what the task returns, so the
  nodes share no filesystem (an interrupted Ray search restarts from the checkpoint the
  driver last wrote, i.e. from its start or from where an earlier local run stopped).
Both are :mod:`harness.scoring.executors`, the executors ``harness.rank`` uses.

A search is seeded and runs with a fixed thread count, so every executor gives the same
architectures and traces (tested). Jobs are yielded as they finish; the driver writes each
seed's files at once (:mod:`harness.searching.store`), so an interrupted run keeps the
seeds it finished and the same command run again searches only the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from harness.scoring.executors import Executor, LocalExecutor, RayExecutor


@dataclass(frozen=True)
class SearchJob:
    group: str
    cfg: object  # nasi.search.SearchConfig or nasi.blackbox.BlackBoxConfig
    random_baseline: bool
    checkpoint: str | None = None  # black-box: the evaluations file of this search
    # set by the driver for a remote task: the checkpoint's text (the task writes no file)
    checkpoint_text: str | None = None


# Called after every NASI step / network scored by a search running in this process (one
# worker): the driver's progress line moves within a search. Worker processes and Ray tasks
# do not share it; their searches count when they finish.
_step_hook: Callable[[], None] | None = None


@contextmanager
def steps_reported_to(hook: Callable[[], None]):
    global _step_hook
    previous, _step_hook = _step_hook, hook
    try:
        yield
    finally:
        _step_hook = previous


def job_size(job: SearchJob) -> tuple[int, str]:
    """(units of work, unit name): NASI steps or networks to score (the black-box budget)."""
    steps = getattr(job.cfg, "steps", None)
    return (int(steps), "steps") if steps is not None else (int(job.cfg.evals), "nets")


def _step(*_) -> None:
    if _step_hook is not None:
        _step_hook()


def run_job(job: SearchJob, threads: int, device: str) -> tuple:
    """One search (and its random baseline at equal wall time): (job, result, rb,
    evaluations for the driver to checkpoint or None, device)."""
    import torch

    from nasi.blackbox import BlackBoxConfig
    from nasi.device import resolve_device
    from nasi.search import random_search_baseline, run_search

    dev = resolve_device(device)
    if dev.type == "cpu":
        torch.set_num_threads(threads)
    if isinstance(job.cfg, BlackBoxConfig):
        res, rb, scored = run_blackbox_job(job, dev)
        return job, res, rb, scored if job.checkpoint_text is not None else None, str(dev)
    res = run_search(job.cfg, dev, progress=_step)
    rb = random_search_baseline(job.cfg, res.seconds, dev) if job.random_baseline else None
    return job, res, rb, None, str(dev)


CHECKPOINT_EVERY = 10  # networks scored between two checkpoint writes


def run_blackbox_job(job: SearchJob, dev) -> tuple[object, dict | None, list]:
    """A black-box search resumed from (and checkpointed to) ``job.checkpoint``, then, if
    asked, random search with the same objective for the same wall time (fresh cache);
    (result, random baseline, evaluations). With ``job.checkpoint_text`` (a remote task)
    the search resumes from that text and writes nothing."""
    from harness.searching import store as search_store
    from nasi.blackbox import run_blackbox
    from nasi.objective import NetworkEvaluator, Objective
    from nasi.space import NUM_ARCHS

    cfg, path = job.cfg, Path(job.checkpoint) if job.checkpoint else None
    objective = Objective.parse(cfg.objective)
    if job.checkpoint_text is not None:
        known = search_store.parse_checkpoint(job.checkpoint_text, cfg, str(dev))
        path = None
    else:
        known = search_store.read_checkpoint(path, cfg, str(dev)) if path else {}
    recording = path is not None or job.checkpoint_text is not None
    evaluator = NetworkEvaluator(objective, cfg.score_config(), dev, known)
    scored: list = [(i, v, s) for i, (v, s) in known.items()]

    def evaluate(index: int):
        ev = evaluator(index)
        if not ev.cached:
            _step()
        if not ev.cached and recording and ev.index not in known:
            scored.append((ev.index, ev.values, ev.seconds))
            if path is not None and len(scored) % CHECKPOINT_EVERY == 0:
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
    return res, rb, scored


def search_executor(opts, device) -> Executor:
    """The executor of ``opts`` (a SearchOptions): local processes or one Ray task per job."""
    if opts.executor == "ray":
        return RayExecutor(address=opts.address, cpus_per_task=opts.threads,
                           device="cpu" if device.type == "cpu" else "auto")
    return LocalExecutor(device=device, workers=opts.workers, threads=opts.threads,
                         min_pool_jobs=2)


def run_jobs(jobs: Sequence[SearchJob], executor: Executor, threads: int) -> Iterator[tuple]:
    """(job, result, random baseline or None) for every job, as they finish; a remote task's
    checkpoint is read and written here, in the driver."""
    if not jobs:
        return
    if executor.name == "ray":
        jobs = [_with_checkpoint_text(job) for job in jobs]
    for job, res, rb, evals, device in executor.map_unordered(run_job, jobs, threads):
        if evals is not None and job.checkpoint:
            from harness.searching import store as search_store

            search_store.write_checkpoint(Path(job.checkpoint), job.cfg, device, evals)
        yield job, res, rb


def _with_checkpoint_text(job: SearchJob) -> SearchJob:
    if not job.checkpoint:
        return job
    try:
        text = Path(job.checkpoint).read_text()
    except OSError:  # none yet (or unreadable: the search starts afresh, as locally)
        text = ""
    return replace(job, checkpoint_text=text)
