"""`--executor ray` on a multi-node cluster simulated on this machine
(``ray.cluster_utils.Cluster``: a head without CPUs and two 1-CPU nodes) whose workers cannot
open any SQLite file: the table equals the local executor's, also when a node is removed
mid-run; and no Ray process outlives a driver killed with ``kill -9``. ``-m multinode``."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from harness.scoring.cache import ScoreCache
from harness.scoring.engine import EngineStats, class_representatives, score_archs
from harness.scoring.executors import RayExecutor
from nasi.scoring import ScoreConfig
from nasi.space import Arch

pytestmark = pytest.mark.multinode
ROOT = Path(__file__).resolve().parents[1]
CPU = torch.device("cpu")
CFG = ScoreConfig(batch_size=4, data="gaussian", C=4, N=1)  # cheap variant nets
N_CLASSES = 24


def forbid_sqlite_in_workers():
    """A worker setup hook (pickled by value): any sqlite3.connect in a Ray worker raises."""

    def hook():
        import sqlite3 as worker_sqlite

        def refuse(*args, **kwargs):
            raise PermissionError("a Ray worker must not open the score cache")

        worker_sqlite.connect = refuse

    return hook


@pytest.fixture(scope="module")
def cluster():
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    small = {"object_store_memory": 80 * 2**20}
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, **small})
    nodes = [c.add_node(num_cpus=1, **small) for _ in range(2)]
    c.wait_for_nodes()
    ray.init(address=c.address, logging_level="WARNING",
             runtime_env={"worker_process_setup_hook": forbid_sqlite_in_workers(),
                          "env_vars": {"PYTHONPATH": str(ROOT)}})
    yield c, nodes
    ray.shutdown()
    c.shutdown()


def torch_one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)  # as a 1-CPU Ray task: bit-identical sums
    return old


def archs():
    reps = sorted(a.index for a in class_representatives().values() if a.is_connected)
    return [Arch.from_index(i) for i in reps[:N_CLASSES]]


def batch():
    g = torch.Generator().manual_seed(1)
    return torch.randn(4, 3, 32, 32, generator=g), torch.randint(0, 10, (4,), generator=g)


def local_table(path):
    old = torch_one_thread()
    try:
        return score_archs(archs(), ["nasi"], CFG, *batch(), "fp", ScoreCache(path), CPU,
                           progress=False)
    finally:
        torch.set_num_threads(old)


def test_workers_cannot_open_sqlite(cluster):
    import ray

    @ray.remote(num_cpus=1)
    def try_open(path):
        try:
            sqlite3.connect(path)
        except PermissionError:
            return "refused"
        return "opened"

    assert ray.get(try_open.remote("/tmp/never.sqlite")) == "refused"


class RemovingExecutor(RayExecutor):
    """Removes a node (no grace) once the first result is back, tasks still in flight."""

    def __init__(self, cluster, node, **kw):
        super().__init__(**kw)
        self._cluster, self._node = cluster, node

    def map_unordered(self, fn, jobs, shared=None, n_jobs=None):
        for i, out in enumerate(super().map_unordered(fn, jobs, shared, n_jobs)):
            if i == 0:
                self._cluster.remove_node(self._node, allow_graceful=False)
            yield out


def test_cluster_table_equals_local_and_survives_a_lost_node(cluster, tmp_path):
    c, nodes = cluster
    expected = local_table(tmp_path / "local.sqlite")
    old = torch_one_thread()
    try:
        stats = EngineStats()
        got = score_archs(archs(), ["nasi"], CFG, *batch(), "fp",
                          ScoreCache(tmp_path / "a.sqlite"), CPU, progress=False, stats=stats,
                          executor=RayExecutor(shard_size=2, max_retries=3))
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
        assert stats.classes_computed == N_CLASSES

        ex = RemovingExecutor(c, nodes[1], shard_size=2, max_retries=3)
        stats = EngineStats()
        got = score_archs(archs(), ["nasi"], CFG, *batch(), "fp",
                          ScoreCache(tmp_path / "b.sqlite"), CPU, progress=False, stats=stats,
                          executor=ex)
    finally:
        torch.set_num_threads(old)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    # each class came back (and was stored) once, whatever the lost node had in flight
    assert stats.classes_computed == N_CLASSES
    with sqlite3.connect(tmp_path / "b.sqlite") as db:
        assert db.execute("SELECT count(*) FROM scores").fetchone()[0] == N_CLASSES
        assert db.execute("SELECT count(*) FROM claims").fetchone()[0] == 0


# ---------------------------------------------------------------- a killed driver
DRIVER = """
import sys, time
from harness.scoring.executors import RayExecutor
ex = RayExecutor(num_cpus=1)
ray = ex.open()
ray.get(ray.remote(lambda: 1).remote())  # a worker process is up
print("READY", flush=True)
time.sleep(600)
"""


def _descendants(pid: int) -> set[int]:
    from harness.scoring.ray_reaper import descendants

    return set(descendants([pid]))


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_no_ray_process_outlives_a_killed_driver(tmp_path):
    pytest.importorskip("ray")
    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent(DRIVER))
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)
    try:
        assert proc.stdout.readline().strip() == "READY"
        time.sleep(1.0)  # the reaper has seen the agents
        ray_procs = _descendants(proc.pid)
        names = {Path(f"/proc/{p}/cmdline").read_bytes()[:200] for p in ray_procs if _alive(p)}
        assert any(b"raylet" in n for n in names), names  # Ray was started by this driver
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.time() + 10
        while time.time() < deadline and any(_alive(p) for p in ray_procs):
            time.sleep(0.2)
        left = [Path(f"/proc/{p}/cmdline").read_bytes()[:80] for p in ray_procs if _alive(p)]
        assert not left, f"Ray processes outlived the killed driver: {left}"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_sigterm_stops_a_ray_run_cleanly(tmp_path):
    """ray.init's native SIGTERM handler would abort (exit 134): the command keeps its own,
    stops with exit 143, keeps what it stored, releases its claims, and leaves no Ray."""
    pytest.importorskip("ray")
    cache = tmp_path / "c.sqlite"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["PYTHONPATH"] = str(ROOT)
    cmd = [sys.executable, "-m", "harness.rank", "--quiet", "--batch-size", "8", "--width", "4",
           "--cells", "1", "--data", "gaussian", "--sample", "400", "--executor", "ray",
           "--shard-size", "4", "--cache", str(cache), "--out", str(tmp_path / "o")]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        stored, deadline, ray_procs = 0, time.time() + 120, set()
        while stored == 0 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.5)
            ray_procs |= _descendants(proc.pid)
            if cache.exists():
                with contextlib.suppress(sqlite3.Error), sqlite3.connect(cache) as db:
                    stored = db.execute("SELECT count(*) FROM scores").fetchone()[0]
        assert stored > 0, "no result was stored"
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=60)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err
    assert "terminated: results already stored" in err
    with sqlite3.connect(cache) as db:
        assert db.execute("SELECT count(*) FROM scores").fetchone()[0] >= stored
        assert db.execute("SELECT count(*) FROM claims").fetchone()[0] == 0
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(p) for p in ray_procs):
        time.sleep(0.2)
    assert not [p for p in ray_procs if _alive(p)], "Ray processes outlived the command"
