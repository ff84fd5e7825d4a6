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

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from harness.provenance import json_clean, write_atomic

TRACE_KEYS = ("gumbel", "ds_dh", "score", "connected", "index", "loss", "step_seconds")


def same_search(stored: dict, cfg, device: str) -> bool:
    """A stored config (as JSON read it back) and device equal this job's."""
    return stored["config"] == json.loads(json.dumps(cfg.as_dict())) and \
        stored["device"] == device


def paths(runs_dir: Path, group: str, seed: int) -> tuple[Path, Path]:
    stem = f"{group}-seed{seed}"
    return runs_dir / f"{stem}.json", runs_dir / f"{stem}.trace.npz"


def save(runs_dir: Path, group: str, record: dict, result) -> None:
    """Write one finished search: trace first, then the JSON (the completion marker)."""
    json_path, trace_path = paths(runs_dir, group, result.config.seed)
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(result.trace[k]) for k in TRACE_KEYS})
    write_atomic(trace_path, buf.getvalue())
    body = {**record, **result.summary(), "steps": result.steps}
    write_atomic(json_path, json.dumps(json_clean(body), indent=1) + "\n")


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
        if not same_search(stored, cfg, device) or (need_baseline
                                                    and "random_baseline" not in stored):
            return None
        arch = Arch.parse(stored["arch"])
        res = SearchResult(SearchConfig(**stored["config"]), stored["alpha"], stored["delta"],
                           arch, arch.index, float(stored["seconds"]), stored["steps"], trace,
                           stored["device"])
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
        return None  # missing, partial or from another version: search again
    return res, stored.get("random_baseline") if need_baseline else None


# --------------------------------------------------------------------- black-box searches
# RUNS/<method>-<config hash>-seed<k>.json: the record, the result summary and the proposal
# history; RUNS/<method>-<config hash>-seed<k>.evals.json: the checkpoint of a search under
# way, every network it scored ({"config", "device", "evals": [[index, [values], seconds],
# ...]}), rewritten as it goes; a rerun hands these to the evaluator, which returns them
# instead of scoring again.
def blackbox_stem(cfg) -> str:
    """File stem of a black-box search: a hash of its config (seed excluded) and the seed, so
    that equal searches of different commands (e.g. the default search and the transfer
    run's CIFAR-10 group) share their files in one runs folder."""
    body = json.dumps({**cfg.as_dict(), "seed": None}, sort_keys=True)
    return f"{cfg.method}-{hashlib.sha256(body.encode()).hexdigest()[:10]}-seed{cfg.seed}"


def checkpoint_path(runs_dir: Path, cfg) -> Path:
    return runs_dir / f"{blackbox_stem(cfg)}.evals.json"


def read_checkpoint(path: Path, cfg, device: str) -> dict[int, tuple[list, float]]:
    """{index: (values, seconds)} of a checkpoint of an equal search, else {}."""
    try:
        return parse_checkpoint(path.read_text(), cfg, device)
    except OSError:
        return {}


def parse_checkpoint(text: str, cfg, device: str) -> dict[int, tuple[list, float]]:
    """:func:`read_checkpoint` of a checkpoint's text (read by the driver for a Ray task)."""
    try:
        body = json.loads(text)
        if not same_search(body, cfg, device):
            return {}
        return {int(i): ([float("nan") if v is None else float(v) for v in vals], float(s))
                for i, vals, s in body["evals"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def write_checkpoint(path: Path, cfg, device: str, evals: list) -> None:
    rows = [[int(i), [None if v != v else float(v) for v in vals], round(float(s), 6)]
            for i, vals, s in evals]
    write_atomic(path, json.dumps({"config": cfg.as_dict(), "device": device,
                                   "evals": rows}) + "\n")


def save_blackbox(runs_dir: Path, record: dict, result) -> None:
    json_path = runs_dir / f"{blackbox_stem(result.config)}.json"
    body = {**record, **result.summary(), "history": result.history}
    write_atomic(json_path, json.dumps(json_clean(body), indent=1) + "\n")


def load_blackbox(runs_dir: Path, cfg, device: str, need_baseline: bool):
    """(BlackBoxResult, random baseline or None) of a stored equal search, or None."""
    from nasi.blackbox import BlackBoxConfig, BlackBoxResult

    json_path = runs_dir / f"{blackbox_stem(cfg)}.json"
    try:
        stored = json.loads(json_path.read_text())
        if not same_search(stored, cfg, device) or (need_baseline
                                                    and "random_baseline" not in stored):
            return None
        res = BlackBoxResult(BlackBoxConfig(**stored["config"]), int(stored["index"]),
                             float(stored["fitness"] if stored["fitness"] is not None
                                   else "nan"),
                             int(stored["evaluations"]), int(stored["proposals"]),
                             float(stored["seconds"]), float(stored["charged_seconds"]),
                             stored["history"], stored["device"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return res, stored.get("random_baseline") if need_baseline else None
