"""A GPU out-of-memory error splits the batch and gives the same score (harness.oom).

The OOM is simulated on CPU: the network's forward raises torch.OutOfMemoryError for batches
larger than a limit. Networks and data are float64, so "the same score" is checked to 1e-10.
Cheap nets (C=4, N=1) on 16x16 inputs keep the per-sample NTK scores fast.
"""

from __future__ import annotations

import pytest
import torch

from harness.cli import run
from harness.errors import UserError
from harness.scoring.engine import score_archs
from harness.scoring.oom import (
    CHECKPOINT_SAFE,
    SPLITTABLE,
    BatchSplitError,
    score_on_chunks,
    score_splitting_on_oom,
)
from nasi.network import NB201Network
from nasi.scores import SCORES, Score
from nasi.scoring import ScoreConfig, build_scoring_model, score_architecture
from nasi.space import Arch

ARCH = Arch.parse("|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|"
                  "nor_conv_3x3~1|nor_conv_1x1~2|")
NAMES = ["nasi", "ntk_persample", "ntk_exact"]


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: tiny nets gain nothing from more, and on a busy machine OpenMP
    threads that wait for each other make them many times slower."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture
def float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


@pytest.fixture
def oom_above(monkeypatch):
    """oom_above(n): the network's forward raises OutOfMemoryError on batches larger than n;
    returns the list of batch sizes that ran."""

    def install(limit: int) -> list[int]:
        ran: list[int] = []
        forward = NB201Network.forward

        def limited(self, x):
            if x.shape[0] > limit:
                raise torch.OutOfMemoryError(f"simulated: batch {x.shape[0]} > {limit}")
            ran.append(x.shape[0])
            return forward(self, x)

        monkeypatch.setattr(NB201Network, "forward", limited)
        return ran

    return install


def batch(b=5, dtype=torch.float64):
    g = torch.Generator().manual_seed(1)
    return (torch.randn(b, 3, 16, 16, generator=g, dtype=dtype),
            torch.randint(0, 10, (b,), generator=g))


def cfg_of(bn="eval", loss="ce", b=5):
    return ScoreConfig(batch_size=b, data="gaussian", bn=bn, loss=loss, C=4, N=1)


@pytest.mark.parametrize("limit,sizes,names", [
    (3, [3, 2], NAMES[:2]),  # 2 chunks of unequal size
    (2, [2, 1, 1, 1], NAMES),  # 2 chunks still too large: 4 chunks
    (1, [1] * 5, NAMES[:2]),  # down to one sample per chunk
])
def test_split_after_oom_equals_full_batch_score(float64, oom_above, limit, sizes, names):
    cfg = cfg_of()
    x, y = batch()
    full = score_architecture(ARCH, names, cfg, x, y, prune=True)
    ran = oom_above(limit)
    split = score_splitting_on_oom(score_architecture, ARCH, names, cfg, x, y,
                                   prune=True)
    assert set(ran) == set(sizes) and max(ran) <= limit  # the batch was cut as expected
    for n in names:
        assert split[n] == pytest.approx(full[n], rel=1e-10), n
    # the combination matters: squaring each chunk's gradient would not give nasi
    parts = [score_architecture(ARCH, ["nasi"], cfg, xc, yc)["nasi"]
             for xc, yc in zip(x.tensor_split(len(sizes)), y.tensor_split(len(sizes)))]
    naive = sum(p * (len(c) / 5) ** 2 for p, c in zip(parts, x.tensor_split(len(sizes))))
    assert naive != pytest.approx(full["nasi"], rel=1e-3)


def test_nasi_split_with_mse_loss(float64):
    cfg = cfg_of(loss="mse", b=4)
    x, y = batch(4)
    full = score_architecture(ARCH, ["nasi"], cfg, x, y)["nasi"]
    assert score_on_chunks(ARCH, ["nasi"], cfg, x, y, 2)["nasi"] == pytest.approx(full,
                                                                                  rel=1e-10)


def test_engine_scores_through_the_split(float64, oom_above, tmp_path):
    cfg = cfg_of()
    x, y = batch()
    full = score_archs([ARCH], ["nasi"], cfg, x, y, "fp", None, torch.device("cpu"),
                       progress=False)
    oom_above(4)
    split = score_archs([ARCH], ["nasi"], cfg, x, y, "fp", None, torch.device("cpu"),
                        progress=False)
    assert split["nasi"].iloc[0] == pytest.approx(full["nasi"].iloc[0], rel=1e-10)


def test_train_mode_batchnorm_is_not_split(oom_above):
    x, y = batch(dtype=torch.float32)
    oom_above(3)
    with pytest.raises(BatchSplitError) as err:
        score_splitting_on_oom(score_architecture, ARCH, ["nasi"], cfg_of(bn="train"), x, y)
    msg = str(err.value)
    assert isinstance(err.value, UserError) and "\n" not in msg
    assert "batch statistics couple the samples" in msg
    assert "smaller --batch-size" in msg and "--bn eval" in msg


def test_unsplittable_score_is_not_split(oom_above, monkeypatch):
    monkeypatch.setitem(SCORES, "whole_batch", Score(
        "whole_batch", lambda ctx: float(ctx.model(ctx.x).var()), True, "test score"))
    assert "whole_batch" not in SPLITTABLE
    x, y = batch(dtype=torch.float32)
    oom_above(3)
    with pytest.raises(BatchSplitError, match="whole_batch cannot be computed on batch chunks"):
        score_splitting_on_oom(score_architecture, ARCH, ["nasi", "whole_batch"], cfg_of(),
                               x, y)


def test_oom_at_batch_one_is_raised(oom_above):
    x, y = batch(1, dtype=torch.float32)
    oom_above(0)
    with pytest.raises(torch.OutOfMemoryError, match="batch size 1"):
        score_splitting_on_oom(score_architecture, ARCH, ["nasi"], cfg_of(b=1), x, y)


def test_rank_cli_reports_unsplittable_oom_in_one_line(oom_above, tmp_path, capsys):
    from harness.cli.rank import main

    oom_above(2)
    code = run(main, ["--quiet", "--batch-size", "8", "--width", "4", "--cells", "1",
                      "--indices", str(ARCH.index), "--no-cache", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "batch size 8" in err[0] and "--bn eval" in err[0]


def test_checkpointing_answers_oom_exactly_in_train_mode(float64, monkeypatch):
    """Train-mode BN cannot be split; activation checkpointing keeps the batch whole."""
    cfg = cfg_of(bn="train")
    x, y = batch()
    full = score_architecture(ARCH, ["nasi", "grad_norm", "snip"], cfg, x, y)
    forward = NB201Network.forward
    calls = []

    def needs_checkpointing(self, x):
        calls.append(self.checkpoint_cells)
        if not self.checkpoint_cells:
            raise torch.OutOfMemoryError("simulated: activations do not fit")
        return forward(self, x)

    monkeypatch.setattr(NB201Network, "forward", needs_checkpointing)
    got = score_splitting_on_oom(score_architecture, ARCH, ["nasi", "grad_norm", "snip"], cfg,
                                 x, y)
    assert calls == [False, True]
    for n, v in full.items():
        assert got[n] == pytest.approx(v, rel=1e-12), n


@pytest.mark.parametrize("bn", ["train", "eval"])
def test_checkpointed_scores_equal_plain_scores(float64, bn):
    names = sorted(CHECKPOINT_SAFE - {"ntk_exact"})  # ntk_exact: slow, same code path
    x, y = batch()
    plain = score_architecture(ARCH, names, cfg_of(bn=bn), x, y)
    ckpt = score_architecture(ARCH, names, cfg_of(bn=bn), x, y, checkpoint=True)
    for n in names:
        assert ckpt[n] == pytest.approx(plain[n], rel=1e-12, nan_ok=True), n


def test_checkpointing_keeps_a_fraction_of_the_activations():
    x, y = batch(8, dtype=torch.float32)
    cfg = ScoreConfig(batch_size=8, data="gaussian", C=8, N=3)

    def saved_bytes(checkpoint: bool) -> int:
        model = build_scoring_model(ARCH, cfg, checkpoint=checkpoint)
        total = 0

        def pack(t):
            nonlocal total
            total += t.numel() * t.element_size()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        return total

    assert saved_bytes(True) < 0.3 * saved_bytes(False)
