"""harness.report end to end on synthetic harness.rank run directories."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks import load_benchmark
from benchmarks.columns import TEST_COLUMN
from benchmarks.published import ANCHORS
from harness import provenance
from harness.analysis.anchors import anchors_for, canonical_score, comparison_column
from harness.cli import run as run_cli
from harness.cli.report import main as report_main
from harness.reporting import report as R

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def truth() -> pd.DataFrame:
    return load_benchmark()


def make_run(root: Path, truth: pd.DataFrame, *, dataset="cifar10", labels="true",
             data="real", n=300, var_noise=0.0, n_bad=0, seed=0, n_disconnected=8) -> Path:
    """A realistic run directory: score = noisy monotone function of the dataset's test
    accuracy on a sample of architectures (with ``n_disconnected`` disconnected cells scored
    0)."""
    rng = np.random.default_rng(123)
    disconnected = np.flatnonzero(~truth["connected"].to_numpy())[:n_disconnected]
    others = rng.choice(np.flatnonzero(truth["connected"].to_numpy()), n - n_disconnected,
                        replace=False)
    idx = np.sort(np.r_[disconnected, others])
    df = truth.iloc[idx].reset_index(drop=True)
    acc = df[TEST_COLUMN[dataset]].rank().to_numpy() / len(df)
    score = np.exp(6 * acc + 0.7 * np.random.default_rng(1).normal(size=len(df)))
    score *= np.exp(var_noise * np.random.default_rng(2).normal(size=len(df)))
    score[~df["connected"].to_numpy()] = 0.0
    score[:n_bad] = np.nan
    score[n_bad:2 * n_bad] = np.inf
    ranking = df[["index", "arch", "iso_key", "connected"]].copy()
    ranking["nasi"] = score
    truth_cols = [c for c in df.columns if c not in ranking.columns]
    ranking = pd.concat([ranking, df[truth_cols]], axis=1)
    out = root / f"{dataset}-{labels}-{data}"
    out.mkdir(parents=True)
    ranking.to_csv(out / "ranking.csv", index=False)
    summary = {
        "kind": "nasi-harness.rank", "created": "2025-01-01T00:00:00+00:00",
        "config": {"dataset": dataset, "scores": ["nasi"], "batch_size": 64, "labels": labels,
                   "data": data, "loss": "ce", "bn": "train", "init": "pytorch", "seed": seed,
                   "benchmark": "embedded", "selection": {"sample": n},
                   "batch_fingerprint": f"fp-{labels}-{data}"},
        "environment": {"device": "cpu", "device_name": "cpu:x86_64", "python": "3.11"},
        "scores": {"nasi": {"higher_is_better": True, "description": "NASI Eq. 12"}},
        "targets": [c for c in truth_cols if not c.startswith(("params", "flops"))],
        "wall_time_s": 42.0, "correlations": [],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory, truth) -> list[Path]:
    root = tmp_path_factory.mktemp("runs")
    return [make_run(root, truth, n_bad=2),
            make_run(root, truth, dataset="cifar100"),
            make_run(root, truth, labels="random", var_noise=0.05),
            make_run(root, truth, data="gaussian", var_noise=0.3)]


@pytest.fixture(scope="module")
def fixed_commit():
    mp = pytest.MonkeyPatch()
    mp.setattr(provenance, "git_commit", lambda: "0123abcd")  # others may commit while tests run
    yield
    mp.undo()


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory, runs, fixed_commit) -> Path:
    out = tmp_path_factory.mktemp("rep") / "demo"
    argv = [str(r) for r in runs] + ["--name", "demo", "--out", str(out), "--bootstrap", "20",
                                     "--seed", "3"]
    assert run_cli(report_main, argv) == 0
    return out


def test_report_files(report_dir):
    for name in ("report.md", "summary.json", "correlations.csv", "topk.csv", "transfer.csv",
                 "agnostic.csv", "anchors.csv"):
        assert (report_dir / name).is_file(), name
    summary = json.loads((report_dir / "summary.json").read_text())
    pngs = sorted((report_dir / "plots").glob("*.png"))
    assert len(pngs) == 4 * 2 + 2 + 2  # per run: score vs acc + rank; transfer x2; agnostic x2
    assert sorted(f"plots/{p.name}" for p in pngs) == \
        sorted(f for f in summary["files"] if f.startswith("plots/"))
    from PIL import Image

    for p in pngs:
        assert p.read_bytes()[:8] == PNG_MAGIC
        with Image.open(p) as im:
            assert im.size[0] > 500 and im.size[1] > 400
            assert "Software" not in im.info


def test_report_contents(report_dir, runs):
    md = (report_dir / "report.md").read_text()
    for needle in ("cifar10:ori-test@200", "cifar100:x-test@200", "NATS-Bench 1.8 tss",
                   "seed 0", "batch 64", "device cpu", "random labels", "Gaussian data",
                   "300 archs", "bootstrap", "20 resamples", "seed 3",
                   "NTK [TE-NAS, NASI]", "Cross-dataset transfer", "Label- and data-agnostic",
                   "Pearson r (log10)", "(size baseline)", "plots/transfer__nasi.png"):
        assert needle in md, needle
    # a Gaussian batch's labels are drawn uniformly whatever --labels said (nasi.data)
    assert "true labels, Gaussian" not in md and "random labels, Gaussian data" in md
    summary = json.loads((report_dir / "summary.json").read_text())
    assert summary["kind"] == "nasi-harness.report"
    assert summary["analysis"]["bootstrap"]["resamples"] == 20
    assert summary["analysis"]["bootstrap"]["seed"] == 3
    assert summary["software"]["git_commit"] == "0123abcd"
    assert [r["path"] for r in summary["runs"]] == [str(r) for r in runs]
    assert [r["config"]["labels"] for r in summary["runs"]] == ["true", "true", "random", "true"]
    assert all(r["wall_time_s"] == 42.0 for r in summary["runs"])
    corr = pd.read_csv(report_dir / "correlations.csv")
    c10 = corr[(corr["run"] == "cifar10") & (corr["score"] == "nasi")
               & (corr["target"] == "cifar10_test") & (corr["subset"] == "all")].iloc[0]
    assert c10["n"] == 296 and c10["n_invalid"] == 4
    assert c10["kendall_tau_lo"] <= c10["kendall_tau"] <= c10["kendall_tau_hi"]
    assert c10["target_label"].startswith("cifar10:ori-test@200")
    agn = pd.read_csv(report_dir / "agnostic.csv")
    rl = agn[(agn["variant"] == "cifar10-randomlabels") & (agn["subset"] == "connected")]
    assert rl["reference"].iloc[0] == "cifar10" and rl["pearson_log10"].iloc[0] > 0.99
    tr = pd.read_csv(report_dir / "transfer.csv")
    assert set(tr["kind"]) == {"score", "accuracy"}
    anchors = pd.read_csv(report_dir / "anchors.csv")
    ntk = anchors[(anchors["anchor"] == "NTK [TE-NAS, NASI]") & (anchors["run"] == "cifar10")]
    assert set(ntk["metric"]) == {"kendall_tau", "spearman_rho"}
    assert set(ntk["published_value"]) == {0.33, 0.44}


def test_regeneration_is_byte_identical(tmp_path, runs, fixed_commit):
    """CSV and JSON files (and report.md) are identical but for the generated_at timestamp.
    Figures are left out here to keep the test fast; PNG determinism is tested below."""
    first, second = tmp_path / "first", tmp_path / "second"
    R.write_report(runs, first, "demo", bootstrap=20, seed=3, plots=False)
    R.write_report(runs, second, "demo", bootstrap=20, seed=3, plots=False)
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    assert {"correlations.csv", "topk.csv", "transfer.csv", "agnostic.csv", "anchors.csv",
            "summary.json", "report.md"} <= set(names)
    for name in names:
        a, b = (first / name).read_bytes(), (second / name).read_bytes()
        if name == "summary.json":
            ja, jb = json.loads(a), json.loads(b)
            assert ja.pop("generated_at") and jb.pop("generated_at")
            # report.md repeats the timestamp, so its hash in the manifest differs too
            ja["sha256"].pop("report.md"), jb["sha256"].pop("report.md")
            assert ja == jb

            def stable(text: bytes) -> list[bytes]:
                return [line for line in text.splitlines()
                        if b'"generated_at"' not in line and b'"report.md": "' not in line]

            assert stable(a) == stable(b)
        elif name == "report.md":
            ta, tb = a.decode().splitlines(), b.decode().splitlines()
            assert len(ta) == len(tb)
            diff = [i for i, (x, y) in enumerate(zip(ta, tb, strict=True)) if x != y]
            assert diff in ([], [2])  # only the "Generated at" line may differ
        else:
            assert a == b, name
    # a different bootstrap seed changes the intervals
    R.write_report(runs, second, "demo", bootstrap=20, seed=4, plots=False)
    assert (first / "correlations.csv").read_bytes() != (second / "correlations.csv").read_bytes()


def test_png_bytes_are_deterministic(tmp_path, runs):
    from harness.reporting import plots as P

    run = R.load_run(runs[0])
    from harness.reporting.figures import save_figure

    formats = ("png", "pdf", "svg")
    for i in (1, 2):
        save_figure(P.plot_score_vs_accuracy(run.df, "nasi", "cifar10_test", stats_text="tau"),
                    tmp_path / f"s{i}", formats)
        save_figure(P.plot_agnostic(run.df["nasi"].to_numpy(), 2 * run.df["nasi"].to_numpy(),
                                    score="nasi", ref_label="true labels",
                                    var_label="random labels", stats_text="r"),
                    tmp_path / f"a{i}", formats)
    for stem in ("s", "a"):
        for fmt in formats:
            first = (tmp_path / f"{stem}1.{fmt}").read_bytes()
            assert first == (tmp_path / f"{stem}2.{fmt}").read_bytes(), (stem, fmt)


def test_write_report_single_run_as_rank_calls_it(tmp_path, truth):
    run = make_run(tmp_path / "runs", truth, dataset="ImageNet16-120", n=120)
    out = R.write_report([run], run / "report", name=run.name, bootstrap=0, plots=False,
                         generated_at="2000-01-01T00:00:00+00:00")
    assert out == run / "report"
    md = (out / "report.md").read_text()
    assert "2000-01-01T00:00:00+00:00" in md and "Not applicable" in md
    assert "ImageNet16-120:x-test@200" in md
    assert not (out / "agnostic.csv").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["generated_at"] == "2000-01-01T00:00:00+00:00"
    assert "kendall_tau_lo" not in summary["results"]["correlations"][0]


def test_ground_truth_filled_from_embedded_table(tmp_path, truth):
    run = make_run(tmp_path / "runs", truth, n=60)
    df = pd.read_csv(run / "ranking.csv")
    df.drop(columns=["cifar100_test", "imagenet16_test"]).to_csv(run / "ranking.csv",
                                                                 index=False)
    loaded = R.load_run(run)
    assert loaded.filled_columns == ["cifar100_test", "imagenet16_test"]
    assert np.allclose(loaded.df["cifar100_test"], truth.loc[df["index"], "cifar100_test"])


# ---------------------------------------------------------------------------------------------
# bad input: one line on stderr, exit 2


def _one_line_error(capsys, argv) -> str:
    assert run_cli(report_main, argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err


def test_bad_inputs_exit_2(tmp_path, capsys, runs):
    assert "does not exist" in _one_line_error(capsys, [str(tmp_path / "nope"), "--name", "x"])
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no ranking.csv" in _one_line_error(capsys, [str(empty), "--name", "x"])
    (empty / "ranking.csv").write_text("index,nasi\n0,1.0\n")
    assert "no summary.json" in _one_line_error(capsys, [str(empty), "--name", "x"])
    (empty / "summary.json").write_text("{not json")
    assert "not valid JSON" in _one_line_error(capsys, [str(empty), "--name", "x"])
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert "not writable" in _one_line_error(
        capsys, [str(runs[0]), "--name", "x", "--out", str(blocker / "sub"), "--no-plots",
                 "--bootstrap", "0"])
    assert "given twice" in _one_line_error(capsys, [str(runs[0]), str(runs[0]), "--name", "x"])
    assert "plain folder name" in _one_line_error(capsys, [str(runs[0]), "--name", "a/b"])
    assert "must be in 0..1,000,000" in _one_line_error(
        capsys, [str(runs[0]), "--name", "x", "--bootstrap", "-1"])


def test_argparse_errors_exit_2(capsys, runs):
    with pytest.raises(SystemExit) as exc:  # not a number
        report_main([str(runs[0]), "--bootstrap", "many"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert "RUN_DIR or --scores" in _one_line_error(capsys, [])  # no input at all
    assert "figure formats" in _one_line_error(capsys, [str(runs[0]), "--formats", "png,jpg"])


# ---------------------------------------------------------------------------------------------
# anchors


def test_anchor_mapping():
    assert canonical_score("params_cifar10") == "params"
    assert canonical_score("flops_imagenet16") == "flops"
    ntk = {(a.metric, a.value) for a in anchors_for("nasi", "ImageNet16-120")}
    assert ntk == {("kendall_tau", 0.46), ("spearman_rho", 0.63)}
    zc = [a for a in anchors_for("synflow", "cifar10") if a.absolute]
    assert len(zc) == 1 and zc[0].value == 0.737 and zc[0].column == "cifar10_valid_oritest"
    naswot = [a for a in anchors_for("naswot", "cifar100") if a.n_archs.startswith("~")]
    assert naswot[0].value == 0.611 and naswot[0].column == "cifar100_valid"
    # we have no cifar100_valid in the embedded table: compare on the test column, with a note
    assert comparison_column(naswot[0], {"cifar100_test"}) == "cifar100_test"
    assert all(a.confidence in ("P", "S") for a in ANCHORS)
    assert all(a.metric in ("kendall_tau", "spearman_rho", "pearson") for a in ANCHORS)


# ---------------------------------------------------------------------------------------------
# markdown tables, subsets, top-k edge cases


def _cells(line: str) -> list[str]:
    """A markdown table row split the way GitHub splits it: on pipes not escaped by '\\'."""
    return re.split(r"(?<!\\)\|", line.strip())[1:-1]


def test_md_table_escapes_pipes_in_arch_strings():
    from harness.reporting.markdown import md_table
    from harness.searching.driver import per_seed_table

    arch = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|"
    table = md_table(["index", "arch"], [[6111, f"`{arch}`"]]).split("\n")
    assert [len(_cells(line)) for line in table] == [2, 2, 2]
    assert _cells(table[2])[1].strip().replace("\\|", "|") == f"`{arch}`"
    summary = {"groups": [{"name": "search", "runs": [
        {"seed": 0, "arch": arch, "index": 6111, "cifar10_test": 93.0, "cifar100_test": 70.0,
         "imagenet16_test": None, "seconds": 1.0}]}]}
    rows = [line for line in per_seed_table(summary) if line.startswith("|")]
    assert len({len(_cells(line)) for line in rows}) == 1 and len(_cells(rows[0])) == 8


def test_no_connected_rows_without_disconnected_cells(tmp_path, truth, runs):
    only_connected = make_run(tmp_path / "runs", truth, n=80, n_disconnected=0)
    out = R.write_report([only_connected], tmp_path / "rep", "c", bootstrap=0, plots=False)
    corr = pd.read_csv(out / "correlations.csv")
    assert set(corr["subset"]) == {"all"}
    assert set(pd.read_csv(out / "topk.csv")["subset"]) == {"all"}
    md = (out / "report.md").read_text()
    assert "| connected |" not in md
    # a run with disconnected cells keeps both subsets
    out = R.write_report([runs[0]], tmp_path / "rep2", "d", bootstrap=0, plots=False)
    assert set(pd.read_csv(out / "correlations.csv")["subset"]) == {"all", "connected"}


def test_topk_with_k_at_least_n_is_na(tmp_path, truth):
    run = make_run(tmp_path / "runs", truth, n=60)  # top-100 >= 60 archs; top-50 < 52
    out = R.write_report([run], tmp_path / "rep", "k", bootstrap=0, plots=False)
    lines = (out / "report.md").read_text().split("\n")
    head_at = next(i for i, line in enumerate(lines) if "| top-100 |" in line)
    head = [c.strip() for c in _cells(lines[head_at])]
    body = [[c.strip() for c in _cells(line)]
            for line in itertools.takewhile(lambda x: x.startswith("|"), lines[head_at + 2:])]
    assert body
    for row in body:
        n = int(row[head.index("n")].replace(",", ""))
        assert row[head.index("top-100")] == "n/a"
        assert row[head.index("top-50")] == "n/a" if n <= 50 else \
            row[head.index("top-50")].startswith(tuple(f"{k}/50 " for k in range(51)))
    assert not any(f"{n}/{n} " in line for line in lines for n in (52, 60))


def test_report_default_name_and_formats(tmp_path, runs, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = [str(runs[1]), "--bootstrap", "0", "--formats", "pdf,svg"]
    assert run_cli(report_main, argv) == 0
    out = tmp_path / "reports" / runs[1].name
    assert (out / "report.md").is_file()
    plots = sorted(p.suffix for p in (out / "plots").iterdir())
    assert plots and set(plots) == {".pdf", ".svg"} and plots.count(".pdf") == plots.count(".svg")
    assert all(p.read_bytes().startswith(b"%PDF") for p in (out / "plots").glob("*.pdf"))
    md = (out / "report.md").read_text()
    assert ".svg)" in md and "[PDF](plots/" in md


# scores computed elsewhere (harness.reporting.score_tables)

NASLIB_JSON = Path(__file__).parent / "data" / "zc_nasbench201_sample.json"
NASLIB_OPS = ["skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3"]
NASLIB_EDGES = ((1, 2), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4))


def naslib_arch_string(op_indices) -> str:
    """NASLib's convert_op_indices_to_str, written out independently of nasi.space."""
    ops = {edge: NASLIB_OPS[op] for edge, op in zip(NASLIB_EDGES, op_indices, strict=True)}
    parts = [f"{ops[(i, j)]}~{i - 1}" for i, j in sorted(ops, key=lambda e: e[1])]
    return "|{}|+|{}|{}|+|{}|{}|{}|".format(*parts)


def _report_of_table(tmp_path, capsys, *argv) -> Path:
    out = tmp_path / "rep"
    assert run_cli(report_main, [*argv, "--name", "t", "--out", str(out), "--bootstrap", "0",
                                 "--no-plots"]) == 0, capsys.readouterr().err
    return out


def test_naslib_zero_cost_json_report(tmp_path, capsys, truth):
    import ast

    from scipy.stats import kendalltau

    out = _report_of_table(tmp_path, capsys, "--scores", str(NASLIB_JSON), "--dataset",
                           "cifar10")
    raw = json.loads(NASLIB_JSON.read_text())["cifar10"]
    index_of = {a: i for i, a in enumerate(truth["arch"])}
    idx = [index_of[naslib_arch_string(ast.literal_eval(k))] for k in raw]
    corr = pd.read_csv(out / "correlations.csv")
    assert set(corr["score"]) >= {"synflow", "jacov"}
    for score in ("synflow", "jacov"):
        values = [v[score]["score"] for v in raw.values()]
        want = kendalltau(values, truth["cifar10_test"].to_numpy()[idx]).statistic
        row = corr[(corr["score"] == score) & (corr["target"] == "cifar10_test")
                   & (corr["subset"] == "all")]
        assert row["n"].iloc[0] == len(raw) == 10
        assert row["kendall_tau"].iloc[0] == pytest.approx(want, abs=1e-6)
    md = (out / "report.md").read_text()
    assert "batch unknown, seed unknown, loss unknown, BN unknown, init unknown, device unknown" \
        in md
    assert f"score table `{NASLIB_JSON}`" in md
    assert "missing from `zc_nasbench201_sample.json`" in md
    run = json.loads((out / "summary.json").read_text())["runs"][0]
    assert run["labels"] == run["data"] == "unknown" and not run["standard"]
    assert "batch_size" not in run["config"] and "seed" not in run["config"]


def test_csv_score_table_by_arch_and_by_index(tmp_path, capsys, truth):
    from scipy.stats import spearmanr

    rng = np.random.default_rng(5)
    idx = rng.choice(len(truth), 40, replace=False)
    mine = rng.normal(size=40) + truth["cifar10_test"].to_numpy()[idx] / 10
    by_arch = tmp_path / "by_arch.csv"
    pd.DataFrame({"arch": truth["arch"].to_numpy()[idx], "mine": mine,
                  "cifar10_test": 0.0}).to_csv(by_arch, index=False)  # truth column: not a score
    out = _report_of_table(tmp_path, capsys, "--scores", str(by_arch), "--dataset", "cifar10")
    corr = pd.read_csv(out / "correlations.csv")
    assert set(corr["score"]) - {"params_cifar10", "flops_cifar10"} == {"mine"}
    row = corr[(corr["score"] == "mine") & (corr["target"] == "cifar10_test")
               & (corr["subset"] == "all")]
    want = spearmanr(mine, truth["cifar10_test"].to_numpy()[idx]).statistic
    assert row["spearman_rho"].iloc[0] == pytest.approx(want, abs=1e-6)
    by_index = tmp_path / "by_index.csv"
    pd.DataFrame({"index": idx, "mine": mine, "other": 1.0}).to_csv(by_index, index=False)
    out2 = _report_of_table(tmp_path / "b", capsys, "--scores", str(by_index), "--dataset",
                            "cifar10", "--score-columns", "mine")
    assert pd.read_csv(out2 / "correlations.csv").equals(corr)


def test_bad_score_tables_exit_2(tmp_path, capsys):
    def err(*argv) -> str:
        return _one_line_error(capsys, [*argv, "--name", "x", "--out", str(tmp_path / "o")])

    assert "needs --dataset" in err("--scores", str(NASLIB_JSON))
    assert "does not exist" in err("--scores", str(tmp_path / "nope.csv"), "--dataset", "cifar10")
    assert "no entry for ImageNet16-120" in err("--scores", str(NASLIB_JSON), "--dataset",
                                                "ImageNet16-120")
    bad = tmp_path / "bad.csv"
    for text, why in (("name,mine\na,1\n", "neither an 'index' nor an 'arch'"),
                      ("index,mine\n0,1\n15625,2\n", "out of range"),
                      ("arch,mine\n|bogus|,1\n", "bogus"),
                      ("index,mine\n0,1\n0,2\n", "appears twice"),
                      ("index,mine\n0,x\n1,y\n", "not numeric"),
                      ("index\n0\n", "no score column")):
        bad.write_text(text)
        assert why in err("--scores", str(bad), "--dataset", "cifar10"), text
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"cifar10": {"(9, 9)": {}}}')
    assert "not a NASLib op-index tuple" in err("--scores", str(bad_json), "--dataset", "cifar10")
    bad_json.write_text("[1, 2")
    assert "as JSON" in err("--scores", str(bad_json), "--dataset", "cifar10")
    assert "RUN_DIR or --scores" in err()
    assert "only apply with --scores" in err(str(tmp_path), "--dataset", "cifar10")
