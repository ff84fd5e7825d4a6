"""Output sets under faults (issue #15, Storage and Security): planted symbolic links, a full
disk, concurrent writers with a reader, kill -9 at random points of harness.rank,
harness.search and harness.report, and run folders whose ranking and summary disagree."""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

import harness.cli.rank as rank_cli
import harness.provenance as provenance
from harness.cli import run as run_cli
from harness.cli.report import main as report_main
from harness.errors import UserError
from harness.reporting import report as R
from harness.reporting import runs as runs_mod
from harness.reporting.publish import verify_manifest
from harness.summary import RunConfig, RunSummary, ScoreInfo

pytestmark = pytest.mark.faults
ROOT = Path(__file__).parents[1]


def make_summary(n: int, created: str = "2026-01-01T00:00:00+00:00") -> RunSummary:
    return RunSummary(config=RunConfig(dataset="cifar10", scores=["nasi"], benchmark="embedded",
                                       batch_size=8, seed=0),
                      scores={"nasi": ScoreInfo(higher_is_better=True)}, n_archs=n,
                      created=created)


def make_table(n: int, gen: int = 0) -> pd.DataFrame:
    return pd.DataFrame({"index": range(n), "nasi": [float(gen * 1000 + i) for i in range(n)],
                         "gen": gen})


def leftovers(folder: Path) -> list[str]:
    """Temporary files and staging folders (hidden names) left in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def one_line(capsys, main, argv) -> str:
    assert run_cli(main, argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err


# ----------------------------------------------------------------------------- links
def test_writes_never_follow_planted_links(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    for name in (".write-test", "ranking.csv.tmp", "summary.json.tmp", "summary.json"):
        (out / name).symlink_to(outside)
    provenance.prepare_out_dir(out)
    runs_mod.write_run(out, make_table(3), make_summary(3))
    assert outside.read_text() == "precious"
    assert not (out / "summary.json").is_symlink()  # the link itself was replaced
    assert json.loads((out / "summary.json").read_text())["n_archs"] == 3


def test_report_does_not_delete_through_linked_plots(tmp_path, capsys):
    run = tmp_path / "run"
    runs_mod.write_run(run, make_table(20), make_summary(20))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "a.png").write_text("not ours")
    out = tmp_path / "report"
    out.mkdir()
    (out / "plots").symlink_to(elsewhere, target_is_directory=True)
    (out / "summary.json").write_text(json.dumps({"kind": R.REPORT_KIND,
                                                  "files": ["plots/a.png"]}))
    err = one_line(capsys, report_main, [str(run), "--name", "r", "--out", str(out),
                                         "--bootstrap", "0"])
    assert "symbolic link" in err
    assert (elsewhere / "a.png").read_text() == "not ours"


# ----------------------------------------------------------------------------- disk full
@pytest.fixture
def disk_full_after(monkeypatch):
    """Every temporary file after the first ``n`` fails with ENOSPC."""

    def arm(n: int):
        real = provenance.os.fdopen
        opened = []

        def fdopen(fd, *args, **kwargs):
            opened.append(fd)
            if len(opened) > n:
                os.close(fd)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real(fd, *args, **kwargs)

        monkeypatch.setattr(provenance.os, "fdopen", fdopen)

    return arm


def test_disk_full_leaves_the_previous_run_set(tmp_path, capsys, monkeypatch, disk_full_after):
    out = tmp_path / "run"
    runs_mod.write_run(out, make_table(3, gen=1), make_summary(3))
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    class Result:
        table, summary = make_table(5, gen=2), make_summary(5)

    monkeypatch.setattr(rank_cli, "rank", lambda *a, **k: Result)
    disk_full_after(1)  # ranking.csv staged, summary.json is not
    err = one_line(capsys, rank_cli.main, ["--indices", "0-4", "--out", str(out),
                                           "--workers", "1", "--no-cache", "--quiet"])
    assert "No space left on device" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing published
    runs_mod.load_run(out)  # and the old set still reads as one


def test_disk_full_publishes_no_report(tmp_path, disk_full_after):
    run = tmp_path / "run"
    runs_mod.write_run(run, make_table(20), make_summary(20))
    out = R.write_report([run], tmp_path / "report", "r", bootstrap=0, plots=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    disk_full_after(1)
    with pytest.raises(UserError, match="No space left on device"):
        R.write_report([run], out, "r", bootstrap=5, plots=False)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert verify_manifest(out) == []


# ----------------------------------------------------------------------------- disagreeing
def test_report_refuses_truncated_ranking(tmp_path, capsys):
    run = tmp_path / "run"
    runs_mod.write_run(run, make_table(50), make_summary(50))
    raw = (run / "ranking.csv").read_bytes()
    (run / "ranking.csv").write_bytes(raw[: len(raw) // 2])
    err = one_line(capsys, report_main, [str(run), "--name", "r", "--bootstrap", "0",
                                         "--out", str(tmp_path / "rep")])
    assert "sha256 differs" in err and "rerun python -m harness.rank" in err
    legacy = json.loads((run / "summary.json").read_text())
    del legacy["outputs"]
    (run / "summary.json").write_text(json.dumps(legacy))  # format 1: no fingerprint
    err = one_line(capsys, report_main, [str(run), "--name", "r", "--bootstrap", "0",
                                         "--out", str(tmp_path / "rep")])
    assert "records 50 architectures" in err


def test_report_refuses_ranking_of_another_run(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    runs_mod.write_run(a, make_table(30, gen=1), make_summary(30))
    runs_mod.write_run(b, make_table(30, gen=2), make_summary(30))
    (a / "ranking.csv").write_bytes((b / "ranking.csv").read_bytes())  # same row count
    err = one_line(capsys, report_main, [str(a), "--name", "r", "--bootstrap", "0",
                                         "--out", str(tmp_path / "rep")])
    assert "mixes two runs" in err


# ----------------------------------------------------------------------------- concurrency
def test_concurrent_writers_and_a_reader(tmp_path):
    """Two writers republish one run folder with different generations while a reader
    reads it: every read is one generation (the gen column matches the summary)."""
    out = tmp_path / "run"
    runs_mod.write_run(out, make_table(40, gen=0), make_summary(40, created="0"))
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(gen: int):
        try:
            while not stop.is_set():  # until the reader has seen enough
                runs_mod.write_run(out, make_table(40, gen), make_summary(40, str(gen)))
                gen += 2
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in (1, 2)]
    for t in threads:
        t.start()
    reads = refused = 0
    deadline = time.monotonic() + 20
    while reads + refused < 60 and time.monotonic() < deadline and not errors:
        try:
            summary, df = runs_mod._read_consistent(out, None)
        except UserError:
            refused += 1
            continue
        reads += 1
        assert set(df["gen"]) == {int(summary.created)}
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors
    print(f"\n{reads} consistent reads, {refused} refused (writers kept rewriting)")
    assert reads >= 30, (reads, refused)
    assert leftovers(out) == []


def test_concurrent_reports(tmp_path):
    run = tmp_path / "run"
    runs_mod.write_run(run, make_table(60), make_summary(60))
    out = tmp_path / "report"
    threads = [threading.Thread(target=R.write_report, args=([run], out, "r"),
                                kwargs={"bootstrap": b, "plots": False}) for b in (3, 4, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert verify_manifest(out) == []
    assert leftovers(out) == []


# ----------------------------------------------------------------------------- kill -9
def _command(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_at_random_points(args: list[str], check, points: int = 3, seed: int = 15,
                           timing_args: list[str] | None = None, low: float = 0.4) -> None:
    """Run ``args`` (or ``timing_args``, the same command into another folder) once, timed;
    then ``points`` times killed with SIGKILL at a random moment of that duration (from
    ``low`` of it on: Python and torch take a while to start), calling ``check()`` after each;
    then once more to the end."""
    start = time.monotonic()
    proc = _command(timing_args or args)
    assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()
    duration = time.monotonic() - start
    rng = random.Random(seed)
    for _ in range(points):
        proc = _command(args)
        time.sleep(rng.uniform(low, 1.0) * duration)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        check(final=False)
    proc = _command(args)
    assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()
    check(final=True)


def test_kill_rank_and_report(tmp_path):
    out, cache = tmp_path / "run", tmp_path / "cache.sqlite"
    rank = ["harness.rank", "--indices", "0-5", "--width", "4", "--cells", "1", "--data",
            "gaussian", "--batch-size", "8", "--workers", "1", "--quiet", "--cache", str(cache),
            "--out", str(out)]

    def check_run(final: bool):
        try:
            runs_mod.load_run(out)
        except UserError as exc:  # a kill between the two renames: detected, never mixed
            assert not final and "write was interrupted" in str(exc)
        if final:
            assert leftovers(out) == []

    _kill_at_random_points(rank, check_run, points=2)
    report = tmp_path / "report"
    args = ["harness.report", str(out), "--name", "r", "--out", str(report), "--bootstrap", "0"]

    def check_report(final: bool):
        problems = verify_manifest(report)
        for png in (report / "plots").glob("*.png"):  # never a half-written figure
            with Image.open(png) as im:
                im.verify()
        if final:
            assert problems == [] and leftovers(report) == []
            assert all(p.stat().st_size > 0 for p in (report / "plots").iterdir())

    _kill_at_random_points(args, check_report, points=2)


def test_kill_search(tmp_path):
    """SIGKILL during the searches of harness.search, after k of them finished (k = 0, 1, 2,
    at a random moment of the next): every per-seed file left is whole, a summary never
    passes with another run's report, and the rerun equals an uninterrupted run (timings
    aside), searching again only what was not finished."""
    from harness.searching.driver import read_summary

    seeds = 4

    def search(out: Path) -> list[str]:
        return ["harness.search", "--method", "nasi", "--seeds", str(seeds), "--steps", "60",
                "--width", "4", "--cells", "1", "--batch-size", "8", "--data", "gaussian",
                "--device", "cpu", "--workers", "1", "--quiet", "--out", str(out)]

    def runs(out: Path) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "seconds"}
                for r in read_summary(out)["runs"]]

    def finished(out: Path) -> list[Path]:
        return sorted((out / "runs").glob("*.json")) if (out / "runs").is_dir() else []

    out, reference = tmp_path / "run", tmp_path / "reference"
    proc = _command(search(reference))
    assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()
    per_search = max(r["seconds"] for r in read_summary(reference)["runs"])
    rng = random.Random(15)
    for k in range(3):
        proc = _command(search(out))
        deadline = time.monotonic() + 60
        while len(finished(out)) < k and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.1, 1.0) * per_search)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        done = finished(out)
        assert len(done) < seeds, "the kill came after every search had finished"
        for json_path in done:
            stored = json.loads(json_path.read_text())  # a JSON file is always whole
            with open(json_path.with_name(f"{json_path.stem}.trace.npz"), "rb") as f:
                assert zipfile.is_zipfile(f), json_path  # and its trace beside it
            assert stored["config"]["seed"] == int(json_path.stem.rsplit("seed", 1)[1])
    proc = _command(search(out))
    assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()
    assert runs(out) == runs(reference)
    assert leftovers(out) == [] and leftovers(out / "runs") == []


def test_search_summary_refuses_a_report_of_another_run(tmp_path):
    from harness.cli import run as run_cmd
    from harness.cli.search import main as search_main
    from harness.searching.driver import read_summary

    out = tmp_path / "s"
    argv = ["--method", "nasi", "--seeds", "1", "--steps", "2", "--width", "4", "--cells", "1",
            "--batch-size", "8", "--data", "gaussian", "--device", "cpu", "--quiet",
            "--out", str(out)]
    assert run_cmd(search_main, argv) == 0
    assert read_summary(out)["outputs"]["report.md"]["sha256"]
    (out / "report.md").write_text((out / "report.md").read_text() + "edited\n")
    with pytest.raises(UserError, match="mixes two runs"):
        read_summary(out)


def test_stale_temporary_files_of_dead_writers_are_removed(tmp_path):
    """A SIGKILLed writer's temporary file goes at the next write; a live writer's, or one of
    another host (its process ids mean nothing here), stays."""
    ended = subprocess.Popen(["true"])
    ended.wait()
    host = provenance.writer_tag().partition("@")[2]
    names = {"dead": f".ranking.csv.{ended.pid}@{host}.a1.tmp",
             "live": f".ranking.csv.{os.getpid()}@{host}.a2.tmp",
             "other host": f".ranking.csv.{ended.pid}@elsewhere.a3.tmp"}
    for name in names.values():
        (tmp_path / name).write_text("partial")
    provenance.prepare_out_dir(tmp_path)
    assert leftovers(tmp_path) == sorted([names["live"], names["other host"]])
