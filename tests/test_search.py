"""NASI search (Algorithm 1): supernet vs the exact network, straight-through gradients,
the Eq. 18 update, seeding, the exact expected-reward gradient and the CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nasi.search import (
    BatchStream,
    SearchConfig,
    SearchError,
    aggregate,
    edge_agreement,
    exact_gradient,
    nu_schedule,
    run_search,
    running_max_update,
    score_and_hard_grad,
    st_jacobian_vjp,
)
from nasi.space import OPS, Arch, all_archs
from nasi.supernet import Supernet, index_of, standalone_from_supernet

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def one_thread():
    # the double backward is up to 30x slower with 2 threads on a busy 2-core machine
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)

ARCHS = [
    Arch.from_index(6111),
    # a 'none' edge, a pool, a 1x1 conv
    Arch.parse("|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|"),
    # node 1 fed only by 'none': the conv out of it sees a zero input
    Arch.parse("|none~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
               "nor_conv_3x3~2|"),
    # node 2 does not reach the output: its incoming edges are dead
    Arch.parse("|nor_conv_1x1~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|avg_pool_3x3~0|"
               "nor_conv_3x3~1|none~2|"),
]


@pytest.fixture
def float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def batch(b=6, seed=0, k=10):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, 3, 32, 32, generator=g), torch.randint(0, k, (b,), generator=g)


def one_hot(arch):
    return F.one_hot(torch.tensor(index_of(arch)), len(OPS)).to(torch.get_default_dtype())


# ----------------------------------------------------------------------------- supernet
@pytest.mark.parametrize("bn", ["nb201", "batch"])
def test_sampled_forward_and_score_equal_standalone_network(bn, float64):
    net = Supernet(10, C=4, N=1, bn=bn, seed=3)
    x, y = batch()
    for arch in ARCHS:
        ref = standalone_from_supernet(net, arch)
        want = ref(x)
        for st in ("chosen", "gdas", "full"):
            got = net(x, one_hot(arch), index_of(arch), st)
            torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
        # the score: squared norm of the batch-mean CE gradient over the subnet's weights
        # equals the standalone network's, over all of its parameters
        loss = F.cross_entropy(ref(x), y)
        grads = torch.autograd.grad(loss, list(ref.parameters()), allow_unused=True)
        s_ref = sum(float(g.pow(2).sum()) for g in grads if g is not None)
        s, _, _ = score_and_hard_grad(net, x, y, index_of(arch))
        assert s == pytest.approx(s_ref, rel=1e-10)


def test_weights_differ_per_op_instance_and_seed():
    a, b = Supernet(10, C=4, N=1, seed=0), Supernet(10, C=4, N=1, seed=0)
    for (n1, p1), (_, p2) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert torch.equal(p1, p2), n1
    c = Supernet(10, C=4, N=1, seed=1)
    assert not torch.equal(a.stem[0].weight, c.stem[0].weight)
    cell = a.cells[0]
    assert not torch.equal(cell.edges[0][3].op[1].weight, cell.edges[1][3].op[1].weight)


def test_straight_through_gradient_only_through_sampled_ops(float64):
    net = Supernet(10, C=4, N=1, seed=0)
    x, y = batch()
    arch = ARCHS[1]
    idx = index_of(arch)
    _, ds_dh, _ = score_and_hard_grad(net, x, y, idx, st="chosen")
    mask = one_hot(arch).bool()
    assert torch.all(ds_dh[~mask] == 0)
    none = OPS.index("none")
    for e, c in enumerate(idx):
        if c == none:
            assert ds_dh[e, c] == 0  # op_none(x) = 0: no gradient
    assert ds_dh[mask].abs().sum() > 0
    # full: unsampled ops get gradients, 'none' never does
    _, full, _ = score_and_hard_grad(net, x, y, idx, st="full")
    assert torch.allclose(full[mask], ds_dh[mask], rtol=1e-9, atol=1e-12)
    assert full[~mask].abs().sum() > 0
    assert torch.all(full[:, none] == 0)


@pytest.mark.parametrize("st", ["chosen", "full", "gdas"])
def test_closed_form_alpha_gradient_equals_autograd_through_gumbel_softmax(st, float64):
    """G = dR/dalpha through h = one_hot + p - stopgrad(p), p = softmax((alpha + g) / tau),
    by autograd, equals st_jacobian_vjp(ds/dh); the sampled op moves with the sign of ds/dh."""
    net = Supernet(10, C=4, N=1, seed=0)
    x, y = batch()
    gen = torch.Generator().manual_seed(5)
    g = -torch.log(-torch.log(torch.rand(6, 5, generator=gen)))
    idx = g.argmax(-1).tolist()
    if not Arch(tuple(OPS[i] for i in idx)).is_connected:  # pragma: no cover - seed dependent
        pytest.skip("sample disconnected")
    tau = 0.7
    alpha = torch.zeros(6, 5, requires_grad=True)
    p = torch.softmax((alpha + g) / tau, -1)
    h = F.one_hot(torch.tensor(idx), 5).double() + (p - p.detach())
    logits = net(x, h, idx, st)
    params = net.subnet_parameters(idx)
    grads = torch.autograd.grad(F.cross_entropy(logits, y), params, create_graph=True,
                                allow_unused=True)
    s = sum(gr.pow(2).sum() for gr in grads if gr is not None)
    (want,) = torch.autograd.grad(s, alpha)
    _, ds_dh, _ = score_and_hard_grad(net, x, y, idx, st)
    got = st_jacobian_vjp(g, tau, ds_dh)
    torch.testing.assert_close(got, want, rtol=1e-8, atol=1e-12)
    if st == "chosen":
        for e, c in enumerate(idx):
            v = float(ds_dh[e, c])
            if abs(v) > 1e-8:
                assert np.sign(float(got[e, c])) == np.sign(v)
                others = [o for o in range(5) if o != c]
                assert all(np.sign(float(got[e, o])) == -np.sign(v) for o in others)


def test_ds_dh_matches_finite_differences(float64):
    net = Supernet(10, C=4, N=1, seed=2)
    x, y = batch(b=5, seed=1)
    arch = ARCHS[0]
    idx = index_of(arch)
    base = one_hot(arch)
    # small: the score holds ReLU masks (step functions of the pre-activations), so it jumps
    # where a pre-activation crosses 0; at 1e-5 such a crossing already happens here
    eps = 1e-7

    def s_at(h, st):
        return score_and_hard_grad(net, x, y, idx, st, hardwts=h)[0]

    for st, (e, o) in (("chosen", (1, idx[1])), ("chosen", (5, idx[5])),
                       ("full", (3, OPS.index("nor_conv_1x1"))),
                       ("full", (2, OPS.index("avg_pool_3x3")))):
        _, ds_dh, _ = score_and_hard_grad(net, x, y, idx, st)
        hp, hm = base.clone(), base.clone()
        hp[e, o] += eps
        hm[e, o] -= eps
        fd = (s_at(hp, st) - s_at(hm, st)) / (2 * eps)
        assert float(ds_dh[e, o]) == pytest.approx(fd, rel=1e-4, abs=1e-8), (st, e, o)


# ----------------------------------------------------------------------------- Eq. 18
def test_running_max_update_hand_computed():
    G = np.array([[3.0, 4.0], [0.0, 1.0], [6.0, 8.0]])  # norms 5, 1, 10
    delta, cum = running_max_update(G)
    # (1/3) * ([3,4]/5 + [0,1]/5 + [6,8]/10) = (1/3) * [1.2, 1.8]
    np.testing.assert_allclose(delta, [0.4, 0.6])
    np.testing.assert_allclose(cum[0], [0.6, 0.8])
    np.testing.assert_allclose(cum[1], [0.6, 1.0])
    # a zero first gradient adds nothing and does not divide by zero
    delta, _ = running_max_update(np.array([[0.0, 0.0], [0.0, 2.0]]), xi=2.0)
    np.testing.assert_allclose(delta, [0.0, 1.0])


def test_nu_schedule_and_penalty_sign():
    s = np.array([1.0, 5.0, 3.0, 2.0, 4.0])
    conn = np.array([True, True, False, True, True])
    np.testing.assert_allclose(nu_schedule(s, conn, "fix", 2.5), [2.5] * 5)
    ada = nu_schedule(s, conn, "ada", 10.0, quantile=0.5, warmup=2)
    # steps 1, 2: initial nu; step 3: median(1, 5); step 4: same (step 3 disconnected);
    # step 5: median(1, 5, 2)
    np.testing.assert_allclose(ada, [10.0, 10.0, 3.0, 3.0, 2.0])
    assert np.isinf(nu_schedule(s, conn, "ada", None, warmup=9)).all()
    trace = {"score": np.array([1.0, 3.0]), "connected": np.array([True, True]),
             "gumbel": np.zeros((2, 6, 5)), "ds_dh": np.ones((2, 6, 5))}
    trace["ds_dh"][:, :, 0] = 2.0
    agg = aggregate(trace, mu=2.0, nu=2.0, nu_mode="fix", tau=1.0)
    # below nu: G = ds/dalpha; above: (1 - mu) ds/dalpha = -ds/dalpha
    np.testing.assert_allclose(agg.G[1], -agg.G[0])
    np.testing.assert_allclose(agg.rewards, [1.0, 3.0 - 2.0 * 1.0])
    # log scale: G divided by s, R on log s
    lg = aggregate(trace, mu=2.0, nu=2.0, nu_mode="fix", tau=1.0, scale="log")
    np.testing.assert_allclose(lg.G, agg.G / trace["score"][:, None, None])
    np.testing.assert_allclose(lg.rewards, [0.0, np.log(3) - 2 * (np.log(3) - np.log(2))])


# ----------------------------------------------------------------------------- search
def tiny(**kw):
    return SearchConfig(**{"steps": 4, "C": 4, "N": 1, "batch_size": 8, "data": "gaussian",
                           "seed": 0, **kw})


def test_redraw_gives_a_fresh_seeded_initialisation():
    a, b = Supernet(10, C=4, N=1, seed=0), Supernet(10, C=4, N=1, seed=0)
    first = {n: p.clone() for n, p in a.named_parameters()}
    a.redraw(7)
    b.redraw(7)
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert torch.equal(p, q), n  # seeded
    assert not torch.equal(a.stem[0].weight, first["stem.0.weight"])
    cell = a.cells[0]
    assert not torch.equal(cell.edges[0][3].op[1].weight, first["cells.0.edges.0.3.op.1.weight"])
    assert torch.equal(cell.edges[0][3].op[2].weight, torch.ones(4))  # BN back to its init
    # default init distribution: kaiming_uniform(a=sqrt(5)) bound = 1/sqrt(fan_in)
    w = cell.edges[0][3].op[1].weight
    assert w.abs().max() <= 1 / math.sqrt(4 * 9) and w.std() > 0


def test_search_with_redraws_is_seeded_and_differs_from_one_draw():
    a = run_search(tiny(redraw_every=2), "cpu")
    b = run_search(tiny(redraw_every=2), "cpu")
    np.testing.assert_array_equal(a.trace["ds_dh"], b.trace["ds_dh"])
    one = run_search(tiny(), "cpu")
    np.testing.assert_array_equal(a.trace["index"], one.trace["index"])  # same samples
    assert not np.array_equal(a.trace["score"][2:], one.trace["score"][2:])  # other weights
    np.testing.assert_array_equal(a.trace["score"][:2], one.trace["score"][:2])


def test_same_seed_same_search_and_disconnected_steps():
    a, b = run_search(tiny(), "cpu"), run_search(tiny(), "cpu")
    assert a.arch == b.arch
    np.testing.assert_array_equal(a.trace["index"], b.trace["index"])
    np.testing.assert_array_equal(a.trace["ds_dh"], b.trace["ds_dh"])
    assert a.delta == b.delta
    c = run_search(tiny(seed=1), "cpu")
    assert not np.array_equal(a.trace["index"], c.trace["index"])
    assert len(a.steps) == 4 and {"score", "reward", "grad_norm", "nu"} <= set(a.steps[0])
    assert a.index == a.arch.index
    np.testing.assert_allclose(np.asarray(a.alpha).argmax(-1), index_of(a.arch))
    # disconnected samples: not run, s = 0, G = 0
    for step in a.steps + c.steps:
        if not step["connected"]:
            assert step["score"] == 0 and step["grad_norm"] == 0


def test_batch_stream_fresh_and_seeded():
    s1 = BatchStream("cifar10", "real", 16, "true", seed=0)
    s2 = BatchStream("cifar10", "real", 16, "true", seed=0)
    x1, y1 = s1.next()
    x2, y2 = s2.next()
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    x3, _ = s1.next()
    assert not torch.equal(x1, x3)
    assert s1.pool_size == 500
    r = BatchStream("cifar10", "real", 16, "random", seed=0)
    assert not torch.equal(r.next()[1], y1)


def test_config_validation():
    with pytest.raises(SearchError):
        SearchConfig(steps=0)
    with pytest.raises(SearchError):
        SearchConfig(nu_mode="auto")
    with pytest.raises(SearchError):
        SearchConfig(tau=0)


# ----------------------------------------------------------------------------- exact check
def _brute_force_gradient(reward_of_arch: np.ndarray) -> np.ndarray:
    """d/dalpha sum_A prod_e softmax(alpha_e)[A_e] R(A) at alpha = 0, by autograd over the
    whole space."""
    ops = torch.tensor([[OPS.index(o) for o in a.ops] for a in all_archs()])
    alpha = torch.zeros(6, 5, dtype=torch.float64, requires_grad=True)
    logp = torch.log_softmax(alpha, -1)
    lp = logp[torch.arange(6), ops].sum(1)
    expected = (lp.exp() * torch.as_tensor(reward_of_arch)).sum()
    (grad,) = torch.autograd.grad(expected, alpha)
    return grad.numpy()


def test_exact_gradient_additive_reward_closed_form():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(6, 5))
    ops = np.array([[OPS.index(o) for o in a.ops] for a in all_archs()])
    r = v[np.arange(6), ops].sum(1)
    eg = exact_gradient(range(len(r)), r, mu=0.0, nu=None, zero_disconnected=False)
    np.testing.assert_allclose(eg.grad, (v - v.mean(1, keepdims=True)) / 5, atol=1e-12)
    np.testing.assert_allclose(eg.grad, _brute_force_gradient(r), atol=1e-12)
    assert index_of(eg.arch) == list(v.argmax(1))


def test_exact_gradient_penalised_reward_brute_force():
    rng = np.random.default_rng(1)
    s = rng.gamma(2.0, 1.0, size=len(all_archs()))
    conn = np.array([a.is_connected for a in all_archs()])
    s[~conn] = 0.0
    for mode, nu in (("fix", 1.5), ("ada", None)):
        eg = exact_gradient(range(len(s)), s, mu=2.0, nu=nu, nu_mode=mode, nu_quantile=0.3)
        nu_used = 1.5 if mode == "fix" else np.quantile(s[conn], 0.3)
        assert eg.nu == pytest.approx(nu_used)
        r = np.where(conn, s - 2.0 * np.maximum(0, s - nu_used), 0.0)
        np.testing.assert_allclose(eg.grad, _brute_force_gradient(r), atol=1e-12)
    # log scale: R on log s and log nu; disconnected get the lowest connected reward
    eg = exact_gradient(range(len(s)), s, mu=2.0, nu=1.5, nu_mode="fix", scale="log")
    r = np.log(s[conn]) - 2.0 * np.maximum(0, np.log(s[conn]) - np.log(1.5))
    full = np.full(len(s), r.min())
    full[conn] = r
    np.testing.assert_allclose(eg.grad, _brute_force_gradient(full), atol=1e-12)
    assert edge_agreement(eg.arch, eg.arch) == 1.0
    assert edge_agreement(Arch.from_index(0), Arch.from_index(0)) == 1.0


def test_exact_gradient_rejects_bad_tables():
    with pytest.raises(SearchError):
        exact_gradient([0, 1], [1.0], mu=0, nu=None)
    with pytest.raises(SearchError):
        exact_gradient([0, 1], [1.0, float("nan")], mu=0, nu=None)


# ----------------------------------------------------------------------------- CLI
def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "harness.search", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_cli_end_to_end(tmp_path):
    out = tmp_path / "run"
    # a tiny exact-check table: scores for every architecture
    table = tmp_path / "ranking.csv"
    ops = np.array([[OPS.index(o) for o in a.ops] for a in all_archs()])
    score = (ops == OPS.index("nor_conv_3x3")).sum(1).astype(float)
    lines = ["index,nasi"] + [f"{i},{v}" for i, v in enumerate(score)]
    table.write_text("\n".join(lines) + "\n")
    r = _cli("--method", "nasi", "--dataset", "cifar10", "--seeds", "2", "--steps", "3",
             "--width", "4", "--cells", "1", "--batch-size", "8", "--data", "gaussian",
             "--out", str(out), "--random-baseline", "--exact-from", str(table),
             "--exact-steps", "1,3", "--device", "cpu")
    assert r.returncode == 0, r.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert {"runs", "config", "environment", "stats"} <= set(summary)
    assert len(summary["runs"]) == 2
    for run in summary["runs"]:
        assert {"seed", "arch", "index", "seconds", "cifar10_test", "cifar100_test",
                "imagenet16_test"} <= set(run)
        assert Arch.parse(run["arch"]).index == run["index"]
        assert "random_baseline" in run
    for col in ("cifar10_test", "cifar100_test", "imagenet16_test"):
        assert {"mean", "std", "n"} <= set(summary["stats"][col])
    assert summary["environment"]["torch"] == torch.__version__
    assert "exact" in summary and summary["exact"]["agreement"]
    report = (out / "report.md").read_text()
    assert "NASI (4T)" in report and "94.37" in report  # optimum computed from the table
    # the rerun reuses both searches (stored traces) and gives the same exact check
    r2 = _cli("--method", "nasi", "--dataset", "cifar10", "--seeds", "2", "--steps", "3",
              "--width", "4", "--cells", "1", "--batch-size", "8", "--data", "gaussian",
              "--out", str(out), "--random-baseline", "--exact-from", str(table),
              "--exact-steps", "1,3", "--device", "cpu")
    assert r2.returncode == 0, r2.stderr
    assert r2.stdout.count("stored, not rerun") == 2
    assert json.loads((out / "summary.json").read_text())["exact"] == summary["exact"]


def _tiny_cli_runs(out, *extra):
    r = _cli("--method", "nasi", "--transfer", "--seeds", "2", "--steps", "3", "--width", "4",
             "--cells", "1", "--batch-size", "8", "--data", "gaussian", "--out", str(out),
             "--device", "cpu", "--quiet", *extra)
    assert r.returncode == 0, r.stderr
    summary = json.loads((out / "summary.json").read_text())
    return [{k: v for k, v in run.items() if k != "seconds"}
            for g in summary["groups"] for run in g["runs"]], summary


def test_parallel_searches_equal_sequential_ones(tmp_path):
    seq, _ = _tiny_cli_runs(tmp_path / "seq")
    par, summary = _tiny_cli_runs(tmp_path / "par", "--workers", "2")
    assert len(seq) == 6 and par == seq  # same archs, scores, nu, in the same order
    assert summary["config"]["workers"] == 2
    files = sorted(p.name for p in (tmp_path / "par" / "runs").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "seq" / "runs").iterdir())


def test_ray_searches_equal_sequential_ones(tmp_path):
    pytest.importorskip("ray")
    seq, _ = _tiny_cli_runs(tmp_path / "seq")
    ray_runs, summary = _tiny_cli_runs(tmp_path / "ray", "--executor", "ray")
    assert ray_runs == seq and summary["config"]["executor"] == "ray"


@pytest.mark.parametrize("args", [
    ["--workers", "0"],
    ["--address", "127.0.0.1:1"],
    ["--steps", "0"],
    ["--dataset", "mnist"],
    ["--nu-mode", "sometimes"],
    ["--tau", "-1"],
    ["--seeds", "0"],
    ["--exact-from", "/nonexistent/ranking.csv"],
    ["--data", "real", "--dataset", "cifar100"],
    ["--device", "tpu9"],
    ["--redraw-every", "-1"],
])
def test_cli_bad_input_exit_2_one_line(args, tmp_path, capsys):
    from harness.cli import run
    from harness.cli.search import main

    argv = ["--method", "nasi", *args, "--steps" if "--steps" not in args else "--seeds", "1",
            "--width", "4", "--cells", "1", "--out", str(tmp_path / "o"), "--quiet"]
    try:
        code = run(main, argv)
    except SystemExit as exc:  # argparse errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, (args, err)
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o" / "summary.json").exists()


def test_edge_agreement_counts_edges():
    a = Arch(("none",) * 6)
    b = Arch(("none",) * 5 + ("skip_connect",))
    assert edge_agreement(a, b) == pytest.approx(5 / 6)
    assert edge_agreement([0, 1, 2, 3, 4, 0], b) == pytest.approx(1 / 6)


# ----------------------------------------------------------------------------- reinforce
def test_reinforce_scores_equal_double_backprop_scores():
    a = run_search(tiny(steps=3), "cpu")
    b = run_search(tiny(steps=3, estimator="reinforce"), "cpu")
    np.testing.assert_array_equal(a.trace["index"], b.trace["index"])
    np.testing.assert_allclose(a.trace["score"], b.trace["score"], rtol=1e-5)
    assert not b.trace["ds_dh"].any()


def test_reinforce_converges_to_the_exact_gradient_argmax():
    """With scores from a table, the score-function estimate of Delta points to the exact
    expected-reward gradient's argmax (an unbiased estimator of it)."""
    from nasi.search import sample_gumbel

    rng = np.random.default_rng(3)
    v = rng.normal(size=(6, 5))
    v[np.arange(6), rng.integers(0, 5, 6)] += 1.5  # a clear winner per edge
    archs = all_archs()
    code = {a.code: i for i, a in enumerate(archs)}
    ops = np.array([[OPS.index(o) for o in a.ops] for a in archs])
    table = np.exp(v[np.arange(6), ops].sum(1) / 3)  # positive scores
    gen = torch.Generator().manual_seed(0)
    T = 3000
    idx = np.array([sample_gumbel(gen).argmax(-1).numpy() for _ in range(T)])
    s = np.array([table[code["".join(map(str, i))]] for i in idx])
    trace = {"score": s, "connected": np.ones(T, bool), "index": idx,
             "gumbel": np.zeros((T, 6, 5)), "ds_dh": np.zeros((T, 6, 5))}
    agg = aggregate(trace, mu=0.0, nu=None, nu_mode="fix", tau=1.0, scale="log",
                    estimator="reinforce")
    eg = exact_gradient(range(len(table)), table, mu=0.0, nu=None, scale="log",
                        zero_disconnected=False)
    assert list(agg.delta.argmax(-1)) == index_of(eg.arch) == list(v.argmax(1))


def test_rerun_reuses_finished_searches_and_resumes_an_interrupted_run(tmp_path, monkeypatch):
    from harness.cli import run
    from harness.cli.search import main
    from harness.searching import jobs as search_jobs

    calls = []
    real = search_jobs.run_job
    monkeypatch.setattr(search_jobs, "run_job",
                        lambda job, *a: calls.append(job.cfg.seed) or real(job, *a))
    out = tmp_path / "run"
    argv = ["--method", "nasi", "--seeds", "3", "--steps", "3", "--width", "4", "--cells", "1",
            "--batch-size", "8",
            "--data", "gaussian", "--device", "cpu", "--quiet", "--out", str(out),
            "--random-baseline"]

    def runs():
        return json.loads((out / "summary.json").read_text())["runs"]

    assert run(main, argv) == 0 and calls == [0, 1, 2]
    first = runs()
    # an "interrupted" run: seed 1 never finished (its JSON missing), seed 2's trace is torn
    (out / "runs" / "search-seed1.json").unlink()
    (out / "runs" / "search-seed2.trace.npz").write_bytes(b"PK\x03")
    calls.clear()
    assert run(main, argv) == 0 and calls == [1, 2]
    again = runs()
    timed = ("seconds", "random_baseline")  # wall-time dependent by design

    def strip(rs):
        return [{k: v for k, v in r.items() if k not in timed} for r in rs]
    assert strip(again) == strip(first) and again[0] == first[0]  # seed 0 reused as stored
    # a different config is searched again, --no-resume searches everything
    calls.clear()
    assert run(main, [*argv, "--steps", "4"]) == 0 and calls == [0, 1, 2]
    calls.clear()
    assert run(main, [*argv, "--steps", "4", "--no-resume"]) == 0 and calls == [0, 1, 2]
    calls.clear()
    assert run(main, [*argv, "--steps", "4"]) == 0 and calls == []
