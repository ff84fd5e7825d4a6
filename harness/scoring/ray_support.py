"""Ray plumbing: import it with a one-line error when missing, start or join a cluster.

A local cluster started here advertises only the loopback address (``node_ip_address``
127.0.0.1: no other host can join it or is sent its addresses), has no dashboard, and is
watched by :mod:`harness.scoring.ray_reaper`, so that no Ray process outlives a driver killed
with ``kill -9``; SIGTERM and Ctrl-C shut it down through the executor's ``close``. Ray's
own gRPC servers (GCS, raylet, workers) still listen on all interfaces whatever the node
address (Ray's design, seen with ``ss -ltnp`` on Ray 2.60; Ray's token authentication guards
them): on a machine reachable from an untrusted network, firewall those ports.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading

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


LOOPBACK = "127.0.0.1"


def start_ray(ray, address: str | None, num_cpus: int | None = None):
    """:func:`_start_ray`, keeping this process's SIGTERM and SIGINT handlers: ray.init
    installs a native SIGTERM handler that aborts the process (exit 134, nothing cleaned
    up) where the command lines stop cleanly (exit 143, Ray shut down)."""
    with DeferredSignals():  # restores the handlers ray.init replaced
        return _start_ray(ray, address, num_cpus)


def _start_ray(ray, address: str | None, num_cpus: int | None = None):
    """Connect to the cluster at ``address`` (a one-line UserError when it does not answer),
    or start a local one with ``num_cpus`` CPUs (default: the usable cores) on the loopback
    address; then returns its reaper process (stop it with :func:`stop_reaper`), else None."""
    common = {"include_dashboard": False, "logging_level": logging.WARNING}
    if not address:
        reaper = start_reaper()
        try:
            ray.init(address="local", num_cpus=num_cpus or usable_cores(),
                     _node_ip_address=LOOPBACK, **common)
        except BaseException:
            stop_reaper(reaper)
            raise
        return reaper
    _probe(address)
    try:
        ray.init(address=address, **common)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        msg = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(f"cannot connect to the Ray cluster at {address}: {msg}") from None
    return None


def start_reaper() -> subprocess.Popen | None:
    """The watchdog that kills this driver's local Ray processes if it dies (Linux only)."""
    if not os.path.isdir("/proc"):  # pragma: no cover - not Linux
        return None
    return subprocess.Popen([sys.executable, "-m", "harness.scoring.ray_reaper",
                             str(os.getpid())], start_new_session=True,
                            stdin=subprocess.DEVNULL)


def stop_reaper(reaper: subprocess.Popen | None) -> None:
    if reaper is not None and reaper.poll() is None:
        reaper.terminate()
        reaper.wait(timeout=10)


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


class DeferredSignals:
    """SIGTERM and SIGINT held back while Ray's client code runs, acted on at safe points.

    A Python signal handler runs between two bytecodes of the main thread, and the command
    lines' handlers raise. Raised inside Ray's client (``ray.wait``, ``ray.get``, ``ray.cancel``
    and their callbacks), the exception can leave Ray's core worker inconsistent: seen once as
    a fatal check in ``task_manager.cc`` and a process that took minutes to exit with code 1
    instead of 143. Inside this context the handlers only note the signal; :meth:`check`
    (called by the executor between two Ray calls) runs the handler that was installed before,
    so the command stops where Ray is in a known state. Only the main thread can set handlers;
    elsewhere this does nothing.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self._previous: dict = {}
        self._pending: list[int] = []

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._note)
        return self

    def _note(self, signum, frame):
        self._pending.append(signum)

    def check(self) -> None:
        """Act on a signal noted so far, as the handler installed before would have."""
        if not self._pending:
            return
        signum = self._pending.pop(0)
        handler = self._previous.get(signum)
        if callable(handler):
            handler(signum, None)
        elif handler == signal.SIG_DFL:  # no handler of our own: behave as the default would
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            raise SystemExit(128 + signum)

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            if handler is not None:  # None: a handler not set from Python, cannot be restored
                signal.signal(sig, handler)
        if exc[0] is None:
            self.check()  # a signal noted during the last Ray call is not lost
        return False
