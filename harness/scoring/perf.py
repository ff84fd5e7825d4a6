"""Throughput of the `nasi` score: our engine path vs the straightforward loop, same run
(the library of ``python -m harness.perf``).

The straightforward loop is what zero-cost-proxy code does: build the full NB201 module as the
benchmark defines it (every edge and 'none' op evaluated), forward, ``loss.backward()``, sum of
squared ``.grad``, in this process with torch's default threads. Ours is the engine as
``harness.rank`` runs it: the local executor (worker processes, one thread each on the CPU;
started and warmed up before the clock starts), one network per isomorphism class with the
exact pruned cell plan and channels_last (see nasi.network), none for disconnected cells. The
networks have the same weights (same seed), so the scores agree up to float32 summation order
(the float64 equality is a unit test). Both run on the same fixed random architecture sample
and the same batch. GFLOP/s use the benchmark's FLOP formula: 2 x MACs per image x batch x 3
(forward + backward).

``precision`` (nasi.precision) applies to ours only: the straightforward loop stays float32,
the reference, so ``scores_agree`` then measures bf16 against float32 as well.
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats

from harness.provenance import device_name
from harness.scoring.engine import class_representatives, compute_classes
from harness.scoring.executors import LocalExecutor
from nasi.cost import closed_form
from nasi.network import NB201Network
from nasi.scoring import ScoreConfig
from nasi.seeding import arch_seed
from nasi.space import NUM_ARCHS, SAMPLE_METHOD, all_archs, sample_indices


def straightforward_nasi(arch, cfg: ScoreConfig, x, y, device) -> float:
    torch.manual_seed(arch_seed(cfg.seed, arch))
    model = NB201Network(arch, num_classes=10).to(device).train()
    loss = F.cross_entropy(model(x), y)
    model.zero_grad()
    loss.backward()
    return float(sum(p.grad.double().pow(2).sum() for p in model.parameters()
                     if p.grad is not None))


def conv_peak_gflops(device, seconds: float = 2.0) -> float:
    """Best fp32 throughput of a large 3x3 convolution forward on this device (a ceiling)."""
    conv = torch.nn.Conv2d(128, 128, 3, padding=1, bias=False).to(device)
    x = torch.randn(64, 128, 16, 16, device=device)
    if device.type == "cpu":
        conv, x = conv.to(memory_format=torch.channels_last), x.contiguous(
            memory_format=torch.channels_last)
    flops = 2 * 64 * 128 * 128 * 9 * 16 * 16
    best = 0.0
    with torch.no_grad():
        conv(x)
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            t = time.perf_counter()
            conv(x)
            if device.type == "cuda":
                torch.cuda.synchronize()
            best = max(best, flops / (time.perf_counter() - t) / 1e9)
    return best


def perf_batch(batch_size: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed benchmark batch: N(0, 1) CIFAR-shaped images and random labels (seed 0)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch_size, 3, 32, 32, generator=gen).to(device)
    y = torch.randint(0, 10, (batch_size,), generator=gen).to(device)
    return x, y


def _timed(fn, archs, device):
    values, t = [], time.perf_counter()
    for a in archs:
        values.append(fn(a))
    if device.type == "cuda":
        torch.cuda.synchronize()
    return values, time.perf_counter() - t


def engine_timed(executor: LocalExecutor, archs, cfg, x, y, device):
    """Scores of ``archs`` by the engine and its executor (one network per class,
    disconnected: 0) and the wall time, the workers started and warmed up (two classes)
    beforehand."""
    keys = list(dict.fromkeys(a.iso_key for a in archs if a.is_connected))
    compute_classes(keys[:2], ["nasi"], cfg, x, y, "perf", None, device, executor)
    t = time.perf_counter()
    out = compute_classes(keys, ["nasi"], cfg, x, y, "perf", None, device, executor)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t
    return [out[a.iso_key]["nasi"] if a.is_connected else 0.0 for a in archs], seconds


def measure(n: int = 100, batch_size: int = 64, seed: int = 2022,
            device: torch.device | None = None, workers: int | None = None,
            precision: str = "fp32", tf32: bool = False) -> dict:
    """Time both paths on ``n`` architectures (``sample_indices(n, seed)``) and on ``n``
    class representatives; the JSON-ready result (see the module docstring)."""
    device = device or torch.device("cpu")
    cfg = ScoreConfig(batch_size=batch_size, data="gaussian")
    ours_cfg = ScoreConfig(batch_size=batch_size, data="gaussian", precision=precision,
                           tf32=tf32)
    x, y = perf_batch(batch_size, device)
    archs = [all_archs()[i] for i in sample_indices(n, seed)]
    reps = class_representatives()

    def reference(a):  # the network the engine scores for a's class: its representative's
        return straightforward_nasi(reps[a.iso_key] if a.is_connected else a, cfg, x, y, device)

    reference(archs[0])  # warm-up (oneDNN primitive caches)
    ref_vals, ref_s = _timed(reference, archs, device)
    # whole space: the engine runs one network per class, and class representatives are
    # not random architectures (the big classes are cheap cells), so time a class sample too
    conn_reps = sorted((a for a in reps.values() if a.is_connected), key=lambda a: a.index)
    pick = np.random.default_rng(seed + 1).choice(len(conn_reps), size=min(
        n, len(conn_reps)), replace=False)
    class_sample = [conn_reps[int(i)] for i in sorted(pick)]
    with LocalExecutor(device=device, workers=workers, min_pool_jobs=0) as executor:
        our_vals, our_s = engine_timed(executor, archs, ours_cfg, x, y, device)
        _, class_s = engine_timed(executor, class_sample, ours_cfg, x, y, device)
    timing = {"ref": (ref_vals, ref_s), "ours": (our_vals, our_s),
              "classes": (len(class_sample), class_s)}
    result = _result(archs, timing, batch_size, seed, device, executor.describe())
    result["precision"] = {"ours": precision, "straightforward": "fp32", "tf32": tf32}
    return result


def _result(archs, timing, batch_size, seed, device, executor_info) -> dict:
    (ref_vals, ref_s), (our_vals, our_s) = timing["ref"], timing["ours"]
    n_sample, class_s = timing["classes"]
    connected = [i for i, a in enumerate(archs) if a.is_connected]
    rel = [abs(our_vals[i] - ref_vals[i]) / abs(ref_vals[i]) for i in connected]
    flops = sum(2 * closed_form(a, "cifar10")[1] * batch_size * 3 for a in archs)
    peak = conv_peak_gflops(device)
    n_classes_run = sum(1 for a in class_representatives().values() if a.is_connected)
    ms_ref, ms_ours = 1e3 * ref_s / len(archs), 1e3 * our_s / len(archs)
    ours_whole_s = n_classes_run * class_s / n_sample
    return {
        "score": "nasi", "batch_size": batch_size, "sample": {
            "n": len(archs), "seed": seed, "n_disconnected": len(archs) - len(connected),
            "method": SAMPLE_METHOD},
        "device": str(device), "device_name": device_name(device),
        "torch": torch.__version__, "straightforward_torch_threads": torch.get_num_threads(),
        "ours_executor": executor_info,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "cpu_count": os.cpu_count(),
        "straightforward": {"ms_per_arch": round(ms_ref, 2),
                            "archs_per_s": round(len(archs) / ref_s, 3),
                            "gflops_per_s": round(flops / ref_s / 1e9, 1)},
        "ours": {"ms_per_arch": round(ms_ours, 2), "archs_per_s": round(len(archs) / our_s, 3),
                 "gflops_per_s": round(flops / our_s / 1e9, 1)},
        "speedup": round(ref_s / our_s, 3),
        "conv_peak_gflops_measured": round(peak, 1),
        "ours_fraction_of_conv_peak": round(flops / our_s / 1e9 / peak, 3),
        "scores_agree": {"max_rel_diff": float(max(rel)), "spearman": float(
            stats.spearmanr([our_vals[i] for i in connected],
                            [ref_vals[i] for i in connected]).statistic)},
        "whole_space_estimate": {
            "straightforward_s": round(NUM_ARCHS * ms_ref / 1e3, 1),
            "ours_networks_run": n_classes_run,
            "ours_ms_per_network": round(1e3 * class_s / n_sample, 2),
            "ours_s": round(ours_whole_s, 1),
            "speedup": round(NUM_ARCHS * ms_ref / 1e3 / ours_whole_s, 2),
            "note": "straightforward: ms per architecture of the random sample x 15,625; ours: "
                    "one network per connected isomorphism class, none for the 341 "
                    "disconnected, ms per network timed on a random sample of class "
                    "representatives (numpy default_rng(seed + 1), same size)",
        },
    }
