"""Per-search result files of ``python -m harness.search``: written as each search finishes,
read back when the same command runs again, so an interrupted run loses no finished search.

OUT/runs/<group>-seed<k>.json holds the record (architecture, accuracies, seconds, random
baseline), alpha*, Delta, the config, the device and the per-step log; beside it
<group>-seed<k>.trace.npz holds the raw per-step arrays (Gumbel noise, ds/dh, scores, ...)
that the exact check re-aggregates. The trace is written first and the JSON last, so a JSON
file means a complete pair.

A stored search is reused only if its config (every field of ``SearchConfig``, seed
included) and device equal the job's, and it has a random baseline when one is asked for;
anything else (another T, another device, a damaged file) is searched again and overwritten.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from .outputs import write_atomic

TRACE_KEYS = ("gumbel", "ds_dh", "score", "connected", "index", "loss", "step_seconds")


def paths(runs_dir: Path, group: str, seed: int) -> tuple[Path, Path]:
    stem = f"{group}-seed{seed}"
    return runs_dir / f"{stem}.json", runs_dir / f"{stem}.trace.npz"


def save(runs_dir: Path, group: str, record: dict, result, jsonable) -> None:
    """Write one finished search: trace first, then the JSON (the completion marker)."""
    json_path, trace_path = paths(runs_dir, group, result.config.seed)
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(result.trace[k]) for k in TRACE_KEYS})
    write_atomic(trace_path, buf.getvalue())
    body = {**record, **result.summary(), "steps": result.steps}
    write_atomic(json_path, json.dumps(jsonable(body), indent=1) + "\n")


def load(runs_dir: Path, group: str, cfg, device: str, need_baseline: bool):
    """(SearchResult, random baseline dict or None) of a stored search equal to this job, or
    None when there is none to reuse."""
    from nasi.search import SearchConfig, SearchResult
    from nasi.space import Arch

    json_path, trace_path = paths(runs_dir, group, cfg.seed)
    try:
        stored = json.loads(json_path.read_text())
        with np.load(trace_path, allow_pickle=False) as npz:
            trace = {k: npz[k] for k in TRACE_KEYS}
        same = (stored["config"] == json.loads(json.dumps(cfg.as_dict()))
                and stored["device"] == device)
        if not same or (need_baseline and "random_baseline" not in stored):
            return None
        arch = Arch.parse(stored["arch"])
        res = SearchResult(SearchConfig(**stored["config"]), stored["alpha"], stored["delta"],
                           arch, arch.index, float(stored["seconds"]), stored["steps"], trace,
                           stored["device"])
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
        return None  # missing, partial or from another version: search again
    return res, stored.get("random_baseline") if need_baseline else None
