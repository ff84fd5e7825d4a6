"""Which torch device a run uses: CUDA when available, else the CPU, or what the user names."""

from __future__ import annotations

import torch


class DeviceError(ValueError):
    """The requested device does not exist here (a user mistake, reported in one line)."""


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        raise DeviceError(f"unknown device {name!r}: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"device {name!r} requested but no CUDA device is available")
    return dev
