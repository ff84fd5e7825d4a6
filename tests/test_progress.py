"""The progress helper: its line (count, percent, rate, elapsed, ETA), when it prints on a
terminal and elsewhere (logs, notebooks), and the count-only callback the loaders use."""

from __future__ import annotations

import io

import pytest

from harness.progress import Progress, ProgressCallback, format_duration


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_line_rate_and_eta():
    clock, out = Clock(), io.StringIO()
    bar = Progress(100, "scoring", unit="nets", stream=out, clock=clock)
    clock.now += 20.0
    bar.update(40)  # 40 in 20 s: 2/s, 60 left: 30 s
    assert out.getvalue() == ("scoring: 40/100 (40%) 2.00 nets/s, elapsed 00:20, ETA 00:30\n")
    clock.now += 3600.0
    assert bar.line() == "scoring: 40/100 (40%) 90.5 s each, elapsed 1:00:20, ETA 1:30:30"


def test_slow_rates_are_seconds_per_unit():
    clock, out = Clock(), io.StringIO()
    bar = Progress(4, "search", unit="seeds", stream=out, clock=clock)
    clock.now += 90.0
    bar.update(1)  # one seed in 90 s, 3 left
    assert "1/4 (25%) 90.0 s each, elapsed 01:30, ETA 04:30" in out.getvalue()


def test_non_tty_prints_occasional_whole_lines():
    clock, out = Clock(), io.StringIO()
    bar = Progress(1000, "x", stream=out, clock=clock, every_s=10.0)
    for _ in range(999):  # 999 updates over 99.9 s: a line every 10 s, no carriage return
        clock.now += 0.1
        bar.update()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert 9 <= len(lines) <= 11
    clock.now += 0.1
    bar.update()
    bar.close()
    last = out.getvalue().splitlines()[-1]
    assert last.startswith("x: 1000/1000 (100%)") and last.endswith("ETA 00:00")


def test_short_waits_stay_silent():
    clock, out = Clock(), io.StringIO()
    with Progress(10, "fast", stream=out, clock=clock) as bar:
        for _ in range(10):
            clock.now += 0.05
            bar.update()
    assert out.getvalue() == ""


def test_tty_redraws_in_place_and_ends_the_line():
    clock, out = Clock(), Terminal()
    bar = Progress(10, "t", stream=out, clock=clock)
    clock.now += 5.0
    bar.update(5)
    clock.now += 1.0
    bar.update(1)
    assert out.getvalue().count("\r") == 2 and "\n" not in out.getvalue()
    bar.close()  # stopped early: the line is ended
    assert out.getvalue().endswith("\n") and out.getvalue().count("\n") == 1


def test_disabled_prints_nothing():
    clock, out = Clock(), io.StringIO()
    bar = Progress(10, "off", enabled=False, stream=out, clock=clock)
    clock.now += 60
    bar.update(10)
    assert out.getvalue() == "" and bar.done == 10


def test_callback_follows_done_and_total():
    clock, out = Clock(), io.StringIO()
    report = ProgressCallback("reading", stream=out, clock=clock, every_s=1.0)
    for done in range(1, 301):
        clock.now += 0.1
        report(done, 300)
    lines = out.getvalue().splitlines()
    assert lines[-1].startswith("reading: 300/300 (100%) 10.03/s")  # from the first call
    assert len(lines) >= 20


def test_format_duration():
    assert format_duration(59.6) == "01:00"
    assert format_duration(3725) == "1:02:05"
    assert format_duration(float("inf")) == "--:--"


def test_official_folder_read_reports_progress(tmp_path):
    """The first read of an official folder reports (done, total) per record; a cached
    table reads without any."""
    import warnings
    from pathlib import Path

    pytest.importorskip("nats_bench")
    from benchmarks.official import load_official

    folder = Path(__file__).parent / "data" / "NATS-tss-v1_0-3ffb9-simple"
    calls = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fixture is a partial archive: one warning
        load_official(folder, cache_dir=tmp_path, progress=lambda *a: calls.append(a))
        assert calls == [(1, 3), (2, 3), (3, 3)]
        load_official(folder, cache_dir=tmp_path, progress=lambda *a: calls.append(a))
    assert len(calls) == 3
