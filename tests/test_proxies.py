"""Baseline proxies against independent brute-force references, on small networks in float64.

The references run the benchmark's full module (``prune=False``: every edge evaluated) and
compute each definition another way than nasi/scores/proxies*.py does (explicit
``.backward()`` per layer, weight masks, torch.func Hessian-vector products, explicit Jacobian
and NTK matrices, loops over pairs of binary codes), so they also check that the pruned fast
path scores the benchmark's network.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, jacrev, jvp

from nasi.cost import closed_form, count_flops, count_params
from nasi.datasets import get_dataset
from nasi.network import NB201Network, ReLUConvBN
from nasi.scores import ScoringContext, get_score
from nasi.scores.proxies import jacob_cov_from_jacobian, synflow_value
from nasi.scores.proxies_kernel import NTK_COND_NAN, condition_number
from nasi.scoring import ScoreConfig, build_scoring_model, score_architecture
from nasi.space import Arch

ARCHS = [
    Arch.from_index(6111),  # convs everywhere
    # node 1 is fed only by 'none': its conv edges become BIAS in the pruned cell
    Arch.parse("|none~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
               "nor_conv_3x3~2|"),
    # node 2 does not reach the output: edges into it are dropped in the pruned cell
    Arch.parse("|nor_conv_1x1~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|avg_pool_3x3~0|"
               "nor_conv_3x3~1|none~2|"),
]
# no input-to-output path: nodes 1 and 2 compute, but every edge into node 3 is 'none'
DISCONNECTED = Arch.parse("|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+|none~0|none~1|none~2|")
B, K = 5, 10
PROXIES = ["params", "flops", "grad_norm", "snip", "grasp", "fisher", "synflow", "jacob_cov",
           "naswot", "ntk_cond", "ntk_trace_hnas"]
NETWORK_PROXIES = PROXIES[2:]


@pytest.fixture(autouse=True)
def float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def small_cfg(**kw) -> ScoreConfig:
    return ScoreConfig(**{"C": 4, "N": 1, "batch_size": B, "data": "gaussian", **kw})


def batch(seed=0, side=8):
    """The networks are fully convolutional with global pooling: 8x8 images keep tests fast."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, 3, side, side, generator=g), torch.randint(0, K, (B,), generator=g)


def full_model(arch, cfg):
    """The benchmark's full module (no pruning), with the scored network's weights."""
    return build_scoring_model(arch, cfg, prune=False)


def conv_linear(model):
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def loss_of(cfg, logits, y):
    if cfg.loss == "ce":
        return F.cross_entropy(logits, y)
    return (logits - F.one_hot(y, K).to(logits.dtype)).pow(2).sum(1).mean()


def score(arch, name, cfg, x, y, **kw):
    return score_architecture(arch, [name], cfg, x, y, **kw)[name]


def functional(model):
    params = {k: v.detach().clone() for k, v in model.named_parameters()}
    buffers = {k: v.detach().clone() for k, v in model.named_buffers()}

    def f(p, x):
        return functional_call(model, (p, {k: v.clone() for k, v in buffers.items()}), (x,))

    return params, f


def weight_names(model):
    return [f"{n}.weight" for n, m in model.named_modules() if isinstance(m, (nn.Conv2d,
                                                                               nn.Linear))]


# ---------------------------------------------------------------------------------------------
# registry


def test_registry_flags_and_disconnected_values():
    expected_lower = {"ntk_cond"}
    for name in PROXIES:
        s = get_score(name)
        assert s.higher_is_better == (name not in expected_lower), name
        assert s.needs_network == (name not in ("params", "flops")), name
        assert len(s.description) > 30
    for name in ("grad_norm", "snip", "grasp", "fisher", "synflow", "ntk_trace_hnas"):
        assert get_score(name).disconnected_value == 0.0
    assert math.isnan(get_score("jacob_cov").disconnected_value)
    assert math.isnan(get_score("naswot").disconnected_value)
    assert get_score("ntk_cond").disconnected_value == NTK_COND_NAN == 1e5


# ---------------------------------------------------------------------------------------------
# params, flops


@pytest.mark.parametrize("C,N,dataset", [(4, 1, "cifar10"), (6, 2, "cifar100"),
                                         (4, 2, "ImageNet16-120"), (16, 5, "cifar100")])
def test_params_flops_equal_counts_on_real_modules(dataset, C, N):
    spec = get_dataset(dataset)
    archs = [ARCHS[0], DISCONNECTED] if C != 16 else [ARCHS[2]]
    x, y = torch.zeros(1, *spec.input_shape), torch.zeros(1, dtype=torch.long)
    for arch in archs:
        net = NB201Network(arch, num_classes=spec.num_classes, C=C, N=N)
        got = score_architecture(arch, ["params", "flops"],
                                 ScoreConfig(dataset=dataset, C=C, N=N), x, y)
        assert got["params"] == count_params(net)
        assert got["flops"] == pytest.approx(count_flops(net, spec.input_shape) / 1e6, abs=1e-9)
        if (C, N) == (16, 5):
            p, m = closed_form(arch, dataset)
            assert (got["params"], got["flops"]) == (p, m / 1e6)


def test_params_flops_build_no_network(monkeypatch):
    monkeypatch.setattr("nasi.scoring.build_scoring_model",
                        lambda *a, **k: pytest.fail("no network may be built"))
    x, y = batch()
    got = score_architecture(DISCONNECTED, ["params", "flops"], ScoreConfig(), x, y)
    p, m = closed_form(DISCONNECTED, "cifar10")
    assert got == {"params": p, "flops": m / 1e6}


# ---------------------------------------------------------------------------------------------
# grad_norm, snip, grasp, fisher


@pytest.mark.parametrize("bn,loss", [("train", "ce"), ("eval", "ce"), ("train", "mse")])
@pytest.mark.parametrize("arch", ARCHS, ids=lambda a: a.code)
def test_grad_norm_and_snip_explicit_backward(arch, bn, loss):
    cfg = small_cfg(bn=bn, loss=loss)
    x, y = batch(1)
    model = full_model(arch, cfg)
    model.zero_grad()
    loss_of(cfg, model(x), y).backward()
    layers = conv_linear(model)
    ref_norm = sum(float(torch.linalg.vector_norm(m.weight.grad)) for m in layers)
    # snip: gradient w.r.t. a multiplicative mask of ones on each conv/linear weight
    params, f = functional(model)
    names = weight_names(model)
    masks = {n: torch.ones_like(params[n]) for n in names}

    def masked_loss(m):
        p = dict(params)
        p.update({n: params[n] * m[n] for n in names})
        return loss_of(cfg, f(p, x), y)

    mask_grads = grad(masked_loss)(masks)
    ref_snip = sum(float(g.abs().sum()) for g in mask_grads.values())
    got = score_architecture(arch, ["grad_norm", "snip"], cfg, x, y)
    assert got["grad_norm"] == pytest.approx(ref_norm, rel=1e-10)
    assert got["snip"] == pytest.approx(ref_snip, rel=1e-10)


@pytest.mark.parametrize("bn,loss", [("train", "ce"), ("eval", "mse")])
@pytest.mark.parametrize("arch", ARCHS[:2], ids=lambda a: a.code)
def test_grasp_equals_forward_over_reverse_hvp(arch, bn, loss):
    cfg = small_cfg(bn=bn, loss=loss)
    x, y = batch(2)
    model = full_model(arch, cfg)
    params, f = functional(model)
    names = weight_names(model)
    w = {n: params[n] for n in names}

    def loss_w(wd):
        p = dict(params)
        p.update(wd)
        return loss_of(cfg, f(p, x), y)

    g = grad(loss_w)(w)
    _, hg = jvp(grad(loss_w), (w,), (g,))  # H g, H = Hessian over the conv/linear weights
    ref = -sum(float((w[n] * hg[n]).sum()) for n in names)
    assert score(arch, "grasp", cfg, x, y) == pytest.approx(ref, rel=1e-8)


@pytest.mark.parametrize("bn,loss", [("train", "ce"), ("eval", "ce"), ("train", "mse")])
@pytest.mark.parametrize("arch", ARCHS, ids=lambda a: a.code)
def test_fisher_equals_channel_mask_gradients(arch, bn, loss):
    """sum_hw a * dL/da for channel k of image n = dL/dm[n, k] for a mask m of ones that
    multiplies the layer's output channel-wise."""
    cfg = small_cfg(bn=bn, loss=loss)
    x, y = batch(3)
    model = full_model(arch, cfg)
    layers = conv_linear(model)
    masks = {}

    def make_hook(m):
        def hook(module, inputs, out):
            mask = torch.ones(out.shape[:2], requires_grad=True)
            masks[m] = mask
            return out * mask.view(*mask.shape, *([1] * (out.dim() - 2)))
        return hook

    handles = [m.register_forward_hook(make_hook(m)) for m in layers]
    loss = loss_of(cfg, model(x), y)
    for h in handles:
        h.remove()
    order = list(masks)
    g = torch.autograd.grad(loss, [masks[m] for m in order])
    ref = sum(float(0.5 * gk.pow(2).mean(0).sum()) * m.weight[0].numel()
              for m, gk in zip(order, g))
    assert score(arch, "fisher", cfg, x, y) == pytest.approx(ref, rel=1e-10)


# ---------------------------------------------------------------------------------------------
# synflow


def test_synflow_linear_chain_closed_form():
    """Chain without biases: R = 1^T |W3| |W2| |W1| 1 is linear in each layer's weights, so
    sum over each layer of theta * dR/dtheta = R (Euler) and synflow = 3 R."""
    torch.manual_seed(0)
    chain = nn.Sequential(nn.Linear(3, 4, bias=False), nn.ReLU(), nn.Linear(4, 5, bias=False),
                          nn.ReLU(), nn.Linear(5, 2, bias=False))
    w1, w2, w3 = (chain[i].weight.detach().abs() for i in (0, 2, 4))
    R = float(torch.ones(2) @ w3 @ w2 @ w1 @ torch.ones(3))
    assert synflow_value(chain, (3,)) == pytest.approx(3 * R, rel=1e-12)


def test_synflow_turns_batchnorm_off():
    """Conv - BN - ReLU - conv with a non-trivial BN: with BN the identity the closed form of a
    two-layer chain holds: synflow = 2 R, R = sum of the output on a ones input."""
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, bias=False), nn.BatchNorm2d(3), nn.ReLU(),
                        nn.Conv2d(3, 1, 1, bias=False))
    with torch.no_grad():
        net[1].weight.fill_(-5.0)
        net[1].bias.fill_(3.0)
        net[1].running_mean.fill_(2.0)
    net.eval()
    with torch.no_grad():
        R = float(F.conv2d(F.conv2d(torch.ones(1, 2, 6, 6), net[0].weight.abs(), padding=1),
                           net[3].weight.abs()).sum())
    assert synflow_value(net, (2, 6, 6)) == pytest.approx(2 * R, rel=1e-12)


@pytest.mark.parametrize("arch", ARCHS, ids=lambda a: a.code)
def test_synflow_equals_explicit_reference_and_leaves_model_alone(arch):
    cfg = small_cfg()
    x, y = batch(4)
    ref_model = full_model(arch, cfg)
    for m in list(ref_model.modules()):  # BN -> Identity modules
        for cname, child in list(m.named_children()):
            if isinstance(child, nn.BatchNorm2d):
                setattr(m, cname, nn.Identity())
    with torch.no_grad():
        for p in ref_model.parameters():
            p.abs_()
    ref_model.zero_grad()
    ref_model(torch.ones(1, *x.shape[1:])).sum().backward()
    ref = sum(float((m.weight * m.weight.grad).abs().sum().detach())
              for m in conv_linear(ref_model))
    got = score_architecture(arch, ["nasi", "synflow", "grad_norm"], cfg, x, y)
    assert got["synflow"] == pytest.approx(ref, rel=1e-10)
    # the shared network was not converted: nasi/grad_norm equal their values alone
    assert got["nasi"] == score(arch, "nasi", cfg, x, y)
    assert got["grad_norm"] == score(arch, "grad_norm", cfg, x, y)


def test_synflow_of_the_largest_benchmark_network_needs_and_fits_float64():
    """All-3x3 network at the benchmark's size (C=16, N=5): synflow is beyond float32's range
    (zero-cost-nas computes in float64 for that reason) and finite in float64."""
    arch = Arch.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|"
                      "nor_conv_3x3~1|nor_conv_3x3~2|")
    torch.set_default_dtype(torch.float32)
    x, y = torch.zeros(1, 3, 8, 8), torch.zeros(1, dtype=torch.long)
    s = score(arch, "synflow", ScoreConfig(), x, y)
    assert math.isfinite(s) and s > torch.finfo(torch.float32).max


# ---------------------------------------------------------------------------------------------
# jacob_cov


@pytest.mark.parametrize("bn", ["train", "eval"])
@pytest.mark.parametrize("arch", ARCHS[:2], ids=lambda a: a.code)
def test_jacob_cov_explicit_jacobian_loop(arch, bn):
    cfg = small_cfg(bn=bn)
    x, y = batch(5)
    model = full_model(arch, cfg)
    xr = x.clone().requires_grad_(True)
    out = model(xr)
    J = torch.zeros_like(x)
    for j in range(out.shape[0]):  # d(sum of all outputs)/dx, one output at a time
        for k in range(out.shape[1]):
            J += torch.autograd.grad(out[j, k], xr, retain_graph=True)[0]
    J = J.reshape(B, -1)
    Z = J - J.mean(1, keepdim=True)
    Z = Z / Z.norm(dim=1, keepdim=True)
    v = torch.linalg.eigvalsh(Z @ Z.T)
    ref = float(-(torch.log(v + 1e-5) + 1 / (v + 1e-5)).sum())
    assert score(arch, "jacob_cov", cfg, x, y) == pytest.approx(ref, rel=1e-8)


def test_jacob_cov_of_a_constant_jacobian_is_nan():
    assert math.isnan(jacob_cov_from_jacobian(np.zeros((4, 12))))


# ---------------------------------------------------------------------------------------------
# naswot


@pytest.mark.parametrize("bn", ["train", "eval"])
@pytest.mark.parametrize("arch", ARCHS, ids=lambda a: a.code)
def test_naswot_brute_force_pairs(arch, bn):
    """Codes of every ReLU that gradient reaches (the authors' visited_backwards rule), then
    K[m, n] = number of units where images m and n agree, by a loop over pairs."""
    cfg = small_cfg(bn=bn)
    x, y = batch(6)
    model = full_model(arch, cfg)
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    visited, codes = set(), {}

    def mark(mod, inp, out):  # gradient reaches the ReLU's output
        out.register_hook(lambda g: visited.add(mod))

    hs = [m.register_forward_hook(mark) for m in relus]
    xr = x.clone().requires_grad_(True)
    model(xr).sum().backward()
    for h in hs:
        h.remove()
    assert visited == set(relus)  # every ReLU of NB201's full module is on the graph
    hs = [m.register_forward_pre_hook(
        lambda mod, inp: codes.__setitem__(mod, (inp[0] > 0).reshape(B, -1))) for m in relus]
    with torch.no_grad():
        model(x)
    for h in hs:
        h.remove()
    Kh = torch.zeros(B, B)
    for m in range(B):
        for n in range(B):
            Kh[m, n] = sum(int((c[m] == c[n]).sum()) for c in codes.values())
    ref = float(torch.linalg.slogdet(Kh)[1])
    assert score(arch, "naswot", cfg, x, y) == pytest.approx(ref, rel=1e-12)


def test_naswot_authors_double_count_variant():
    from nasi.scores.proxies_kernel import naswot_kernel

    cfg = small_cfg()
    x, _ = batch(7)
    model = full_model(ARCHS[0], cfg)
    once = naswot_kernel(model, x)
    twice = naswot_kernel(model, x, count_relu_conv_bn_twice=True)
    n_conv_relus = sum(1 for m in model.modules() if isinstance(m, ReLUConvBN))
    assert n_conv_relus > 0 and np.all(twice > once)


# ---------------------------------------------------------------------------------------------
# ntk_cond, ntk_trace_hnas


@pytest.mark.parametrize("bn", ["train", "eval"])
@pytest.mark.parametrize("arch", ARCHS[:2], ids=lambda a: a.code)
def test_ntk_cond_explicit_ntk(arch, bn):
    cfg = small_cfg(bn=bn)
    x, y = batch(8)
    model = full_model(arch, cfg)
    params, f = functional(model)
    names = [n for n in params if "weight" in n]
    rest = {n: v for n, v in params.items() if n not in names}
    jac = jacrev(lambda w: f({**rest, **w}, x).sum(1))({n: params[n] for n in names})
    J = torch.cat([jac[n].reshape(B, -1) for n in names], 1)  # rows of the batched forward
    ev = torch.linalg.eigvalsh(J @ J.T)
    assert score(arch, "ntk_cond", cfg, x, y) == pytest.approx(float(ev[-1] / ev[0]), rel=1e-6)


def test_ntk_cond_nan_rule():
    assert condition_number(torch.zeros(3, 3)) == 1e5
    assert condition_number(torch.diag(torch.tensor([2.0, 8.0]))) == 4.0


@pytest.mark.parametrize("arch", ARCHS, ids=lambda a: a.code)
def test_ntk_trace_hnas_eval_mode_equals_independent_per_image_gradients(arch):
    cfg = small_cfg(bn="eval")
    x, y = batch(9)
    model = full_model(arch, cfg)
    weights = [m.weight for m in conv_linear(model)]
    trace = 0.0
    for i in range(B):  # a batch of one: the image's own gradient
        g = torch.autograd.grad(model(x[i:i + 1])[0, y[i]], weights)
        trace += sum(float(t.pow(2).sum()) for t in g)
    assert score(arch, "ntk_trace_hnas", cfg, x, y) == pytest.approx(math.sqrt(trace / B),
                                                                      rel=1e-10)


def test_ntk_trace_hnas_train_mode_is_the_per_image_share_of_the_batch_gradient():
    """autograd-hacks' grad1_i under batch-statistics BN: the gradient that reaches layer l's
    weight through image i's output of that layer only (other images' outputs detached)."""
    arch, cfg = ARCHS[1], small_cfg(bn="train")
    x, y = batch(10)
    model = full_model(arch, cfg)
    trace = 0.0
    for layer in conv_linear(model):
        for i in range(B):
            keep = torch.zeros(B)
            keep[i] = 1.0

            def only_i(mod, inp, out, keep=keep):
                k = keep.view(B, *([1] * (out.dim() - 1)))
                return out.detach() + k * (out - out.detach())

            h = layer.register_forward_hook(only_i)
            s = model(x).gather(1, y.view(-1, 1)).sum()
            h.remove()
            (g,) = torch.autograd.grad(s, layer.weight, allow_unused=True)
            if g is not None:
                trace += float(g.pow(2).sum())
    assert score(arch, "ntk_trace_hnas", cfg, x, y) == pytest.approx(math.sqrt(trace / B),
                                                                      rel=1e-10)


# ---------------------------------------------------------------------------------------------
# disconnected, determinism, shared pass


def test_disconnected_values_are_what_the_benchmark_network_gives():
    """Computed on the disconnected network itself (full module), the zero-valued proxies are
    exactly 0, jacob_cov NaN and ntk_cond TE-NAS' 1e5; the engine returns the same values
    without building a network."""
    arch, cfg = DISCONNECTED, small_cfg()
    assert not arch.is_connected
    x, y = batch(11)
    ctx = ScoringContext(full_model(arch, cfg), x, y, K, cfg.loss,
                         make_model=lambda: full_model(arch, cfg), arch=arch, config=cfg)
    for name in NETWORK_PROXIES:
        if name == "naswot":
            continue  # finite on the full module; we do not score a network without input
        value, expected = float(get_score(name).fn(ctx)), get_score(name).disconnected_value
        if name == "fisher":
            # only the classifier's term is left: its output is the bias b for every image,
            # a * dL/da = b * dL/dlogits; we give the proxy's lower bound 0 instead
            logits = ctx.model(x)
            g = torch.autograd.grad(F.cross_entropy(logits, y), logits)[0]
            cls = ctx.model.classifier
            assert torch.equal(logits.detach(), cls.bias.detach().expand_as(logits))
            term = float(0.5 * (logits.detach() * g).pow(2).mean(0).sum()) * cls.in_features
            assert value == pytest.approx(term, rel=1e-10) and expected == 0.0
        elif math.isnan(expected):
            assert math.isnan(value), name
        else:
            assert value == expected, name
    got = score_architecture(arch, NETWORK_PROXIES, cfg, x, y)
    for name in NETWORK_PROXIES:
        expected = get_score(name).disconnected_value
        assert got[name] == expected or (math.isnan(expected) and math.isnan(got[name]))


def test_same_seed_same_value_other_seed_differs():
    x, y = batch(12)
    a = ARCHS[0]
    s0 = score_architecture(a, NETWORK_PROXIES, small_cfg(seed=0), x, y)
    assert score_architecture(a, NETWORK_PROXIES, small_cfg(seed=0), x, y) == s0
    s1 = score_architecture(a, NETWORK_PROXIES, small_cfg(seed=1), x, y)
    assert all(s1[n] != s0[n] for n in NETWORK_PROXIES)


@pytest.mark.parametrize("bn", ["train", "eval"])
def test_one_pass_equals_separate_passes(bn):
    cfg = small_cfg(bn=bn)
    x, y = batch(13)
    for arch in ARCHS[:2]:
        together = score_architecture(arch, ["nasi", *PROXIES], cfg, x, y)
        for name, value in together.items():
            assert score(arch, name, cfg, x, y) == pytest.approx(value, rel=1e-12, abs=0), name


def test_nasi_grad_norm_snip_share_one_forward_and_backward(monkeypatch):
    import nasi.scoring as scoring

    calls = {"forward": 0}
    real = scoring.build_scoring_model

    def counting(*a, **k):
        model = real(*a, **k)
        model.register_forward_hook(lambda *_: calls.__setitem__("forward",
                                                                 calls["forward"] + 1))
        return model

    monkeypatch.setattr(scoring, "build_scoring_model", counting)
    x, y = batch(14)
    score_architecture(ARCHS[0], ["nasi", "grad_norm", "snip"], small_cfg(), x, y)
    assert calls["forward"] == 1
