"""Random search at equal wall time, the baseline every NASI search is compared with."""

from __future__ import annotations

import math
import time

import numpy as np

from .. import seeding
from ..data import load_batch
from ..device import resolve_device
from ..scoring import ScoreConfig, score_architecture
from ..space import NUM_ARCHS, all_archs
from .config import SearchConfig
from .update import reward


def random_search_baseline(cfg: SearchConfig, seconds: float, device="cpu",
                           max_archs: int | None = None) -> dict:
    """Random search at equal wall time: uniform architectures (seeded by the run seed), each
    scored with :func:`nasi.scoring.score_architecture` (``nasi``, the standalone network at
    the search's width C and cells N) on one fixed batch of the same data, dataset, labels and
    batch size; stops when ``seconds`` have elapsed (after at least one architecture). Picks
    the architecture with the highest penalised reward R under the same mu and nu rule (fix:
    nu; ada: the nu_quantile of the scores it has seen), and reports the plain-score argmax
    as well."""
    dev = resolve_device(device)
    t0 = time.perf_counter()
    scfg = ScoreConfig(dataset=cfg.dataset, batch_size=cfg.batch_size, labels=cfg.labels,
                       data=cfg.data, seed=cfg.seed, C=cfg.C, N=cfg.N,
                       bn="train")
    x, y = load_batch(cfg.dataset, cfg.data, cfg.batch_size, seed=cfg.seed, labels=cfg.labels,
                      device=dev)
    rng = np.random.default_rng(seeding.derive_seed(seeding.SEARCH, cfg.seed,
                                                    "random-baseline"))
    archs = all_archs()
    seen: list[tuple[int, float]] = []
    while True:
        i = int(rng.integers(NUM_ARCHS))
        s = score_architecture(archs[i], ["nasi"], scfg, x, y, device=dev)["nasi"]
        seen.append((i, float(s)))
        if time.perf_counter() - t0 >= seconds or (max_archs and len(seen) >= max_archs):
            break
    idx = np.array([i for i, _ in seen])
    s = np.array([v for _, v in seen])
    conn = np.array([archs[i].is_connected for i in idx])
    nu = math.inf if cfg.nu is None else float(cfg.nu)
    if cfg.nu_mode == "ada" and conn.any():
        nu = float(np.quantile(s[conn], cfg.nu_quantile))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(conn & (s > 0), reward(s, cfg.mu, nu, cfg.scale), -np.inf)
    best_r, best_s = int(idx[int(np.argmax(r))]), int(idx[int(np.argmax(s))])
    return {"index": best_r, "arch": archs[best_r].string, "index_max_score": best_s,
            "arch_max_score": archs[best_s].string, "n_archs": len(seen), "nu": nu,
            "seconds": time.perf_counter() - t0}
