"""Score many architectures under one score configuration.

- One network per isomorphism class (6,466 for the whole space), built from the class's
  lowest benchmark index and seeded from the class key, so every member gets the same score
  whatever subset, order or shard it was requested in.
- The 341 disconnected architectures get each score's documented ``disconnected_value``
  without running a network; closed-form scores (params, flops) are computed per architecture.
- Results go to the SQLite cache as each class finishes: reruns and interrupted runs resume.
- CUDA when available, else CPU with channels_last and all cores as intra-op threads.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import torch

from nasi.scores import get_score
from nasi.scoring import ScoreConfig, score_architecture
from nasi.space import Arch, all_archs

from .cache import ScoreCache
from .progress import Progress


def resolve_device(name: str | None = "auto") -> torch.device:
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        from .cli import UserError

        raise UserError(f"unknown device {name!r}: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        from .cli import UserError

        raise UserError("--device cuda requested but no CUDA device is available")
    return dev


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
                stats: EngineStats | None = None, wait_for_others_s: float = 3600.0
                ) -> pd.DataFrame:
    """Scores of ``archs`` (one row each, in the given order) for every name in ``names``."""
    t0 = time.monotonic()
    stats = stats if stats is not None else EngineStats()
    scores = [get_score(n) for n in names]
    net_names = [s.name for s in scores if s.needs_network]
    key = cfg.key(batch_fingerprint)
    channels_last = device.type == "cpu"
    x = x.to(device)
    y = y.to(device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)

    reps = class_representatives()
    wanted = sorted({a.iso_key for a in archs if a.is_connected},
                    key=lambda k: reps[k].index)
    results: dict[str, dict[str, float]] = {k: {} for k in wanted}
    if cache is not None:
        cache.register_config(key, {**cfg.as_dict(), "batch": batch_fingerprint})
        for n in net_names:
            done = cache.lookup(key, n)
            for k in wanted:
                if k in done:
                    results[k][n] = done[k]
    todo = [k for k in wanted if any(n not in results[k] for n in net_names)]
    stats.classes_total = len(wanted)
    stats.classes_cached = len(wanted) - len(todo)

    bar = Progress(len(todo), f"scoring {cfg.dataset} ({','.join(net_names)})", progress)

    def run(k: str) -> None:
        _compute(k, reps[k], net_names, cfg, x, y, device, channels_last, results, cache, key,
                 stats)

    deferred: list[str] = []
    try:
        for k in todo:
            status = "mine" if cache is None else cache.claim(key, k, net_names)
            if status == "mine":
                run(k)
            elif status == "done":  # another process stored it since we looked
                results[k].update(cache.get(key, k))
            else:
                deferred.append(k)  # another process is computing it
                continue
            bar.update()
        # classes another process holds: wait for its results; take a class over when the
        # claim expires or its process is gone
        deadline = time.monotonic() + wait_for_others_s
        while deferred:
            still = []
            for k in deferred:
                status = cache.claim(key, k, net_names)
                if status == "done":
                    results[k].update(cache.get(key, k))
                elif status == "mine" or time.monotonic() > deadline:
                    run(k)
                else:
                    still.append(k)
                    continue
                bar.update()
            deferred = still
            if deferred:
                time.sleep(0.2)
    finally:
        bar.close()
        if cache is not None:
            cache.release_claims()

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


def _compute(iso_key, rep, names, cfg, x, y, device, channels_last, results, cache, key, stats):
    t = time.perf_counter()
    values = score_architecture(rep, list(names), cfg, x, y, device=device, prune=True,
                                channels_last=channels_last)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    dt = time.perf_counter() - t
    stats.classes_computed += 1
    stats.compute_seconds += dt
    results[iso_key].update(values)
    if cache is not None:
        cache.store(key, iso_key, values, dt, str(device))
