"""Precision options (nasi.precision): bf16 autocast of the forward, fp32 cache keys unchanged,
bf16 results kept apart, recorded in summaries; harness.perf's --agreement and --peer modes."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

from harness.cli import run
from harness.cli.perf import main as perf_main
from harness.scoring.agreement import measure_agreement
from harness.scoring.cache import ScoreCache
from harness.scoring.engine import score_archs
from harness.scoring.local_pool import cpu_threads
from harness.scoring.peer import measure_peer
from harness.summary import RunSummary
from nasi import precision as precision_mod
from nasi.precision import PrecisionError, check_precision
from nasi.scoring import ScoreConfig, build_scoring_model, score_architecture
from nasi.space import Arch, all_archs, sample_indices

ROOT = Path(__file__).resolve().parent.parent
CPU = torch.device("cpu")
needs_cpu_bf16 = pytest.mark.skipif(not precision_mod.cpu_bf16_flags(),
                                    reason="this CPU has no bfloat16 instructions")


def batch(b=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, 3, 32, 32, generator=g), torch.randint(0, 10, (b,), generator=g)


def test_fp32_cache_key_is_the_key_of_earlier_versions():
    cfg = ScoreConfig(batch_size=32, seed=3)
    # the key as versions without precision options computed it: these fields, this hash
    before = {"dataset": "cifar10", "batch_size": 32, "labels": "true", "data": "real",
              "loss": "ce", "bn": "train", "init": "pytorch", "seed": 3, "C": 16, "N": 5,
              "batch": "abc"}
    blob = json.dumps(before, sort_keys=True).encode()
    assert cfg.key("abc") == hashlib.sha256(blob).hexdigest()[:16]
    keys = {cfg.key("abc"), ScoreConfig(batch_size=32, seed=3, precision="bf16").key("abc"),
            ScoreConfig(batch_size=32, seed=3, tf32=True).key("abc")}
    assert len(keys) == 3


def test_bf16_and_fp32_results_never_mix_in_one_cache(tmp_path):
    x, y = batch(4)
    archs = [Arch.from_index(i) for i in (1, 2, 3)]
    cache = ScoreCache(tmp_path / "c.sqlite")
    runs = {}
    for p in ("fp32", "bf16"):
        cfg = ScoreConfig(batch_size=4, data="gaussian", C=4, N=1, precision=p)
        runs[p] = score_archs(archs, ["nasi"], cfg, x, y, "fp", cache, CPU, progress=False)
        assert cache.lookup(cfg.key("fp"), "nasi")  # stored under its own key
        expected = [score_architecture(a, ["nasi"], cfg, x, y, channels_last=True)["nasi"]
                    for a in archs]  # as the engine runs them on the CPU
        assert runs[p]["nasi"].tolist() == pytest.approx(expected, rel=1e-5)
    assert not np.allclose(runs["fp32"]["nasi"], runs["bf16"]["nasi"], rtol=1e-6, atol=0)


def test_bf16_forward_runs_convolutions_in_bf16_and_hands_on_float32():
    arch = Arch.from_index(6111)
    model = build_scoring_model(arch, ScoreConfig(C=4, N=1, precision="bf16"))
    conv_dtypes = []
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.register_forward_hook(lambda mod, inp, out: conv_dtypes.append(out.dtype))
    x, y = batch(4)
    logits = model(x)
    assert logits.dtype == torch.float32 and set(conv_dtypes) == {torch.bfloat16}
    torch.nn.functional.cross_entropy(logits, y).backward()
    assert {p.grad.dtype for p in model.parameters() if p.grad is not None} == {torch.float32}
    fp32 = build_scoring_model(arch, ScoreConfig(C=4, N=1))
    assert fp32(x).dtype == torch.float32 and fp32.autocast_dtype is None


def test_devices_that_cannot_honour_an_option_are_refused(monkeypatch):
    with pytest.raises(PrecisionError, match="--tf32 needs a CUDA device"):
        check_precision("fp32", True, "cpu")
    monkeypatch.setattr(precision_mod, "cpu_bf16_flags", lambda: ())
    with pytest.raises(PrecisionError, match="bfloat16 instructions"):
        check_precision("bf16", False, "cpu")
    monkeypatch.setattr(precision_mod, "cpu_bf16_flags", lambda: ("amx_bf16",))
    check_precision("bf16", False, "cpu")
    with pytest.raises(PrecisionError, match="precision must be one of"):
        check_precision("fp16", False, "cpu")
    with pytest.raises(Exception, match="precision must be one of"):
        ScoreConfig(precision="fp16")


def test_summaries_before_format_2_read_as_fp32_and_bf16_round_trips():
    old = {"kind": "nasi-harness.rank", "format_version": 1,
           "config": {"dataset": "cifar10", "batch_size": 64}, "scores": {"nasi": {}}}
    assert RunSummary.from_json(old).config.precision == "fp32"
    assert RunSummary.from_json({**old, "format_version": 0}).config.precision == "fp32"
    new = {**old, "format_version": 2,
           "config": {"dataset": "cifar10", "precision": "bf16", "tf32": False}}
    summary = RunSummary.from_json(new)
    assert summary.config.precision == "bf16" and summary.config.tf32 is False
    again = RunSummary.from_json(json.loads(summary.dumps()))
    assert again.config.precision == "bf16" and again.format_version == 2
    unrecorded = {**old, "format_version": 2}  # a current summary that omits it: not recorded
    assert RunSummary.from_json(unrecorded).config.precision is None


@needs_cpu_bf16
def test_bf16_ranks_20_benchmark_networks_as_fp32_does():
    archs = [a for a in (all_archs()[i] for i in sample_indices(24, 7)) if a.is_connected][:20]
    x, y = batch(16)
    with cpu_threads(1):  # as the engine's workers score
        scores = {p: [score_architecture(a, ["nasi"], ScoreConfig(batch_size=16, precision=p),
                                         x, y, channels_last=True)["nasi"] for a in archs]
                  for p in ("fp32", "bf16")}
    assert len(archs) == 20
    assert stats.spearmanr(scores["fp32"], scores["bf16"]).statistic >= 0.95


def test_agreement_compares_the_same_sample_under_both_precisions():
    result = measure_agreement(n=6, seed=2022, batch_size=8, device=CPU, workers=1,
                               cache=None, n_boot=50)
    archs = [all_archs()[i] for i in sample_indices(6, 2022)]
    assert result["n"] == 6
    assert result["bf16_vs_fp32"]["connected"]["n"] == sum(a.is_connected for a in archs)
    assert result["bf16_vs_fp32"]["connected"]["spearman_rho"] >= 0.9
    rows = result["score_vs_accuracy"]
    assert {(r["precision"], r["subset"]) for r in rows} == {
        (p, s) for p in ("fp32", "bf16") for s in ("all", "connected")}
    for r in rows:
        lo, hi = r["kendall_tau_ci"]
        assert lo <= r["kendall_tau"] <= hi and r["target"] == "cifar10_test"
    assert result["engine"]["fp32"]["classes_computed"] == result["engine"]["bf16"][
        "classes_computed"] > 0


def _fake_peer(root: Path) -> None:
    """A stand-in with the peer's two entry points: model = one linear layer, grad_norm =
    the length of the arch string (so the harness must hand each arch string through),
    50 ms of sleep per architecture (so its timing is known)."""
    (root / "foresight" / "models").mkdir(parents=True)
    (root / "foresight" / "pruners").mkdir(parents=True)
    for pkg in ("foresight", "foresight/models", "foresight/pruners"):
        (root / pkg / "__init__.py").write_text("")
    (root / "foresight/models/nasbench2.py").write_text(
        "import torch\n"
        "def get_model_from_arch_str(arch_str, num_classes):\n"
        "    net = torch.nn.Linear(1, num_classes)\n"
        "    net.arch_str = arch_str\n"
        "    return net\n")
    (root / "foresight/pruners/predictive.py").write_text(
        "import time\n"
        "def find_measures(net, loader, info, device, measure_names=None):\n"
        "    time.sleep(0.05)\n"
        "    assert measure_names == ['grad_norm'] and info == ('random', 1, 10)\n"
        "    x, y = next(iter(loader))\n"
        "    return {'grad_norm': float(len(net.arch_str))}\n")


def test_peer_mode_runs_the_peer_given_and_ours_on_one_sample(tmp_path):
    _fake_peer(tmp_path / "peer")
    result = measure_peer(tmp_path / "peer", n=3, batch_size=4, seed=2022, device=CPU,
                          threads=1)
    archs = [all_archs()[i] for i in sample_indices(3, 2022)]
    assert [r["index"] for r in result["per_arch"]] == [a.index for a in archs]
    assert [r["peer_grad_norm"] for r in result["per_arch"]] == [len(a.string) for a in archs]
    assert result["peer_torch_threads"] == 1 and result["ours_executor"]["workers"] == 1
    assert all(50 <= r["peer_ms"] < 1000 for r in result["per_arch"])
    assert result["peer"]["ms_per_arch"] == pytest.approx(
        np.mean([r["peer_ms"] for r in result["per_arch"]]), rel=0.05)
    assert result["ratio_peer_over_ours"] == pytest.approx(
        result["peer"]["seconds"] / result["ours"]["seconds"], rel=1e-2)


def test_perf_bad_peer_path_gives_one_line_and_exit_2():
    proc = subprocess.run([sys.executable, "-m", "harness.perf", "--peer",
                           "/nonexistent/zero-cost-nas", "--n", "5"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "not a zero-cost-nas checkout" in lines[0], proc.stderr


@pytest.mark.parametrize("args, needle", [
    (["--agreement", "--precision", "bf16"], "apply to the plain benchmark"),
    (["--device", "cpu", "--tf32"], "--tf32 needs a CUDA device"),
    (["--n", "0"], "--n must be in 1..15,625"),
    (["--peer", "/x", "--workers", "2"], "use --threads"),
])
def test_perf_bad_arguments_are_refused_before_any_work(args, needle, capsys):
    assert run(perf_main, args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]


def test_every_score_runs_under_bf16_near_its_fp32_value():
    from nasi.scores import available_scores

    names = sorted(available_scores())
    x, y = batch(4)
    arch = Arch.from_index(6111)
    with cpu_threads(1):
        values = {p: score_architecture(arch, names, ScoreConfig(batch_size=4, C=4, N=1,
                                                                 precision=p), x, y)
                  for p in ("fp32", "bf16")}
    for n in names:  # a hook that mixes bfloat16 and float32 tensors fails here
        assert np.isfinite(values["bf16"][n]), n
        assert values["bf16"][n] == pytest.approx(values["fp32"][n], rel=0.25), n


def test_blackbox_searches_score_in_the_precision_asked_and_keep_fp32_identities():
    from nasi.blackbox import BlackBoxConfig

    fields_before = {"method", "objective", "evals", "seconds", "population", "tournament",
                     "dataset", "batch_size", "labels", "data", "C", "N", "seed"}
    assert set(BlackBoxConfig().as_dict()) == fields_before  # stored searches still resume
    bf16 = BlackBoxConfig(precision="bf16")
    assert bf16.as_dict()["precision"] == "bf16"
    assert bf16.replace(seed=3).score_config().precision == "bf16"
    assert BlackBoxConfig().score_config().precision == "fp32"


def test_search_precision_is_refused_for_nasis_supernet_search(capsys, tmp_path):
    from harness.cli.search import main as search_main

    args = ["--method", "nasi", "--precision", "bf16", "--out", str(tmp_path / "o")]
    assert run(search_main, args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--precision does not apply to --method nasi" in err[0]
