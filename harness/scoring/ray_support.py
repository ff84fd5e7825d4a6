"""Ray plumbing: import it with a one-line error when missing, start or join a cluster."""

from __future__ import annotations

import logging
import socket

from harness.errors import UserError
from harness.scoring.local_pool import usable_cores

RAY_MISSING = "--executor ray needs `pip install nasi-harness[ray]`"
RAY_DEVICES = ("auto", "cpu", "cuda")
MAX_AUTO_SHARD = 64


def import_ray():
    """The ray module, or a one-line UserError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UserError(RAY_MISSING) from None
    return ray


def start_ray(ray, address: str | None, num_cpus: int | None = None) -> None:
    """Connect to the cluster at ``address`` (a one-line UserError when it does not answer),
    or start a local one with ``num_cpus`` CPUs (default: the usable cores)."""
    common = {"include_dashboard": False, "logging_level": logging.WARNING}
    if not address:
        ray.init(num_cpus=num_cpus or usable_cores(), **common)
        return
    _probe(address)
    try:
        ray.init(address=address, **common)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        msg = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(f"cannot connect to the Ray cluster at {address}: {msg}") from None


def _probe(address: str, timeout_s: float = 10.0) -> None:
    """Fail fast on a HOST:PORT nobody answers on (ray.init would retry for minutes)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return  # 'auto', 'local', ray:// client addresses: left to ray.init
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise UserError(f"cannot connect to the Ray cluster at {address}: "
                        f"{exc.strerror or exc}") from None


def one_line(exc: BaseException) -> str:
    """'Type: first line' of a task's error (the user exception inside a RayTaskError)."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        exc = cause
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
