"""The local executor (harness.scoring.executors): worker processes give the very scores of
in-process scoring, store every class in the cache, and never outlive a killed driver."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from harness.scoring.cache import ScoreCache
from harness.scoring.engine import class_representatives, compute_classes, score_classes
from harness.scoring.executors import LocalExecutor
from harness.scoring.local_pool import cpu_threads, keep_freed_memory
from nasi.scoring import ScoreConfig

ROOT = Path(__file__).resolve().parent.parent
CFG = ScoreConfig(batch_size=4, data="gaussian", C=4, N=1)
CPU = torch.device("cpu")


def batch():
    g = torch.Generator().manual_seed(0)
    return torch.randn(4, 3, 32, 32, generator=g), torch.randint(0, 10, (4,), generator=g)


def some_classes(n: int) -> list[str]:
    reps = sorted((a for a in class_representatives().values() if a.is_connected),
                  key=lambda a: a.index)
    return [a.iso_key for a in reps[:n]]


def test_pool_scores_equal_single_thread_in_process_scores_and_fill_the_cache(tmp_path):
    keys = some_classes(6)
    x, y = batch()
    with cpu_threads(1):
        expected = score_classes(keys, ["nasi", "grad_norm"], CFG,
                                 x.contiguous(memory_format=torch.channels_last), y, "k", None,
                                 torch.device("cpu"))
    cache = ScoreCache(tmp_path / "c.sqlite")
    with LocalExecutor(workers=2, min_pool_jobs=0) as ex:
        got = compute_classes(keys, ["nasi", "grad_norm"], CFG, x, y, "k", cache, CPU, ex)
        assert ex.describe()["processes_used"] == 2
    assert got == expected  # bit for bit: one thread per process either way
    assert {k: cache.get("k", k) for k in keys} == expected


def test_workers_keep_freed_memory_where_glibc_allows_it():
    # both mallopt calls must be accepted (a threshold above glibc's 32 MiB ceiling is refused);
    # that this changes no score is the bit-for-bit test above (workers set it, this process not)
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt is glibc's")
    assert keep_freed_memory()


def test_small_jobs_run_in_process_with_one_thread():
    keys = some_classes(2)
    x, y = batch()
    ex = LocalExecutor(workers=2)  # below min_pool_jobs: no pool is started
    got = compute_classes(keys, ["nasi"], CFG, x, y, "k", None, CPU, ex)
    assert ex.describe()["processes_used"] == 1 and ex._pool is None
    assert len(got) == 2 and all(v["nasi"] > 0 for v in got.values())


def test_workers_die_with_a_killed_driver(tmp_path):
    driver = textwrap.dedent(f"""
        import sys, torch
        sys.path.insert(0, {str(ROOT)!r})
        from harness.scoring.executors import LocalExecutor
        from harness.scoring.engine import class_representatives, compute_classes
        from nasi.scoring import ScoreConfig
        cfg = ScoreConfig(batch_size=4, data="gaussian", C=8, N=3)
        keys = [a.iso_key for a in class_representatives().values() if a.is_connected][:400]
        x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
        if __name__ == "__main__":
            ex = LocalExecutor(workers=2, min_pool_jobs=0)
            cpu = torch.device("cpu")
            compute_classes(keys[:2], ["nasi"], cfg, x, y, "k", None, cpu, ex)
            print(*[p.pid for p in ex._pool._processes.values()], flush=True)
            compute_classes(keys, ["nasi"], cfg, x, y, "k", None, cpu, ex)  # long: killed
    """)
    script = tmp_path / "driver.py"
    script.write_text(driver)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    pids = [int(p) for p in proc.stdout.readline().split()]
    assert len(pids) == 2
    time.sleep(1.0)  # the workers are busy now
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids), "a worker outlived its killed driver"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (killed, not yet reaped by init) counts as gone
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False
