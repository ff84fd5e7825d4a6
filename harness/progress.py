"""The one progress helper of the harness: ``label: done/total (pct) rate, elapsed, ETA`` on
stderr, for every wait that can last more than a few seconds (scoring, search steps x seeds,
the first read of an official benchmark folder, the report's bootstrap).

- On a terminal the line is redrawn in place (``\\r``) at most 5 times a second.
- Elsewhere (a log file, a batch job, a notebook, whose stderr is not a terminal) it prints
  a whole line at most every ``every_s`` seconds (default 10), and a last line at the end,
  so logs stay short and readable.
- Nothing is printed for waits shorter than ``quiet_s`` (default 2 s): a fast run stays silent.

Rates below one unit per second are shown as seconds per unit (``42.0 s each``).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

TTY_REDRAW_S = 0.2
READING_BENCHMARK = "reading the benchmark records (first read only; cached afterwards)"


class Progress:
    """``with Progress(total, label, unit="archs") as bar: ... bar.update(n)``."""

    def __init__(self, total: int, label: str, enabled: bool = True, *, unit: str = "",
                 every_s: float = 10.0, quiet_s: float = 2.0, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.total, self.label, self.unit = int(total), label, unit
        self.enabled = enabled and self.total > 0
        self.stream = stream if stream is not None else sys.stderr
        self.tty = _isatty(self.stream)
        self.every_s = TTY_REDRAW_S if self.tty else every_s
        self.quiet_s = quiet_s
        self.clock = clock
        self.done = 0
        self.start = clock()
        self._last: float | None = None  # when the last line was drawn
        self._open_line = False  # a terminal line drawn without its newline yet
        self._lock = threading.Lock()  # updates may come from worker threads

    def update(self, n: int = 1) -> None:
        with self._lock:
            self._update(n)

    def _update(self, n: int) -> None:
        self.done = min(self.total, self.done + n)
        if not self.enabled:
            return
        now = self.clock()
        if now - self.start < self.quiet_s and self.done < self.total:
            return
        if self.done >= self.total:
            if self._last is not None or now - self.start >= self.quiet_s:
                self._draw(now, final=True)
        elif self._last is None or now - self._last >= self.every_s:
            self._draw(now, final=False)

    def line(self, now: float | None = None) -> str:
        """The progress text (no newline)."""
        now = self.clock() if now is None else now
        elapsed = max(0.0, now - self.start)
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        pct = 100.0 * self.done / self.total if self.total else 100.0
        return (f"{self.label}: {self.done}/{self.total} ({pct:.0f}%) {_rate(rate, self.unit)}"
                f", elapsed {format_duration(elapsed)}, ETA {format_duration(eta)}")

    def _draw(self, now: float, final: bool) -> None:
        self._last = now
        text = self.line(now)
        if self.tty:
            self.stream.write("\r" + text + ("\n" if final else ""))
            self._open_line = not final
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        if final:
            self.enabled = False  # one last line only

    def end_line(self) -> None:
        """End a terminal line left open, before other output is printed."""
        with self._lock:
            if self._open_line:
                self.stream.write("\n")
                self.stream.flush()
                self._open_line = False

    def close(self) -> None:
        """End a terminal line left open (an interrupted or shorter-than-planned wait)."""
        self.end_line()
        self.enabled = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ProgressCallback:
    """``progress(done, total)`` for library code that only reports counts (the benchmark
    loaders): the progress line starts at the first call and ends when done reaches total."""

    def __init__(self, label: str, enabled: bool = True, **options):
        self.label, self.enabled, self.options = label, enabled, options
        self.bar: Progress | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = Progress(total, self.label, self.enabled, **self.options)
        self.bar.total = max(self.bar.total, total)
        self.bar.update(done - self.bar.done)
        if done >= self.bar.total:
            self.bar.close()


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or file-like without isatty
        return False


def _rate(rate: float, unit: str) -> str:
    per = f" {unit}" if unit else ""
    if rate <= 0:
        return f"--{per}/s"
    if rate < 1:
        return f"{1.0 / rate:.1f} s each"
    return f"{rate:.2f}{per}/s"


def format_duration(seconds: float) -> str:
    """'mm:ss', 'h:mm:ss', or '--:--' when unknown."""
    if seconds != seconds or seconds == float("inf"):
        return "--:--"
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"
