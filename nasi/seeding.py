"""Every seed the method derives from a run seed, in one place.

A derived seed is the first 8 bytes (little-endian) of SHA-256 over a text, masked to 63 bits:
stable across processes, platforms and Python versions, and independent of any global RNG.

Namespaces of :func:`derive_seed` (the text is ``"<namespace>:<seed>:<purpose>"``):

- ``DATA`` (``"nasi.data"``): ``"labels"``, the random labels of a fixed scoring batch
  (:mod:`nasi.data`); studies derive their own purposes here (e.g. ``"per-arch-batch"``).
- ``SEARCH`` (``"nasi.search"``): ``"supernet"`` (the supernet's weights), ``"supernet:<k>"``
  (its k-th redraw), ``"gumbel"`` (the Gumbel noise), ``"batches"`` (the per-step batch draw),
  ``"pool"`` (the image pool those batches come from), ``"random-baseline"`` (the random
  search at equal time).
- ``BLACKBOX`` (``"nasi.blackbox"``): the method name (``"evolution"``, ``"random"``,
  ``"reinforce"``), the generator of that black-box search.

:func:`arch_seed` is the initialisation seed of a scored network: SHA-256 over
``"<seed>|<isomorphism key>"``, without a namespace (the first format stored in score caches;
changing it would change every cached score).
"""

from __future__ import annotations

import hashlib

import torch

DATA = "nasi.data"
SEARCH = "nasi.search"
BLACKBOX = "nasi.blackbox"
NAMESPACES = (DATA, SEARCH, BLACKBOX)
_MASK_63 = 2**63 - 1


def _hash_seed(text: str) -> int:
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:8], "little") & _MASK_63


def derive_seed(namespace: str, seed: int, purpose: str) -> int:
    """A 63-bit seed for ``purpose`` derived from the run ``seed`` within ``namespace``."""
    if namespace not in NAMESPACES:
        raise ValueError(f"unknown seed namespace {namespace!r}; expected one of {NAMESPACES}")
    return _hash_seed(f"{namespace}:{int(seed)}:{purpose}")


def arch_seed(seed: int, arch) -> int:
    """Per-architecture init seed from (global seed, isomorphism key): isomorphic
    architectures (one network) share it, and it does not depend on the scoring order."""
    return _hash_seed(f"{seed}|{arch.iso_key}")


def torch_generator(seed: int) -> torch.Generator:
    """A private CPU ``torch.Generator`` seeded with ``seed`` (never the global RNG)."""
    generator = torch.Generator(device="cpu")
    generator.manual_seed(seed)
    return generator
