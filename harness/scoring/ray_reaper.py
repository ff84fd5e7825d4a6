"""A watchdog that kills the local Ray processes of a driver that died without shutting down.

Ray ties its GCS server and raylet to the driver that started them (Linux parent-death
signal), but the raylet's own children (dashboard agent, runtime-env agent, idle workers) are
left to notice the raylet's death by themselves, which was seen to take over a minute after a
``kill -9`` of the driver. This process, started beside a local Ray cluster, records every
descendant of the driver twice a second and, once the driver is gone, kills those still
alive (and their children). Run as ``python -m harness.scoring.ray_reaper DRIVER_PID``; the
driver stops it on a clean shutdown.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

POLL_S = 0.5


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time) of a process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), int(fields[19])


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdecimal():
            st = _stat(int(entry.name))
            if st is not None:
                tree.setdefault(st[0], []).append(int(entry.name))
    return tree


def descendants(roots) -> dict[int, int]:
    """pid -> start time of every live descendant of ``roots`` (the roots excluded)."""
    tree, found, todo = _children(), {}, list(roots)
    while todo:
        for child in tree.get(todo.pop(), []):
            st = _stat(child)
            if st is not None and child not in found:
                found[child] = st[1]
                todo.append(child)
    return found


def reap(seen: dict[int, int]) -> None:
    """Kill the recorded processes still alive (same start time: not a reused pid), and any
    children they have had since."""
    alive = {pid: t for pid, t in seen.items() if (_stat(pid) or (0, -1))[1] == t}
    alive.update(descendants(alive))
    alive.pop(os.getpid(), None)
    for pid in alive:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def watch(driver: int) -> None:
    start = (_stat(driver) or (0, -1))[1]
    seen: dict[int, int] = {}
    while (_stat(driver) or (0, -2))[1] == start:
        seen.update(descendants([driver]))
        time.sleep(POLL_S)
    reap(seen)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    watch(int(sys.argv[1]))
