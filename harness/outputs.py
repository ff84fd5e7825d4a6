"""Output folders and files: checked before work starts, written atomically."""

from __future__ import annotations

import os
from pathlib import Path

from .cli import UserError


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
