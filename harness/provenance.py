"""Provenance of every output: what it was computed with (versions, device, threads, git
commit) and how it is written (checked folders, atomic files)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import os
import platform
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from harness.errors import UserError
from nasi.precision import cpu_bf16_flags

TEMP_SUFFIX = ".tmp"
# .<name>.<pid>@<host>.<random>.tmp, as _write_temp names them
_TEMP_RE = re.compile(r"^\..+\.(\d+@[A-Za-z0-9-]*)\.[A-Za-z0-9_]+\.tmp$")


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
    """What ran the numbers: the GPU's name, or the CPU's model, architecture and bfloat16
    instructions (speeds differ between machines of one name; these decide bf16 runs)."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(dev)}"
    bf16 = "+".join(cpu_bf16_flags()) or "no bf16 instructions"
    return f"cpu:{cpu_model()} ({platform.machine()}, {bf16})"


@functools.cache
def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what the platform says."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    return platform.processor() or platform.machine() or "unknown"


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
    """Create ``path`` and check it is writable, so a bad --out fails before any work.

    The probe is a fresh file (O_CREAT | O_EXCL under a random name): a link planted in the
    folder is never followed. Temporary files left by a killed writer are removed."""
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test.", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UserError(f"{what} {out} is not writable: {exc.strerror or exc}") from None
    remove_stale_temps(out)
    return out


def check_writable(path: str | Path, what: str) -> Path:
    """UserError unless a file can be created beside ``path`` (tried, not asked: os.access
    says yes to root on a read-only file system), so a --refresh fails before the work."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"cannot write the {what} {path}: it is a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-test.", dir=path.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UserError(f"cannot write the {what} {path}: {exc.strerror or exc}") from None
    return path


def _temp_name(path: Path) -> str:
    return f".{path.name}.{writer_tag()}."


def _write_temp(path: Path, data: str | bytes) -> Path:
    """``data`` in a new file beside ``path`` (unique name, never through a link), fsynced."""
    fd, tmp = tempfile.mkstemp(prefix=_temp_name(path), suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would hide outputs from others
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return Path(tmp)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write text or bytes to a unique temporary file in the same folder, fsync it and rename
    it over ``path``: readers see the old file or the whole new one, a planted link is
    replaced, not followed, and nothing is left behind on failure (a full disk: UserError)."""
    write_set(Path(path).parent, {Path(path).name: data})


def write_set(folder: Path, files: dict[str, str | bytes]) -> None:
    """Publish several files as one output set: every file is first written to a temporary
    file (a full disk fails here, and nothing is published), then each is renamed into place
    in the given order. Put the file that fingerprints the others last (see docs/outputs.md)."""
    folder = Path(folder)
    temps: list[tuple[Path, Path]] = []
    current = folder
    try:
        for name, data in files.items():
            current = folder / name
            temps.append((_write_temp(current, data), current))
        for tmp, final in temps:
            current = final
            os.replace(tmp, final)
        fsync_dir(folder)
    except OSError as exc:
        raise UserError(f"cannot write {current}: {exc.strerror or exc}") from None
    finally:
        for tmp, _ in temps:
            if os.path.lexists(tmp):
                os.unlink(tmp)


def fingerprint(data: str | bytes) -> str:
    """sha256 of a file's bytes, as written."""
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def remove_stale_temps(folder: Path) -> None:
    """Remove the temporary files of writers that no longer run (killed mid-write)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        m = _TEMP_RE.match(entry.name)
        if m and entry.is_file(follow_symlinks=False) and writer_gone(m.group(1)):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def writer_tag() -> str:
    """<pid>@<host>: who owns a temporary file (folders may be shared between hosts)."""
    host = re.sub(r"[^A-Za-z0-9-]", "", platform.node().split(".")[0])[:40]
    return f"{os.getpid()}@{host}"


def writer_gone(tag: str) -> bool:
    """Whether the writer ``tag`` (see writer_tag) is a process of this host that has ended;
    another host's writer is never presumed gone."""
    pid, _, host = tag.partition("@")
    return host == writer_tag().partition("@")[2] and not pid_alive(int(pid))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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
