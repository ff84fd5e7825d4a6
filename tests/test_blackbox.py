"""Black-box searches (nasi.blackbox) and their objectives (nasi.objective), checked against
brute force: percentile ranks against scipy, the searches against the known optimum of a
table, resume against an uninterrupted run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata

from nasi.blackbox import BlackBoxConfig, mutate, run_blackbox
from nasi.objective import Archive, Objective, ObjectiveError, TableEvaluator
from nasi.space import NUM_ARCHS, OPS, all_archs
from nasi.table_search import table_blackbox


def test_objective_parse_and_errors():
    assert Objective.parse("synflow + jacob_cov").scores == ("synflow", "jacob_cov")
    for bad in ("", "synflow+", "nope", "synflow+synflow"):
        with pytest.raises(ObjectiveError):
            Objective.parse(bad)


def test_fitness_is_the_mean_percentile_rank_with_nan_lowest():
    rng = np.random.default_rng(0)
    obj = Objective.parse("synflow+jacob_cov")
    vals = rng.normal(size=(50, 2))
    vals[[3, 7], 1] = np.nan
    vals[10] = vals[11]  # a tie
    arc = Archive(obj)
    for i, v in enumerate(vals):
        arc.add(i, v)
    expected = np.zeros(50)
    for j in range(2):
        col = np.where(np.isfinite(vals[:, j]), vals[:, j], -np.inf)
        expected += (rankdata(col, method="average") - 0.5) / 50
    got = [arc.fitness(v) for v in vals]
    np.testing.assert_allclose(got, expected / 2)


def test_lower_is_better_scores_are_flipped():
    from nasi.scores import register
    from nasi.scores.registry import SCORES

    register("_test_lower", higher_is_better=False, description="test")(lambda ctx: 0.0)
    try:
        arc = Archive(Objective.parse("_test_lower"))
        for i, v in enumerate((3.0, 1.0, 2.0)):
            arc.add(i, np.array([v]))
        assert arc.best()[0] == 1
    finally:
        SCORES.pop("_test_lower")


def _synthetic_table(seed=0) -> tuple[pd.DataFrame, int]:
    """A score with one known best architecture: +1 per 3x3 conv, plus small unique noise."""
    ops = np.array([[OPS.index(o) for o in a.ops] for a in all_archs()])
    noise = np.random.default_rng(seed).permutation(NUM_ARCHS) / (10 * NUM_ARCHS)
    score = (ops == OPS.index("nor_conv_3x3")).sum(1) + (ops == OPS.index("nor_conv_1x1")).sum(
        1) * 0.5 + noise
    return pd.DataFrame({"synflow": score}), int(np.argmax(score))


def test_evolution_finds_the_known_optimum_and_beats_random():
    table, best = _synthetic_table()
    hits, rand_hits = 0, 0
    for seed in range(10):
        cfg = BlackBoxConfig(objective="synflow", evals=300, seed=seed)
        hits += table_blackbox(cfg, table).index == best
        rand_hits += table_blackbox(cfg.replace(method="random"), table).index == best
    assert hits >= 8 and rand_hits <= 2


def test_reinforce_decodes_the_per_edge_best_op():
    table, best = _synthetic_table()
    found = [table_blackbox(BlackBoxConfig(method="reinforce", objective="synflow", evals=400,
                                           seed=s), table).index for s in range(5)]
    assert sum(f == best for f in found) >= 4  # all-3x3: each edge's op is separable


def test_budget_counts_new_networks_and_seconds_stop_early():
    table, _ = _synthetic_table()
    res = run_blackbox(BlackBoxConfig(objective="synflow", evals=60, seed=1),
                       TableEvaluator(Objective.parse("synflow"), table))
    assert res.evaluations == 60 and res.proposals >= 60
    assert len({all_archs()[h["index"]].iso_key for h in res.history if not h["cached"]}) == 60
    timed = run_blackbox(BlackBoxConfig(objective="synflow", evals=60, seconds=1.0, seed=1),
                         TableEvaluator(Objective.parse("synflow"), table,
                                        seconds_per_eval=0.25))
    assert timed.evaluations == 4 and timed.charged_seconds == pytest.approx(1.0)


def test_mutation_changes_exactly_one_edge():
    rng = np.random.default_rng(0)
    for i in rng.integers(0, NUM_ARCHS, 200):
        j = mutate(int(i), rng)
        diff = [a != b for a, b in zip(all_archs()[i].ops, all_archs()[j].ops, strict=True)]
        assert sum(diff) == 1


@pytest.mark.parametrize("kw", [dict(evals=0), dict(method="bogus"), dict(tournament=30),
                                dict(population=1), dict(seconds=0.0), dict(objective="x")])
def test_config_rejects_bad_values(kw):
    with pytest.raises(ObjectiveError):
        BlackBoxConfig(**kw)


# ----------------------------------------------------------------------------- CLI
TINY = ["--objective", "synflow+jacob_cov", "--evals", "12", "--population", "4",
        "--tournament", "2", "--width", "4", "--cells", "1", "--batch-size", "8",
        "--data", "gaussian", "--device", "cpu", "--quiet"]


def _summary(out):
    return json.loads((out / "summary.json").read_text())


def test_cli_default_flow_and_resume_mid_search(tmp_path, monkeypatch):
    import nasi.scoring
    from harness.cli import run
    from harness.cli.search import main

    calls = []
    real = nasi.scoring.score_architecture
    monkeypatch.setattr(nasi.scoring, "score_architecture",
                        lambda arch, *a, **k: calls.append(arch.index) or real(arch, *a, **k))
    out = tmp_path / "run"
    argv = [*TINY, "--seeds", "2", "--out", str(out)]
    assert run(main, argv) == 0
    first = _summary(out)
    assert [r["evaluations"] for r in first["runs"]] == [12, 12]
    assert first["config"]["method"] == "evolution"
    n_first = len(calls)
    # interrupt seed 1 after 5 networks: its result is gone, its checkpoint holds 5 of them
    runs = out / "runs"
    (stem,) = [p.name[:-len(".evals.json")] for p in runs.glob("*seed1.evals.json")]
    (runs / f"{stem}.json").unlink()
    ck = json.loads((runs / f"{stem}.evals.json").read_text())
    ck["evals"] = [[i, v, 100.0] for i, v, _ in ck["evals"][:5]]  # as if each took 100 s
    (runs / f"{stem}.evals.json").write_text(json.dumps(ck))
    calls.clear()
    assert run(main, argv) == 0
    again = _summary(out)
    assert len(calls) == n_first // 2 - 5  # seed 0 reused whole, seed 1 only its last 7

    def strip(rs):
        return [{k: v for k, v in r.items() if k not in ("seconds", "charged_seconds")}
                for r in rs]
    assert strip(again["runs"]) == strip(first["runs"])
    assert again["runs"][1]["seconds"] >= 500  # the replayed networks' cost is counted
    assert again["runs"][1]["charged_seconds"] >= 500


def test_cli_workers_equal_sequential(tmp_path):
    from harness.cli import run
    from harness.cli.search import main

    assert run(main, [*TINY, "--seeds", "2", "--out", str(tmp_path / "a")]) == 0
    assert run(main, [*TINY, "--seeds", "2", "--workers", "2", "--out",
                      str(tmp_path / "b")]) == 0
    keep = ("seed", "arch", "index", "evaluations", "proposals", "fitness")
    assert ([{k: r[k] for k in keep} for r in _summary(tmp_path / "a")["runs"]]
            == [{k: r[k] for k in keep} for r in _summary(tmp_path / "b")["runs"]])


def test_cli_ray_equal_sequential(tmp_path):
    pytest.importorskip("ray")
    from harness.cli import run
    from harness.cli.search import main

    assert run(main, [*TINY, "--seeds", "2", "--out", str(tmp_path / "a")]) == 0
    assert run(main, [*TINY, "--seeds", "2", "--executor", "ray", "--out",
                      str(tmp_path / "b")]) == 0
    keep = ("seed", "arch", "index", "evaluations", "fitness")
    assert ([{k: r[k] for k in keep} for r in _summary(tmp_path / "a")["runs"]]
            == [{k: r[k] for k in keep} for r in _summary(tmp_path / "b")["runs"]])

    def checkpoints(d):  # the Ray tasks write none: the driver writes them from their results
        return {p.name: [e[:2] for e in json.loads(p.read_text())["evals"]]
                for p in (d / "runs").glob("*.evals.json")}
    assert checkpoints(tmp_path / "b") == checkpoints(tmp_path / "a") != {}


def test_cli_shared_runs_dir_reuses_equal_searches(tmp_path):
    from harness.cli import run
    from harness.cli.search import main

    shared = ["--runs-dir", str(tmp_path / "runs")]
    assert run(main, [*TINY, *shared, "--seeds", "2", "--out", str(tmp_path / "a")]) == 0
    # --agnostic's standard group is the same search as the plain one: reused, not rerun
    assert run(main, [*TINY, *shared, "--seeds", "2", "--agnostic", "--out",
                      str(tmp_path / "b")]) == 0
    a, b = _summary(tmp_path / "a"), _summary(tmp_path / "b")
    assert [r["index"] for r in b["groups"][0]["runs"]] == [r["index"] for r in a["runs"]]
    # with --data gaussian, random-label and random-data are one search too: 2 configs x 2
    # seeds x (result + checkpoint)
    assert len(list((tmp_path / "runs").glob("*.json"))) == 2 * 2 * 2


@pytest.mark.parametrize("args", [
    ["--objective", "nope"], ["--evals", "0"], ["--steps", "10"], ["--tournament", "30"],
    ["--method", "nasi", "--objective", "synflow"], ["--budget-seconds", "-1"],
    ["--method", "nasi", "--exact-steps", "abc"],
])
def test_cli_bad_input_exit_2_one_line(args, tmp_path, capsys):
    from harness.cli import run
    from harness.cli.search import main

    try:
        code = run(main, [*args, "--out", str(tmp_path / "o"), "--quiet"])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, (args, err)
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o").exists()
