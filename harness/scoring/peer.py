"""Side by side with zero-cost-nas (SamsungLabs, the peer): its own NB201 model and gradient-norm
loop against our engine, same architectures, batch and thread count, in one run (the library
of ``python -m harness.perf --peer PATH``).

The peer is imported at run time from the checkout the user names (nothing of it is in this
repository). Per architecture it does what its ``nasbench2_pred.py`` does: build
``foresight.models.nasbench2.get_model_from_arch_str(arch, 10)``, move it to the device and call
``foresight.pruners.predictive.find_measures(..., measure_names=["grad_norm"])`` on our batch
(its measure builds a copy of the network, forward, backward, per-layer gradient norms). It
runs in this process with torch's intra-op threads set to ``threads``; ours runs as
``harness.rank`` does, ``threads`` worker processes of one thread each, one network per
isomorphism class and none for disconnected cells (see harness.scoring.perf). The peer's
score (sum of per-layer gradient norms) and ours (NASI, the squared global gradient norm)
differ; the work per network (one forward, one backward) is the same.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

import torch

from harness.errors import UserError
from harness.provenance import device_name
from harness.scoring.executors import LocalExecutor
from harness.scoring.local_pool import cpu_threads, usable_cores
from harness.scoring.perf import engine_timed, perf_batch
from nasi.scoring import ScoreConfig
from nasi.space import SAMPLE_METHOD, all_archs, sample_indices

PEER_MODEL = "foresight/models/nasbench2.py"
PEER_LOOP = "foresight/pruners/predictive.py"


def load_peer(path: str | Path):
    """(peer model module, peer predictive module) from a zero-cost-nas checkout; a UserError
    naming what is missing for anything else."""
    root = Path(path).expanduser().resolve()
    missing = [f for f in (PEER_MODEL, PEER_LOOP) if not (root / f).is_file()]
    if missing:
        raise UserError(f"--peer {path}: not a zero-cost-nas checkout (no {missing[0]})")
    stale = [m for m in sys.modules if m == "foresight" or m.startswith("foresight.")]
    for name in stale:  # an unrelated package of the same name must not answer
        del sys.modules[name]
    sys.path.insert(0, str(root))
    try:
        model = importlib.import_module("foresight.models.nasbench2")
        loop = importlib.import_module("foresight.pruners.predictive")
    except ImportError as exc:
        raise UserError(f"--peer {path}: cannot import the peer ({exc})") from None
    finally:
        sys.path.remove(str(root))
    return model, loop


def _peer_timed(model_mod, loop_mod, archs, x, y, device):
    """The peer's grad_norm of each architecture, its ms each and the wall time of the loop."""
    def one(arch) -> float:
        net = model_mod.get_model_from_arch_str(arch.string, 10)
        net.to(device)
        out = loop_mod.find_measures(net, [(x, y)], ("random", 1, 10), device,
                                     measure_names=["grad_norm"])
        if device.type == "cuda":
            torch.cuda.synchronize()
        return float(out["grad_norm"])

    torch.manual_seed(42)  # the peer's protocol: one global seed per run
    one(archs[0])  # warm-up (oneDNN primitive caches), as for ours
    values, ms = [], []
    t = time.perf_counter()
    for a in archs:
        t_arch = time.perf_counter()
        values.append(one(a))
        ms.append(round(1e3 * (time.perf_counter() - t_arch), 2))
    return values, ms, time.perf_counter() - t


def measure_peer(peer_path: str | Path, n: int = 100, batch_size: int = 64, seed: int = 2022,
                 device: torch.device | None = None, threads: int | None = None) -> dict:
    """Time the peer and ours on ``sample_indices(n, seed)`` with one batch; JSON-ready."""
    device = device or torch.device("cpu")
    model_mod, loop_mod = load_peer(peer_path)
    threads = threads or usable_cores()
    if threads < 1:
        raise UserError(f"--threads must be >= 1, got {threads}")
    archs = [all_archs()[i] for i in sample_indices(n, seed)]
    x, y = perf_batch(batch_size, device)
    with cpu_threads(threads if device.type == "cpu" else None):
        peer_threads = torch.get_num_threads()
        peer_vals, peer_ms, peer_s = _peer_timed(model_mod, loop_mod, archs, x, y, device)
    cfg = ScoreConfig(batch_size=batch_size, data="gaussian")
    workers = threads if device.type == "cpu" else 1
    with LocalExecutor(device=device, workers=workers, min_pool_jobs=0) as executor:
        our_vals, our_s = engine_timed(executor, archs, cfg, x, y, device)
    ms_peer, ms_ours = 1e3 * peer_s / len(archs), 1e3 * our_s / len(archs)
    return {
        "what": "zero-cost-nas NB201 model + find_measures(grad_norm) vs our engine (nasi)",
        "peer_path": str(Path(peer_path).expanduser().resolve()),
        "sample": {"n": len(archs), "seed": seed, "method": SAMPLE_METHOD,
                   "n_disconnected": sum(not a.is_connected for a in archs),
                   "n_classes": len({a.iso_key for a in archs if a.is_connected})},
        "batch_size": batch_size, "device": str(device), "device_name": device_name(device),
        "torch": torch.__version__, "threads": threads, "peer_torch_threads": peer_threads,
        "ours_executor": executor.describe(),
        "per_arch": [{"index": a.index, "arch": a.string, "peer_ms": ms, "peer_grad_norm": pv,
                      "ours_nasi": ov}
                     for a, ms, pv, ov in zip(archs, peer_ms, peer_vals, our_vals, strict=True)],
        "peer": {"ms_per_arch": round(ms_peer, 2), "seconds": round(peer_s, 3)},
        "ours": {"ms_per_arch": round(ms_ours, 2), "seconds": round(our_s, 3)},
        "ratio_peer_over_ours": round(peer_s / our_s, 3),
        "note": "ms_per_arch: wall time of the sample / n. Ours runs one network per "
                "isomorphism class of the sample and none for disconnected cells, on "
                "`threads` one-thread workers, so it has no time per architecture; the peer "
                "runs one network per architecture (its protocol) in this process with "
                "`peer_torch_threads` threads (per_arch.peer_ms)",
    }
