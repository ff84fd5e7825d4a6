"""Loading the official benchmark files without running code from them.

A pickle can call any importable function while it loads, so a crafted ``.pth`` or NATS-Bench
record could run code. Both formats hold plain data only: dicts, ``OrderedDict``, lists,
tuples, strings, numbers and numpy scalars (the NATS-Bench tss/sss fixture archives reference
exactly ``collections.OrderedDict``, ``numpy.core.multiarray.scalar`` and ``numpy.dtype``;
``meta.pickle.pbz2`` no global at all). The unpicklers here allow those globals and nothing
else, and a numpy scalar only of a numeric dtype: anything else is refused before it is
called. NATS-Bench records are read with :func:`load_bz2_pickle`, NB201 ``.pth`` files with
``torch.load(weights_only=True)`` plus the same allow-list (:func:`torch_load`).
"""

from __future__ import annotations

import bz2
import codecs
import collections
import pickle
from pathlib import Path

import numpy as np

try:  # numpy >= 2 keeps it in numpy._core; files written with numpy 1 name numpy.core
    from numpy._core.multiarray import scalar as _numpy_scalar
except ImportError:  # pragma: no cover - numpy 1
    from numpy.core.multiarray import scalar as _numpy_scalar


class UnsafePickleError(pickle.UnpicklingError):
    """The file asks for something an official benchmark file does not contain."""


def numeric_scalar(dtype, data=None):
    """``numpy.core.multiarray.scalar`` for bool / integer / float / complex dtypes only (an
    object dtype would return whatever object the pickle built)."""
    if not isinstance(dtype, np.dtype) or dtype.kind not in "biufc":
        raise UnsafePickleError(f"numpy scalar of dtype {dtype!r} is not allowed")
    if not isinstance(data, bytes):
        raise UnsafePickleError("numpy scalar without raw bytes is not allowed")
    return _numpy_scalar(dtype, data)


def latin1_encode(text, encoding="latin1"):
    """``_codecs.encode`` as protocol-2 pickles use it for bytes (latin-1 only)."""
    if not isinstance(text, str) or encoding != "latin1":
        raise UnsafePickleError("_codecs.encode is allowed for latin1 text only")
    return codecs.encode(text, "latin1")


ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("numpy.core.multiarray", "scalar"): numeric_scalar,
    ("numpy._core.multiarray", "scalar"): numeric_scalar,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): latin1_encode,
}


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return ALLOWED[module, name]
        except KeyError:
            raise UnsafePickleError(f"it references {module}.{name}, which an official "
                                    "benchmark file does not contain") from None


def load_bz2_pickle(path: str | Path):
    """A bz2-compressed pickle (NATS-Bench ``*.pickle.pbz2``), allow-listed globals only."""
    with bz2.open(path, "rb") as f:
        return RestrictedUnpickler(f).load()


def torch_load(path: str | Path):
    """An NB201 ``.pth`` through ``torch.load(weights_only=True)`` with the allow-list
    (torch's own restricted unpickler: tensors and containers, plus the globals above)."""
    import torch

    extra = [(fn, f"{module}.{name}") for (module, name), fn in ALLOWED.items()
             if module != "collections"]  # torch allows OrderedDict itself
    extra += [type(np.dtype(code)) for code in "?bhilqBHILQefdgFDG"]  # Float64DType, ...
    with torch.serialization.safe_globals(extra):
        return torch.load(path, map_location="cpu", weights_only=True)
