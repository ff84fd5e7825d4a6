"""The search space against the benchmark's own files and the official package.

Ground truth used here, none of it produced by nasi.space:
- tests/data/NATS-tss-v1_0-3ffb9-simple/meta.pickle.pbz2: the benchmark's arch list;
- tests/data/nb201_reference.csv.gz: the benchmark's get_unique_str per index;
- benchmarks/data/nb201_tss.csv.gz: the benchmark's accuracies (read raw with pandas);
- nats_bench's str2matrix / str2lists; worked examples of the reference doc (section 6).
"""

from __future__ import annotations

import bz2
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nasi.space import NUM_ARCHS, Arch, ArchError, all_archs, parse_arch

DATA = Path(__file__).parent / "data"
EMBEDDED_CSV = Path(__file__).parents[1] / "benchmarks" / "data" / "nb201_tss.csv.gz"

INDEX0 = ("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|"
          "skip_connect~2|")
INDEX6111 = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
             "nor_conv_1x1~2|")
INDEX15624 = "|nor_conv_1x1~0|+|none~0|nor_conv_1x1~1|+|none~0|nor_conv_1x1~1|nor_conv_1x1~2|"
# NASLib's op order (doc section 6), written out here rather than imported.
NASLIB_OP_ORDER = ["skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3"]


@pytest.fixture(scope="module")
def meta_archs() -> list[str]:
    with bz2.open(DATA / "NATS-tss-v1_0-3ffb9-simple" / "meta.pickle.pbz2", "rb") as f:
        meta = pickle.load(f)
    assert len(meta["meta_archs"]) == NUM_ARCHS == 15_625
    return meta["meta_archs"]


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return pd.read_csv(DATA / "nb201_reference.csv.gz")


# ----------------------------------------------------------------------------- index order
def test_index_round_trip_matches_benchmark_list(meta_archs):
    for i, text in enumerate(meta_archs):
        arch = Arch.from_index(i)
        assert arch.string == text, i
        assert Arch.parse(text).index == i
        assert parse_arch(str(i)) == arch == parse_arch(text) == parse_arch(i)
    assert [a.string for a in all_archs()] == meta_archs


def test_known_indices():
    assert Arch.from_index(0).string == INDEX0
    assert Arch.from_index(6111).string == INDEX6111
    assert Arch.from_index(15624).string == INDEX15624
    assert Arch.parse(INDEX6111).index == 6111


# ----------------------------------------------------------------------------- isomorphism
def test_iso_key_equals_benchmark_unique_str(reference):
    keys = [a.iso_key for a in all_archs()]
    assert keys == list(reference["unique_str"])  # the same strings, not only the same classes
    assert len(set(keys)) == reference["unique_str"].nunique() == 6_466


def test_iso_key_partition_equals_benchmark_partition(reference):
    # The partition itself, independent of how keys are spelt.
    ours = pd.Series([a.iso_key for a in all_archs()]).factorize()[0]
    theirs = reference["unique_str"].factorize()[0]
    assert (ours == theirs).all()  # factorize numbers classes by first appearance


# ----------------------------------------------------------------------------- connectivity
def test_341_disconnected_are_exactly_the_chance_level_archs():
    acc = pd.read_csv(EMBEDDED_CSV)
    disconnected = np.array([not a.is_connected for a in all_archs()])
    assert disconnected.sum() == 341
    chance = {"cifar10_test": 100 / 10, "cifar100_test": 100 / 100, "imagenet16_test": 100 / 120}
    at_chance = {c: np.isclose(acc[c].to_numpy(), v, atol=1e-5) for c, v in chance.items()}
    assert (np.logical_and.reduce(list(at_chance.values())) == disconnected).all()
    # CIFAR-10 and CIFAR-100 alone single them out; on ImageNet16-120 one connected arch
    # (4992) also ended at chance level (its training diverged), so it cannot be used alone.
    assert (at_chance["cifar10_test"] == disconnected).all()
    assert (at_chance["cifar100_test"] == disconnected).all()
    assert np.flatnonzero(at_chance["imagenet16_test"] & ~disconnected).tolist() == [4992]


def test_connectivity_examples():
    assert not Arch.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|").is_connected
    # A path 0 -> 1 -> 3 through skip connections is enough.
    assert Arch.parse("|skip_connect~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|"
                      ).is_connected
    # Node 2 is reached but leads to the output only through 'none'.
    assert not Arch.parse("|none~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|none~2|").is_connected


# ----------------------------------------------------------------------------- encodings
def test_naslib_worked_examples():
    assert Arch.from_index(0).to_naslib() == (4, 3, 3, 0, 0, 0)
    assert Arch.from_index(6111).to_naslib() == (2, 2, 0, 2, 2, 3)
    assert Arch.from_naslib((4, 3, 3, 0, 0, 0)).index == 0
    assert Arch.from_naslib([2, 2, 0, 2, 2, 3]).index == 6111


def _naslib_by_slots(text: str) -> tuple[int, ...]:
    """Doc rule: for |a~0|+|b~0|c~1|+|d~0|e~1|f~2| the tuple is over slots (a, b, d, c, e, f)."""
    a, b, c, d, e, f = (item.split("~")[0] for seg in text.split("+")
                        for item in seg.strip("|").split("|"))
    return tuple(NASLIB_OP_ORDER.index(op) for op in (a, b, d, c, e, f))


def test_naslib_all_archs(meta_archs):
    for i, text in enumerate(meta_archs):
        arch = Arch.from_index(i)
        t = arch.to_naslib()
        assert t == _naslib_by_slots(text), i
        assert Arch.from_naslib(t) == arch


def test_to_matrix_worked_examples():
    m0 = np.array(Arch.from_index(0).to_matrix())
    expected0 = np.zeros((4, 4), dtype=int)
    for (k, j), v in {(1, 0): 4, (2, 0): 2, (2, 1): 1, (3, 0): 2, (3, 1): 1, (3, 2): 1}.items():
        expected0[k, j] = v
    assert (m0 == expected0).all()
    m = np.array(Arch.from_index(6111).to_matrix())
    expected = np.zeros((4, 4), dtype=int)
    for (k, j), v in {(1, 0): 3, (2, 0): 3, (2, 1): 3, (3, 0): 1, (3, 1): 3, (3, 2): 2}.items():
        expected[k, j] = v
    assert (m == expected).all()


def test_to_matrix_and_lists_equal_official_package(meta_archs):
    from nats_bench.api_topology import NATStopology

    for i, text in enumerate(meta_archs):
        arch = Arch.from_index(i)
        assert (np.array(arch.to_matrix()) == NATStopology.str2matrix(text)).all(), i
        lists = NATStopology.str2lists(text)  # ((op, j), ...) per node 1..3
        assert [op for node in lists for op, _ in node] == list(arch.ops)


# ----------------------------------------------------------------------------- bad input
VALID = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


@pytest.mark.parametrize("text, bad_part", [
    ("|conv5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|", "'conv5x5'"),
    ("|none~0|+|none~0|nor_conv_3x3~1|+|none~0|nor_conv~1|none~2|", "'nor_conv'"),
    ("|none~0|+|none~0|none~1|", "got 2"),  # two nodes
    (VALID + "+|none~0|none~1|none~2|none~3|", "got 4"),  # four nodes
    ("|none~0|-|none~0|none~1|+|none~0|none~1|none~2|", "got 2"),  # '-' is not a separator
    ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "'none~0|'"),  # missing leading '|'
    ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2", "'|none~0|none~1|none~2'"),
    ("|none:0|+|none~0|none~1|+|none~0|none~1|none~2|", "'none:0'"),  # ':' for '~'
    ("|none~0|+|none~0|none~x|+|none~0|none~1|none~2|", "'none~x'"),  # non-numeric source
    ("|none~0|+|none~0|none~0|+|none~0|none~1|none~2|", "duplicate input ~0 in node 2"),
    ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 must have exactly 2 inputs"),
    ("|none~0|+|none~0|none~1|+|none~0|none~1|", "node 3 must have exactly 3 inputs"),
    ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "from node 1 >= 1"),
    ("|none~0|+|none~0|none~1|+|none~0|none~1|none~3|", "from node 3 >= 3"),
    ("", "got 1"),
])
def test_malformed_strings(text, bad_part):
    with pytest.raises(ArchError) as info:
        Arch.parse(text)
    assert bad_part in str(info.value)
    with pytest.raises(ArchError):  # the CLI's entry point refuses it too
        parse_arch(text)


@pytest.mark.parametrize("spec, bad_part", [
    (15_625, "15625"), (-1, "-1"), ("15625", "15625"), ("99999999", "99999999"),
    ("six", "'six'"), ("3.5", "'3.5'"), (3.0, "3.0"), (None, "None"), (True, "True"),
])
def test_bad_index(spec, bad_part):
    with pytest.raises(ArchError) as info:
        parse_arch(spec)
    assert bad_part in str(info.value)


@pytest.mark.parametrize("spec, bad_part", [("7", "'7'"), (7.0, "7.0"), (15_625, "15625")])
def test_from_index_rejects_non_int_and_out_of_range(spec, bad_part):
    with pytest.raises(ArchError) as info:
        Arch.from_index(spec)
    assert bad_part in str(info.value)


@pytest.mark.parametrize("t, bad_part", [
    ((0, 0, 0, 0, 0), "got 5"), ((0, 0, 0, 0, 0, 5), "5 at position 5"),
    ((0, 0, 0, "1", 0, 0), "'1' at position 3"),
])
def test_bad_naslib_tuples(t, bad_part):
    with pytest.raises(ArchError) as info:
        Arch.from_naslib(t)
    assert bad_part in str(info.value)
