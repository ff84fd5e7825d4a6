"""Publishing a report as one output set (docs/outputs.md).

The whole set (tables, figures, report.md, summary.json) is first written into a private
staging folder inside the report folder (same file system, so renames are atomic); a full disk
or a crash there publishes nothing. Then every file is fsynced and renamed into place,
``summary.json`` last: it lists every file with its sha256, so a reader that checks it
(:func:`verify_manifest`) can tell a finished set from a mix of two generations. Nothing is
ever written or deleted through a symbolic link planted in the report folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from harness.errors import UserError
from harness.provenance import fsync_dir, writer_gone, writer_tag

MANIFEST = "summary.json"
_STAGING_RE = re.compile(r"^\.staging\.(\d+@[A-Za-z0-9-]*)\.")


def refuse_links(out: Path, subfolders: tuple[str, ...] = ("plots",)) -> None:
    """UserError when a subfolder we write into is a symbolic link (we would write or delete
    through it, outside the report folder)."""
    for name in subfolders:
        if (out / name).is_symlink():
            raise UserError(f"{out / name} is a symbolic link; refusing to write or delete "
                            "through it (remove the link)")


def new_staging(out: Path) -> Path:
    """A fresh private folder inside ``out``; staging folders of dead writers are removed."""
    with contextlib.suppress(OSError), os.scandir(out) as entries:
        for entry in entries:
            m = _STAGING_RE.match(entry.name)
            if m and entry.is_dir(follow_symlinks=False) and writer_gone(m.group(1)):
                shutil.rmtree(entry.path, ignore_errors=True)
    try:
        return Path(tempfile.mkdtemp(prefix=f".staging.{writer_tag()}.", dir=out))
    except OSError as exc:
        raise UserError(f"cannot write into {out}: {exc.strerror or exc}") from None


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def publish(stage: Path, out: Path, files: list[str], stale: list[str]) -> None:
    """Move the staged ``files`` (relative paths) into ``out``, the manifest last, then
    remove the ``stale`` files of the previous set that this one does not rewrite."""
    refuse_links(out)
    ordered = [f for f in files if f != MANIFEST] + [MANIFEST]
    try:
        for rel in ordered:
            _fsync_file(stage / rel)
        for rel in ordered:
            target = out / rel
            target.parent.mkdir(exist_ok=True)
            os.replace(stage / rel, target)  # replaces a planted link, never follows it
        fsync_dir(out)
    except OSError as exc:
        raise UserError(f"cannot publish the report in {out}: {exc.strerror or exc}") from None
    for rel in sorted(set(stale) - set(ordered)):
        target = out / rel
        if _inside(out, rel) and not target.parent.is_symlink():
            with contextlib.suppress(OSError):
                os.unlink(target)  # unlink removes a link itself, never its target


def previous_files(out: Path) -> list[str]:
    """The files the report currently in ``out`` lists (none if it is not a report)."""
    try:
        prev = json.loads((out / MANIFEST).read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(prev, dict) or not isinstance(prev.get("files"), list):
        return []
    return [str(f) for f in prev["files"] if _inside(out, str(f))]


def verify_manifest(out: Path) -> list[str]:
    """Problems of the report in ``out``: files missing or not the ones its summary.json
    lists (empty list: one complete generation)."""
    try:
        manifest = json.loads((out / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        return [f"{MANIFEST}: {exc}"]
    hashes = manifest.get("sha256") if isinstance(manifest, dict) else None
    if not isinstance(hashes, dict):
        return [f"{MANIFEST} has no sha256 manifest"]
    problems = []
    for rel, expected in sorted(hashes.items()):
        try:
            if file_hash(out / rel) != expected:
                problems.append(f"{rel}: differs from the manifest")
        except OSError:
            problems.append(f"{rel}: missing")
    return problems


def _inside(out: Path, rel: str) -> bool:
    parts = Path(rel).parts
    return bool(parts) and not Path(rel).is_absolute() and ".." not in parts


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
