"""NASI's estimators against brute-force references computed independently (torch.func /
explicit loops over samples and logits) on small networks, in float64."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call, jacrev

from nasi.network import BIAS, DROP, edge_plan
from nasi.scores import ScoreError, get_score, parse_score_list
from nasi.scoring import ScoreConfig, arch_seed, build_scoring_model, score_architecture
from nasi.space import Arch

ARCHS = [
    Arch.from_index(6111),  # convs everywhere
    Arch.parse("|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|"),
    # node 1 is fed only by 'none': its conv edges become BIAS, its pool edge is dropped
    Arch.parse("|none~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
               "nor_conv_3x3~2|"),
    # node 2 does not reach the output: edges into it are dropped
    Arch.parse("|nor_conv_1x1~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|avg_pool_3x3~0|"
               "nor_conv_3x3~1|none~2|"),
]
B, K = 5, 10


@pytest.fixture(autouse=True)
def float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def small_cfg(**kw) -> ScoreConfig:
    return ScoreConfig(**{"C": 4, "N": 1, "batch_size": B, "data": "gaussian", **kw})


def batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, 3, 32, 32, generator=g), torch.randint(0, K, (B,), generator=g)


def model_for(arch, cfg, prune=False):
    return build_scoring_model(arch, cfg, prune=prune)


def functional(model):
    """(params, buffers, f) with f(params, x) = logits; buffers are copied per call so train-
    mode BN's running-stat update never touches captured tensors."""
    params = {k: v.detach().clone() for k, v in model.named_parameters()}
    buffers = {k: v.detach().clone() for k, v in model.named_buffers()}

    def f(p, x):
        return functional_call(model, (p, {k: v.clone() for k, v in buffers.items()}), (x,))

    return params, f


def sq(tree) -> float:
    return float(sum(v.pow(2).sum() for v in tree.values()))


def ce_rows(logits, y):
    return F.cross_entropy(logits, y, reduction="none")


@pytest.mark.parametrize("bn", ["train", "eval"])
@pytest.mark.parametrize("arch", ARCHS, ids=lambda a: a.code)
def test_nasi_equals_functional_gradient(arch, bn):
    cfg = small_cfg(bn=bn)
    x, y = batch()
    params, f = functional(model_for(arch, cfg))
    grads = torch.func.grad(lambda p: ce_rows(f(p, x), y).mean())(params)
    assert score_architecture(arch, ["nasi"], cfg, x, y)["nasi"] == pytest.approx(sq(grads),
                                                                                    rel=1e-10)


@pytest.mark.parametrize("bn", ["train", "eval"])
@pytest.mark.parametrize("arch", ARCHS[:2], ids=lambda a: a.code)
def test_persample_and_exact_equal_jacobian_references(arch, bn):
    cfg = small_cfg(bn=bn)
    x, y = batch(1)
    params, f = functional(model_for(arch, cfg))
    # Rows of the batched forward: the per-sample loss vector and the logits matrix.
    j_loss = jacrev(lambda p: ce_rows(f(p, x), y))(params)  # each leaf: (B, *shape)
    j_out = jacrev(lambda p: f(p, x))(params)  # each leaf: (B, K, *shape)
    got = score_architecture(arch, ["ntk_persample", "ntk_exact"], cfg, x, y)
    assert got["ntk_persample"] == pytest.approx(sq(j_loss), rel=1e-10)
    assert got["ntk_exact"] == pytest.approx(sq(j_out), rel=1e-10)


def test_eval_mode_per_sample_gradients_are_independent_forwards():
    """In eval mode a sample's gradient is that of a batch of one: explicit loop reference."""
    arch, cfg = ARCHS[0], small_cfg(bn="eval")
    x, y = batch(2)
    model = model_for(arch, cfg)
    per_sample = []
    for i in range(B):
        model.zero_grad()
        F.cross_entropy(model(x[i:i + 1]), y[i:i + 1]).backward()
        per_sample.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    g = torch.stack(per_sample)
    got = score_architecture(arch, ["nasi", "ntk_persample"], cfg, x, y)
    assert got["nasi"] == pytest.approx(float(g.mean(0).pow(2).sum()), rel=1e-10)
    assert got["ntk_persample"] == pytest.approx(float(g.pow(2).sum()), rel=1e-10)


@pytest.mark.parametrize("bn", ["train", "eval"])
def test_chain_of_bounds(bn):
    """b * Eq.12 <= Eq.11 (Jensen) <= gamma^2 * Eq.9 with gamma = max_x ||grad_f L_x||."""
    cfg = small_cfg(bn=bn)
    for arch in ARCHS:
        x, y = batch(3)
        got = score_architecture(arch, ["nasi", "ntk_persample", "ntk_exact"], cfg, x, y)
        logits = model_for(arch, cfg)(x).detach()
        gamma = float((logits.softmax(1) - F.one_hot(y, K)).norm(dim=1).max())
        assert B * got["nasi"] <= got["ntk_persample"] * (1 + 1e-12)
        assert got["ntk_persample"] <= gamma**2 * got["ntk_exact"] * (1 + 1e-12)


def test_mse_loss_is_mean_of_per_sample_squared_error():
    arch, cfg = ARCHS[0], small_cfg(loss="mse")
    x, y = batch(4)
    params, f = functional(model_for(arch, cfg))
    target = F.one_hot(y, K).double()
    grads = torch.func.grad(lambda p: (f(p, x) - target).pow(2).sum(1).mean())(params)
    assert score_architecture(arch, ["nasi"], cfg, x, y)["nasi"] == pytest.approx(sq(grads),
                                                                                    rel=1e-10)


@pytest.mark.parametrize("arch", ARCHS, ids=lambda a: a.code)
def test_fast_path_computes_the_benchmark_networks_score(arch):
    """Pruned cells + channels_last give the score of the benchmark's full module (float64)."""
    cfg = small_cfg()
    x, y = batch(5)
    ref = score_architecture(arch, ["nasi"], cfg, x, y, prune=False)["nasi"]
    fast = score_architecture(arch, ["nasi"], cfg, x.contiguous(memory_format=torch.channels_last),
                              y, prune=True, channels_last=True)["nasi"]
    assert fast == pytest.approx(ref, rel=1e-10)


def test_the_test_archs_exercise_every_pruning_rule():
    plans = [edge_plan(a, prune=True) for a in ARCHS]
    assert any(BIAS in p for p in plans)
    # a real op dropped (dead edge), not only 'none' edges
    assert any(m == DROP and a.ops[e] != "none"
               for a, p in zip(ARCHS, plans) for e, m in enumerate(p))


def test_same_seed_same_score_other_seed_differs():
    x, y = batch(6)
    a = ARCHS[0]
    s0 = score_architecture(a, ["nasi"], small_cfg(seed=0), x, y)["nasi"]
    assert score_architecture(a, ["nasi"], small_cfg(seed=0), x, y)["nasi"] == s0
    assert score_architecture(a, ["nasi"], small_cfg(seed=1), x, y)["nasi"] != s0


def test_isomorphic_architectures_share_seed_and_score():
    # index 0 and its mirror image (the ops of nodes 1 and 2 swapped): the same function
    a = Arch.from_index(0)
    b = Arch.parse("|nor_conv_1x1~0|+|avg_pool_3x3~0|skip_connect~1|+|avg_pool_3x3~0|"
                   "skip_connect~1|skip_connect~2|")
    assert a != b and a.iso_key == b.iso_key and arch_seed(0, a) == arch_seed(0, b)


def test_disconnected_architectures_get_the_documented_value_without_a_network(monkeypatch):
    arch = Arch.parse("|none~0|+|nor_conv_3x3~0|none~1|+|none~0|nor_conv_3x3~1|none~2|")
    assert not arch.is_connected
    monkeypatch.setattr("nasi.scoring.build_scoring_model",
                        lambda *a, **k: pytest.fail("no network may be built"))
    x, y = batch()
    got = score_architecture(arch, ["nasi", "ntk_exact"], small_cfg(), x, y)
    assert got == {"nasi": 0.0, "ntk_exact": 0.0}


def test_registry_errors_and_metadata():
    with pytest.raises(ScoreError, match="unknown score 'nope'"):
        get_score("nope")
    assert parse_score_list("nasi, ntk_exact,nasi") == ["nasi", "ntk_exact"]
    with pytest.raises(ScoreError):
        parse_score_list(" , ")
    s = get_score("nasi")
    assert s.higher_is_better and "Eq. 12" in s.description and not math.isnan(
        s.disconnected_value)
    with pytest.raises(ScoreError, match="bn mode"):
        ScoreConfig(bn="frozen")
