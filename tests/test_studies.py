"""One fast smoke test per study module (studies/): tiny inputs, checked against an independent
computation or a committed, documented result."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy.stats import kendalltau, rankdata, spearmanr

from nasi.space import NUM_ARCHS, Arch, all_archs
from studies.paths import PROXY_RUNS, REPORTS, ROOT

SEARCH = REPORTS / "search"


def _expected_sample(n: int, seed: int) -> list[int]:
    return sorted(int(i) for i in np.random.default_rng(seed).choice(15625, n, replace=False))


def test_paths_point_at_the_committed_reports():
    assert (ROOT / "pyproject.toml").is_file()
    assert (PROXY_RUNS / "c10_real_n1000" / "summary.json").is_file()


# -- studies.proxies ------------------------------------------------------------------------

def test_make_table_published_values_are_the_transcribed_ones():
    from studies.proxies.make_table import PUBLISHED

    # as transcribed in make_table before it read benchmarks.published (same sources)
    zc = {"grad_norm": (.594, .637, .578), "snip": (.596, .637, .578),
          "grasp": (.514, .547, .549), "fisher": (.360, .385, .327),
          "synflow": (.737, .763, .751), "jacob_cov": (.731, .704, .701)}
    expected = {name: ("SPR", dict(zip(("cifar10", "cifar100", "ImageNet16-120"), v)))
                for name, v in zc.items()}
    expected |= {"naswot": ("KT", {"cifar10": .574, "cifar100": .611, "ImageNet16-120": .549}),
                 "params": ("SPR", {"cifar10": .75, "cifar100": .73, "ImageNet16-120": .69}),
                 "flops": ("SPR", {"cifar10": .73, "cifar100": .71, "ImageNet16-120": .67}),
                 "ntk_cond": ("KT", {"cifar100": -.42})}
    assert PUBLISHED == expected


def test_make_table_row_matches_scipy(tmp_path):
    from studies.proxies.make_table import rows

    rng = np.random.default_rng(0)
    label = rng.normal(size=40)
    snip = label + rng.normal(size=40)
    snip[3] = np.nan  # dropped from the correlation
    pd.DataFrame({"index": range(40), "snip": snip, "cifar10_valid_oritest": label}).to_csv(
        tmp_path / "ranking.csv", index=False)
    (tmp_path / "summary.json").write_text(json.dumps({"config": {
        "dataset": "cifar10", "scores": ["snip"], "batch_size": 64, "data": "real"}}))
    (row,) = rows(tmp_path)
    cells = [str(c) for c in row]
    keep = np.isfinite(snip)
    rho = spearmanr(snip[keep], label[keep]).statistic
    tau = kendalltau(snip[keep], label[keep]).statistic
    assert cells[:5] == ["snip", "cifar10 (cifar10_valid_oritest)", "real", "64", "39"]
    assert cells[5].startswith(f"{rho:+.3f} [")
    assert cells[6] == f"{tau:+.3f}"
    assert cells[7] == "SPR 0.596 (zero-cost-nas)"
    assert cells[8] == f"{rho - 0.596:+.3f}"


def test_sample_effect_matches_scipy():
    from studies.proxies.sample_effect import SAMPLE, sample_error

    assert list(SAMPLE) == _expected_sample(1000, 42)
    rng = np.random.default_rng(1)
    label = rng.normal(size=NUM_ARCHS)
    table = pd.DataFrame({"index": range(NUM_ARCHS), "label": label,
                          "score": label + 2 * rng.normal(size=NUM_ARCHS)})
    full, err = sample_error(table, "score", "label")
    assert full == pytest.approx(spearmanr(table["score"], label).statistic, abs=1e-12)
    part = table.loc[SAMPLE]
    assert full + err == pytest.approx(spearmanr(part["score"], part["label"]).statistic,
                                       abs=1e-12)


def test_control_variate_estimate_and_documented_control_error():
    from studies.proxies.control_variate import control_error, estimate

    rng = np.random.default_rng(2)
    t = rng.normal(size=200)
    s = t + rng.normal(size=200)
    s[0] = np.nan
    # the score as its own control: beta 1, the whole sampling error removed, no spread left
    e = estimate(s, s, t, control_error=-0.05, n_boot=50)
    assert e["n"] == 199 and e["beta"] == pytest.approx(1.0)
    assert e["estimate"] == pytest.approx(e["sample"] + 0.05)
    assert e["se"] == pytest.approx(0.0, abs=1e-12) and e["se_raw"] > 0
    # snip's sample error on CIFAR-10, as documented in reports/proxies/README.md (3.2)
    assert round(control_error("snip", "cifar10_valid_oritest"), 3) == -0.052


def test_fisher_anatomy_groups_sum_to_the_registry_fisher():
    from studies.proxies.fisher_anatomy import GROUPS, VARIANTS, components, summarise

    disconnected = next(i for i in range(NUM_ARCHS) if not Arch.from_index(i).is_connected)
    row = components(disconnected)
    assert row["fisher"] == 0.0 and all(row[f"{g}_w"] == 0.0 for g in GROUPS)
    connected = [i for i in _expected_sample(3, 42) if Arch.from_index(i).is_connected][:2]
    df = pd.DataFrame([components(i) for i in connected])
    total = sum(df[f"{g}_w"] for g in GROUPS)
    assert np.allclose(total, df["fisher"], rtol=1e-4)
    # each channel weighted by its layer's fan-in: stem conv 3 x 3 x 3, classifier 4C = 64
    assert np.allclose(df["stem_w"], 27 * df["stem_u"], rtol=1e-6)
    assert np.allclose(df["classifier_w"], 64 * df["classifier_u"], rtol=1e-6)
    summary = summarise(df, "test")
    assert summary["n"] == len(connected)
    assert summary["checks"]["max_rel_diff_vs_registry_fisher"] < 1e-4
    assert set(summary["spearman"]) == set(VARIANTS)


def test_measure_cost_prints_one_line_per_score(capsys):
    from studies.proxies.measure_cost import main

    main(["--n", "2", "--batch-size", "8", "--scores", "params,grad_norm+snip"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    order = np.random.default_rng(42).permutation(NUM_ARCHS)
    expected = [int(i) for i in order if Arch.from_index(int(i)).is_connected][:2]
    assert lines[0]["archs"] == expected and lines[0]["batch_size"] == 8
    assert [line["score"] for line in lines[1:]] == ["params", "grad_norm+snip"]
    assert all(len(line["wall_ms"]) == 2 for line in lines[1:])


def test_per_arch_batches_writes_the_sample_ranking(tmp_path):
    from studies.proxies.per_arch_batches import augmented_batch, main

    x1, y1 = augmented_batch(7)
    x2, _ = augmented_batch(8)
    assert x1.shape == (64, 3, 32, 32) and y1.shape == (64,)
    assert torch_equal(x1, augmented_batch(7)[0]) and not torch_equal(x1, x2)
    main(["--n", "2", "--workers", "1", "--scores", "grad_norm", "--out", str(tmp_path)])
    df = pd.read_csv(tmp_path / "ranking.csv")
    assert df["index"].tolist() == _expected_sample(2, 42)
    assert (df["grad_norm"] > 0).all()
    assert json.loads((tmp_path / "summary.json").read_text())["n"] == 2


def torch_equal(a, b) -> bool:
    return bool((a == b).all())


def test_stand_in_images_folders(tmp_path):
    from nasi.data import load_cifar10_sample
    from studies.proxies.stand_in_images import box_downsample, write_folders

    img = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
    small = box_downsample(img)
    assert small.shape == (2, 2, 2, 3)
    assert small[1, 0, 1, 2] == round(img[1, 0:2, 2:4, 2].astype(float).mean())
    write_folders(tmp_path)
    s = load_cifar10_sample()
    for sub in ("rgb32", "rgb16"):
        assert len(list((tmp_path / sub).rglob("*.png"))) == 500
        assert len(list((tmp_path / sub / "cat").glob("*.png"))) == 50
    i = 123
    name = str(s["class_names"][int(s["labels"][i])])
    path = f"{name}/{int(s['class_rank'][i]):02d}.png"
    assert np.array_equal(np.asarray(Image.open(tmp_path / "rgb32" / path)), s["images"][i])
    blocks = s["images"][i].astype(float).reshape(16, 2, 16, 2, 3).mean(axis=(1, 3))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "rgb16" / path)), np.rint(blocks))


# -- studies.search -------------------------------------------------------------------------

def test_score_tables_columns_are_the_committed_runs():
    from studies.search.score_tables import load_score_tables

    table = load_score_tables()
    assert len(table) == NUM_ARCHS
    raw = pd.read_csv(PROXY_RUNS / "c10_real_all_gradnorm_snip" / "ranking.csv.gz")
    raw = raw.set_index("index")
    assert np.allclose(table["snip"].to_numpy(), raw.loc[range(NUM_ARCHS), "snip"], equal_nan=True)
    assert (table["params"] == table["params_cifar10"]).all()


def test_select_objective_rank_fitness_and_committed_choice(tmp_path):
    from studies.search.select_objective import main, rank_fitness

    table = pd.DataFrame({"a": [3.0, 1.0, 2.0, np.nan], "b": [1.0, 2.0, 3.0, 4.0]})
    rows = np.arange(4)
    assert np.allclose(rank_fitness(table, ["a"], rows), [0.875, 0.375, 0.625, 0.125])
    assert np.allclose(rank_fitness(table, ["a", "b"], rows),
                       ([0.875, 0.375, 0.625, 0.125] + (rankdata([1, 2, 3, 4]) - 0.5) / 4) / 2)
    out = tmp_path / "selection.json"
    main(["--out", str(out)])
    ours = json.loads(out.read_text())
    committed = json.loads((SEARCH / "objective_selection.json").read_text())
    assert ours["chosen"] == committed["chosen"] == "synflow+jacob_cov"
    assert ours["candidates"] == committed["candidates"]


def test_estimator_bound_finds_the_documented_exact_argmax(capsys):
    from studies.search.estimator_bound import main

    main([str(SEARCH / "table-c8n5b32.csv.gz"), "--steps", "10,20", "--replicates", "2"])
    out = capsys.readouterr().out.splitlines()
    # reports/search/README.md: the exact expected-reward argmax reaches 93.76 / 71.11 / 41.44
    assert out[0].endswith(": 93.76 / 71.11 / 41.44")
    steps = [line for line in out if line.startswith("T=")]
    assert [int(line[2:7]) for line in steps] == [10, 20]
    for line in steps:
        agreement = float(line.split("edge agreement ")[1].split(";")[0])
        assert 0.0 <= agreement <= 1.0


def test_leaderboard_reproduces_the_committed_report():
    from studies.search.leaderboard import (
        EXACT_SEEDS,
        NASI_RUNS,
        OUT,
        REAL_RUNS,
        exact_rows,
        render,
    )

    committed = json.loads((SEARCH / "leaderboard.json").read_text())
    (row,) = exact_rows([("random", "params")], EXACT_SEEDS)
    (want,) = [r for r in committed["exact"]
               if (r["method"], r["objective"]) == ("random", "params")]
    assert row == want
    real = {n: json.loads((OUT / n / "summary.json").read_text()) for n in REAL_RUNS}
    nasi = {n: json.loads((SEARCH / n / "summary.json").read_text()) for n in NASI_RUNS}
    assert render(real, nasi, committed["exact"]) == (SEARCH / "leaderboard.md").read_text()


# -- studies.builders -----------------------------------------------------------------------

def _extracts(tmp_path: Path, shuffle: bool = False) -> tuple[Path, Path]:
    rng = np.random.default_rng(3)
    archs = [str(a) for a in all_archs()]
    index = np.arange(NUM_ARCHS)
    if shuffle:
        index = index[::-1]
    nats = pd.DataFrame({"index": index, "arch": [archs[i] for i in index],
                         **{c: rng.uniform(10, 95, NUM_ARCHS) for c in
                            ("cifar10_test", "cifar100_test", "imagenet16_test")}})
    nb201 = pd.DataFrame({"index": range(NUM_ARCHS), "arch": archs,
                          **{c: rng.uniform(10, 95, NUM_ARCHS) for c in
                             ("cifar10_valid", "cifar10_test", "cifar10_valid_oritest")}})
    paths = tmp_path / "nats.csv", tmp_path / "nb201.csv"
    nats.to_csv(paths[0], index=False)
    nb201.to_csv(paths[1], index=False)
    return paths


def test_build_embedded_from_extracts(tmp_path):
    from studies.builders.build_embedded import build

    nats, nb201 = _extracts(tmp_path)
    out = tmp_path / "table.csv.gz"
    build(str(nats), str(nb201), out)
    got = pd.read_csv(out)
    want_nats, want_nb201 = pd.read_csv(nats), pd.read_csv(nb201)
    assert list(got.columns) == ["index", "cifar10_test", "cifar100_test", "imagenet16_test",
                                 "cifar10_valid", "cifar10_valid_oritest"]
    assert np.allclose(got["cifar100_test"], want_nats["cifar100_test"])
    assert np.allclose(got["cifar10_test"], want_nats["cifar10_test"])  # NATS', not NB201's
    assert np.allclose(got["cifar10_valid"], want_nb201["cifar10_valid"])
    assert gzip.open(out).read(5) == b"index"
    with pytest.raises(SystemExit, match="NATS extract is not in benchmark index order"):
        build(*map(str, _extracts(tmp_path, shuffle=True)), out)


CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
           "dog", "frog", "horse", "ship", "truck")


def _source_dir(tmp_path: Path, twins: list[int]) -> tuple[Path, dict[tuple[int, int], np.ndarray]]:
    """50 smooth JPEGs per class, and lossless PNGs of the first test images (labels twins)."""
    yy, xx = np.mgrid[0:32, 0:32]
    originals = {}
    for label, name in enumerate(CLASSES):
        folder = tmp_path / "src" / "cifar10_test_jpg50" / name
        folder.mkdir(parents=True)
        for k in range(50):
            phase = (label * 50 + k) / 50.0
            img = np.stack([128 + 100 * np.sin(xx / 7 + phase), 128 + 100 * np.cos(yy / 9 + phase),
                            128 + 60 * np.sin((xx + yy) / 11 - phase)], axis=-1).astype(np.uint8)
            originals[label, k] = img
            Image.fromarray(img).save(folder / f"{k:04d}.jpg", quality=95)
    png_dir = tmp_path / "src" / "foolbox_cifar10"
    png_dir.mkdir()
    seen = [0] * 10
    for tidx, label in enumerate(twins):
        Image.fromarray(originals[label, seen[label]]).save(png_dir / f"cifar10_{tidx}_{label}.png")
        seen[label] += 1
    return tmp_path / "src", originals


def test_build_sample_puts_png_twins_in_place(tmp_path):
    from studies.builders.build_sample import build

    src, originals = _source_dir(tmp_path, twins=[3, 8, 8, 0])
    result = build(src, tmp_path / "a.npz")
    assert (result["images"], result["png"]) == (500, 4)
    assert result["per_class"] == [50] * 10
    data = np.load(tmp_path / "a.npz")
    assert np.array_equal(data["images"][8 * 50 + 1], originals[8, 1])  # PNG pixels, exact
    assert data["test_index"][[3 * 50, 8 * 50, 8 * 50 + 1, 0]].tolist() == [0, 1, 2, 3]
    assert (data["test_index"] >= 0).sum() == 4 and data["labels"][499] == 9
    again = build(src, tmp_path / "b.npz")  # same files, same bytes
    assert again["sha256"] == hashlib.sha256((tmp_path / "b.npz").read_bytes()).hexdigest()
    assert again["sha256"] == result["sha256"]
    # a PNG that is not its JPEG's picture is refused
    Image.fromarray(255 - originals[0, 0]).save(src / "foolbox_cifar10" / "cifar10_3_0.png")
    with pytest.raises(SystemExit, match="differs from its JPEG twin"):
        build(src, tmp_path / "c.npz")
