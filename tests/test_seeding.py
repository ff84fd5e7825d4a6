"""nasi.seeding: every derived seed keeps the value the formulas had before they were gathered
in one module (values hard-coded from the code at 6924c0c: nasi/search.py, nasi/blackbox.py,
nasi/data.py and nasi/scoring.py each derived their own)."""

from __future__ import annotations

import hashlib

import pytest

from nasi import seeding
from nasi.data import derived_seed
from nasi.space import all_archs

SEARCH = {  # seed -> derive_seed(SEARCH, seed, purpose) for the purposes below
    "purposes": ("supernet", "gumbel", "batches", "pool", "random-baseline", "supernet:3"),
    0: (7702099713939409265, 6089383242383634095, 693153029046330146, 3019631158898864811,
        90973519645005359, 6957137978624800941),
    7: (5770166183225205146, 4075619141982057893, 8595665427181072157, 2321225747996247867,
        3248453268658257973, 7989458884754125392),
    123456789: (6787491922628490756, 8738650717380499804, 1866445372687602754,
                4939060026962616748, 1512241007345626545, 1331275089798431345),
}
BLACKBOX = {
    "purposes": ("evolution", "random", "reinforce"),
    0: (3749637203401290210, 2812881224082884974, 7351394901860199977),
    7: (770526764358467472, 963994345204786516, 8780204759945415622),
    123456789: (295690883237514547, 3896286610518694265, 436863953927509254),
}
DATA = {
    "purposes": ("labels", "per-arch-batch"),
    0: (2356300411299555726, 8111728929753112641),
    7: (8617542818985923040, 5274822489181882428),
    123456789: (8585928819633380377, 212585420323214986),
}
ARCH = {  # seed -> arch_seed(seed, all_archs()[i]) for i = 0, 1462, 15624
    0: (5766513856230336659, 892558281994742375, 1295797071479830759),
    7: (7116634954695310199, 16251156890052934, 3652471478568207088),
    123456789: (5034925369148735986, 4162524502321818967, 4970834708337465867),
}


@pytest.mark.parametrize(("namespace", "table"), [(seeding.SEARCH, SEARCH),
                                                  (seeding.BLACKBOX, BLACKBOX),
                                                  (seeding.DATA, DATA)])
def test_derived_seeds_keep_their_values(namespace, table):
    for seed in (0, 7, 123456789):
        got = tuple(seeding.derive_seed(namespace, seed, p) for p in table["purposes"])
        assert got == table[seed]


def test_data_seed_is_the_data_namespace():
    assert derived_seed(0, "labels") == seeding.derive_seed(seeding.DATA, 0, "labels")


def test_arch_seeds_keep_their_values():
    archs = all_archs()
    for seed, expected in ARCH.items():
        assert tuple(seeding.arch_seed(seed, archs[i]) for i in (0, 1462, 15624)) == expected


def test_the_formula_is_sha256_of_the_text():
    digest = hashlib.sha256(b"nasi.search:5:gumbel").digest()
    assert seeding.derive_seed(seeding.SEARCH, 5, "gumbel") == \
        int.from_bytes(digest[:8], "little") & (2**63 - 1)
    assert 0 <= seeding.derive_seed(seeding.BLACKBOX, 2**70, "x") < 2**63


def test_unknown_namespace_is_refused():
    with pytest.raises(ValueError, match="namespace"):
        seeding.derive_seed("nasi.other", 0, "x")


def test_torch_generator_is_private_and_seeded():
    import torch

    a = torch.rand(3, generator=seeding.torch_generator(11))
    torch.manual_seed(0)
    b = torch.rand(3, generator=seeding.torch_generator(11))
    assert torch.equal(a, b)
