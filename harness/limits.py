"""Bounds on what a command line may ask for, checked before any expensive work: sizes the
machine can hold, seeds numpy and torch accept, text inputs that are text."""

from __future__ import annotations

import os
from pathlib import Path

from harness.errors import UserError

SEED_LIMIT = 2**63  # numpy / torch generators take seeds in [0, 2**63)
MAX_INPUT_FILE_BYTES = 16 * 2**20  # an --indices file: 15,625 arch strings are ~1.5 MB
MAX_PATH_CHARS = 4096  # longer is no file name any OS accepts (Linux PATH_MAX)
# Peak memory of scoring one 32x32 image, C=16, N=5 (measured: docs/notes/batch-memory.md);
# activations grow with C x N x pixels, and SAFETY covers the other scores.
BYTES_PER_IMAGE = 8 * 2**20
SAFETY = 2.0
# Bootstrap: 24 bytes per resample held, ~2 ms per resample per correlation row at 15,625
# archs (docs/notes/bootstrap-speed.md): a million is already hours of CPU.
MAX_BOOTSTRAP = 1_000_000


def is_index_text(text: str) -> bool:
    """ASCII decimal digits only (str.isdigit also accepts '²' and other digit symbols)."""
    return bool(text) and text.isascii() and text.isdigit()


def check_seed(seed: int, option: str = "--seed") -> int:
    if not 0 <= seed < SEED_LIMIT:
        raise UserError(f"{option} must be in 0..2**63-1, got {seed}")
    return seed


def check_count(value: int, option: str, low: int, high: int) -> int:
    if not low <= value <= high:
        raise UserError(f"{option} must be in {low:,}..{high:,}, got {value:,}")
    return value


def read_text_input(spec: str, option: str) -> str | None:
    """The text of the file ``spec`` names, or None when it names no file. A file that is
    binary or too large to be a list gets a one-line UserError."""
    if len(spec) > MAX_PATH_CHARS or "\0" in spec:
        return None
    path = Path(spec)
    try:
        if not path.is_file():
            return None
        size = path.stat().st_size
        if size > MAX_INPUT_FILE_BYTES:
            raise UserError(f"{option} file {spec} is {size:,} bytes; a list of architectures "
                            f"is at most {MAX_INPUT_FILE_BYTES:,}")
        raw = path.read_bytes()
    except OSError as exc:
        if exc.errno == 36:  # ENAMETOOLONG: a long argument that is no file name
            return None
        raise UserError(f"cannot read {option} file {spec}: {exc.strerror or exc}") from None
    if b"\0" in raw:
        raise UserError(f"{option} file {spec} is binary; expected one index or arch string "
                        "per line")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{option} file {spec} is not UTF-8 text; expected one index or arch "
                        "string per line") from None


def available_memory(device=None) -> int | None:
    """Bytes this process could still allocate on ``device`` (None: cannot tell)."""
    if device is not None and getattr(device, "type", "cpu") == "cuda":
        import torch

        try:
            return int(torch.cuda.mem_get_info(device)[0])
        except Exception:  # noqa: BLE001 - no driver answer: do not guess
            return None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return None


def scoring_bytes(batch_size: int, image_size: int, width: int, cells: int) -> int:
    """Estimated peak bytes to score one network on a batch (see BYTES_PER_IMAGE)."""
    scale = (width / 16) * (cells / 5) * (image_size / 32) ** 2
    return int(batch_size * BYTES_PER_IMAGE * max(scale, 0.05) * SAFETY)


def check_batch_fits(cfg, device=None, workers: int | None = None) -> None:
    """UserError unless ``workers`` networks scoring ``cfg``'s batch at once fit in the
    memory available now (``device`` None: a remote executor, not checked here)."""
    if cfg.batch_size < 1:
        raise UserError(f"--batch-size must be >= 1, got {cfg.batch_size}")
    for option, value in (("--width", cfg.C), ("--cells", cfg.N)):
        if value < 1:
            raise UserError(f"{option} must be >= 1, got {value}")
    if device is None:
        return
    from nasi.datasets import get_dataset

    if device.type == "cuda":
        workers = 1
    elif workers is None:
        from harness.scoring.local_pool import usable_cores

        workers = usable_cores()
    need = scoring_bytes(cfg.batch_size, get_dataset(cfg.dataset).image_size, cfg.C, cfg.N)
    have = available_memory(device)
    if have is not None and need * max(workers, 1) > have:
        raise UserError(
            f"--batch-size {cfg.batch_size:,} needs about {need / 2**30:.1f} GiB per network "
            f"x {workers} worker(s), but {device.type} has {have / 2**30:.1f} GiB available; "
            "use a smaller --batch-size or fewer --workers")
