"""How scores of your own reach worker processes and Ray tasks.

A worker starts with the built-in scores only. Before a job runs there, it receives a
:class:`ScorePack`: the plugins loaded in the driver (:data:`nasi.scores.plugins.LOADED`,
imported again by the worker) and the other registered scores, pickled. Scores defined in
``__main__`` -- a notebook, ``python -c`` -- cannot be imported by a worker, so they are
pickled by value with cloudpickle (its own package, or the copy Ray ships). Where no
cloudpickle exists, :func:`pack_scores` says so and the executor scores in this process,
with a one-line warning, rather than fail in the workers with ``unknown score``.
"""

from __future__ import annotations

import hashlib
import pickle
import sys
from dataclasses import dataclass

from nasi.scores import SCORES, available_scores
from nasi.scores.plugins import LOADED, load_plugins

BUILTIN_PREFIX = "nasi.scores."
MAIN_MODULES = ("__main__", "__mp_main__")


@dataclass(frozen=True)
class ScorePack:
    plugins: tuple[str, ...]
    scores: bytes  # pickled {name: Score} of the scores not built in
    digest: str  # identifies the pack, so a worker installs each pack once


class CannotShip(Exception):
    """Scores defined in ``__main__`` and no cloudpickle to send them by value."""


def _by_value_pickler():
    try:
        import cloudpickle
    except ImportError:
        try:
            from ray import cloudpickle
        except ImportError:
            return None
    return cloudpickle


def _by_reference(scores: dict) -> bytes | None:
    try:
        return pickle.dumps(scores)
    except (pickle.PicklingError, AttributeError, TypeError):
        return None


def pack_scores() -> ScorePack | None:
    """What workers need besides the built-in scores; None when nothing (no cost then).
    Raises CannotShip when a ``__main__`` score cannot be pickled by value."""
    available_scores()  # the built-in modules first, so they are told apart below
    extra = {n: s for n, s in SCORES.items() if not s.fn.__module__.startswith(BUILTIN_PREFIX)}
    if not extra and not LOADED:
        return None
    in_main = sorted(n for n, s in extra.items() if s.fn.__module__ in MAIN_MODULES)
    blob = None if in_main else _by_reference(extra)
    if blob is None:  # __main__ scores, lambdas, closures: by value
        pickler = _by_value_pickler()
        if pickler is None:
            names = ", ".join(in_main or sorted(extra))
            raise CannotShip(f"score(s) {names} defined in __main__ (or not importable) cannot "
                             "reach worker processes without cloudpickle (pip install "
                             "cloudpickle)")
        blob = pickler.dumps(extra)
    digest = hashlib.sha1(blob + "\0".join(LOADED).encode()).hexdigest()
    return ScorePack(tuple(LOADED), blob, digest)


_INSTALLED: set[str] = set()  # worker side: packs already installed in this process


def install_scores(pack: ScorePack | None) -> None:
    """Worker side: import the pack's plugins and register its scores (once per pack)."""
    if pack is None or pack.digest in _INSTALLED:
        return
    load_plugins(pack.plugins)
    available_scores()
    for name, score in pickle.loads(pack.scores).items():
        SCORES.setdefault(name, score)  # a re-run __main__ may have registered it already
    _INSTALLED.add(pack.digest)


def run_with_scores(pack: ScorePack | None, fn, job, shared, device: str):
    """An executor task: the pack installed, then ``fn(job, shared, device)``."""
    install_scores(pack)
    return fn(job, shared, device)


def warn_in_process(reason: str) -> None:
    sys.stderr.write(f"warning: {reason}; scoring in this process instead of the workers\n")
