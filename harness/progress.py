"""A small progress line with rate and ETA on stderr (redrawn on a terminal, periodic lines
otherwise, so logs of batch jobs stay readable)."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, label: str, enabled: bool = True, every_s: float = 10.0):
        self.total, self.label, self.enabled = total, label, enabled and total > 0
        self.done = 0
        self.start = self._last = time.monotonic()
        self.tty = sys.stderr.isatty()
        self.every_s = 0.2 if self.tty else every_s

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and (now - self._last >= self.every_s or self.done == self.total):
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = now - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        pct = 100.0 * self.done / self.total
        line = (f"{self.label}: {self.done}/{self.total} ({pct:5.1f}%) "
                f"{rate:6.2f}/s elapsed {_fmt(elapsed)} eta {_fmt(eta)}")
        sys.stderr.write(("\r" + line + ("\n" if self.done == self.total else ""))
                         if self.tty else line + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.tty and self.done < self.total:
            sys.stderr.write("\n")


def _fmt(seconds: float) -> str:
    if seconds == float("inf"):
        return "--:--"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"
