"""Provenance of every output: what it was computed with (versions, device, threads, git
commit) and how it is written (checked folders, atomic files)."""

from __future__ import annotations

import math
import os
import platform
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from harness.errors import UserError


def git_commit() -> str | None:
    """The project's git commit (with '-dirty' when the tree has changes), or None."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("-dirty" if dirty.strip() else "") if sha else None


def device_name(device: torch.device | str) -> str:
    dev = torch.device(device)
    if dev.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(dev)}"
    return f"cpu:{platform.processor() or platform.machine()}"


def environment(device: torch.device | str = "cpu") -> dict:
    import numpy
    import pandas

    dev = torch.device(device)
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda if dev.type == "cuda" else None,
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "device": str(dev),
        "device_name": device_name(dev),
        "torch_threads": torch.get_num_threads(),
        "git_commit": git_commit(),
    }


def prepare_out_dir(path: str | Path, what: str = "output folder") -> Path:
    """Create ``path`` and check it is writable, so a bad --out fails before any work."""
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"{what} {out} is not writable: {exc.strerror or exc}") from None
    return out


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write text or bytes via a temporary file and a rename: readers never see a
    half-written file."""
    tmp = path.with_name(path.name + ".tmp")
    if isinstance(data, bytes):
        tmp.write_bytes(data)
    else:
        tmp.write_text(data)
    os.replace(tmp, path)


def json_clean(value, significant: int | None = None):
    """A JSON-safe copy: NaN/inf -> None, numpy scalars -> Python, dict keys -> str, floats
    rounded to ``significant`` digits when given (reports: 6)."""
    if isinstance(value, dict):
        return {str(k): json_clean(v, significant) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_clean(v, significant) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if not math.isfinite(v):
            return None
        return float(f"{v:.{significant}g}") if significant else v
    if isinstance(value, np.generic):
        return value.item()
    return value


def software() -> dict:
    import matplotlib
    import scipy

    try:
        from importlib.metadata import version

        harness_version = version("nasi-harness")
    except Exception:  # noqa: BLE001
        harness_version = None
    return {"nasi_harness": harness_version, "git_commit": git_commit(),
            "python": platform.python_version(), "numpy": np.__version__,
            "pandas": pd.__version__, "scipy": scipy.__version__,
            "matplotlib": matplotlib.__version__,
            "platform": f"{platform.system()} {platform.machine()}"}
