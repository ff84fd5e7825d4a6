"""The search-quality gate (``harness.regression``) fails on a broken search and passes on
the real one. One mutation per test, applied with monkeypatch; the baseline is the committed
``reports/baseline.json``.

The gate's first stage feeds the search code exact rewards from committed score tables
(milliseconds), so mutations that every search shares are caught there (``--fail-fast`` stops
after it); the sign and zero mutations of the update run the whole gate, so the NASI
replication's own search on real networks is shown to catch them too."""

from __future__ import annotations

import numpy as np
import pytest

import nasi.blackbox
import nasi.search.run
import nasi.search.update
import nasi.table_search
from harness.cli import regression
from harness.searching import gate
from nasi.objective import Archive
from nasi.space import NUM_ARCHS, all_archs

pytestmark = pytest.mark.gate_mutation


def _gate(capsys, *extra) -> tuple[int, str]:
    code = regression.main(list(extra))
    out = capsys.readouterr()
    return code, out.out + out.err


def _failed(text: str) -> set[str]:
    return {line.split()[0] for line in text.splitlines() if line.endswith("REGRESSION")}


def test_gate_passes_unmutated(capsys):
    code, text = _gate(capsys)
    assert code == 0, text
    assert "no regression" in text


def test_constant_objective_fails(capsys, monkeypatch):
    # black-box searches: every architecture equally fit; NASI: a constant score (zero
    # gradient) and a constant reward
    monkeypatch.setattr(Archive, "fitness", lambda self, values: 0.5)
    orig_reward = nasi.search.update.reward
    monkeypatch.setattr(nasi.search.update, "reward",
                        lambda s, mu, nu, scale="linear": np.zeros_like(
                            orig_reward(s, mu, nu, scale)))
    orig_grad = nasi.search.run.score_and_hard_grad
    monkeypatch.setattr(nasi.search.run, "score_and_hard_grad",
                        lambda *a, **k: (1.0, orig_grad(*a, **k)[1] * 0.0, 1.0))
    code, text = _gate(capsys, "--fail-fast")
    assert code == 1
    assert _failed(text) == set(gate.EXACT_METRICS)


def test_negated_objective_fails(capsys, monkeypatch):
    orig_fitness = Archive.fitness
    monkeypatch.setattr(Archive, "fitness", lambda self, values: 1.0 - orig_fitness(self, values))
    orig_reward = nasi.search.update.reward
    monkeypatch.setattr(nasi.search.update, "reward",
                        lambda s, mu, nu, scale="linear": -orig_reward(s, mu, nu, scale))
    orig_grad = nasi.search.run.score_and_hard_grad

    def negated(*a, **k):
        s, ds_dh, loss = orig_grad(*a, **k)
        return s, -ds_dh, loss

    monkeypatch.setattr(nasi.search.run, "score_and_hard_grad", negated)
    code, text = _gate(capsys, "--fail-fast")
    assert code == 1
    assert _failed(text) == set(gate.EXACT_METRICS)


def test_random_architecture_returned_fails(capsys, monkeypatch):
    rng = np.random.default_rng(12345)
    monkeypatch.setattr(Archive, "best", lambda self: (int(rng.integers(NUM_ARCHS)), 0.0))
    def random_arch(alpha):
        return all_archs()[int(rng.integers(NUM_ARCHS))]

    for module in (nasi.search.run, nasi.blackbox, nasi.table_search):
        monkeypatch.setattr(module, "decode", random_arch)
    code, text = _gate(capsys, "--fail-fast")
    assert code == 1
    assert _failed(text) == set(gate.EXACT_METRICS)


def test_update_sign_flipped_fails(capsys, monkeypatch):
    orig = nasi.search.update.running_max_update
    for module in (nasi.search.update, nasi.blackbox):
        monkeypatch.setattr(module, "running_max_update",
                            lambda G, xi=1.0: tuple(-a for a in orig(G, xi)))
    code, text = _gate(capsys)
    assert code == 1
    assert {"exact_nasi_update_cifar10_test", "nasi_search_mean_cifar10_test"} <= _failed(text)


def test_update_zeroed_fails(capsys, monkeypatch):
    orig = nasi.search.update.running_max_update
    for module in (nasi.search.update, nasi.blackbox):
        monkeypatch.setattr(module, "running_max_update",
                            lambda G, xi=1.0: tuple(np.zeros_like(a) for a in orig(G, xi)))
    code, text = _gate(capsys)
    assert code == 1
    assert {"exact_nasi_update_cifar10_test", "nasi_search_mean_cifar10_test"} <= _failed(text)
