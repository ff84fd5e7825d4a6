"""Scores of your own: modules that register scores with :func:`nasi.scores.register`.

``load_plugins(["my_scores", "path/to/scores.py"])`` imports each module once (a module name
from ``sys.path``, or a ``.py`` file). Every plugin loaded in this process is remembered in
:data:`LOADED`, so that worker processes and Ray tasks import the same modules before they
score (:mod:`harness.scoring.shipping`).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path

from .registry import ScoreError

LOADED: list[str] = []  # plugin specs imported here, as workers must import them (paths resolved)


def _module_name_for(path: Path) -> str:
    """A stable module name for a plugin file: the same in the driver and every worker."""
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:8]
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    return f"nasi_plugin_{stem}_{digest}"


def _import_file(path: Path):
    name = _module_name_for(path)
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ScoreError(f"plugin {path} is not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def load_plugin(spec: str) -> str:
    """Import one plugin (a module name or a ``.py`` path); returns the spec workers use.
    A plugin that cannot be found or read raises a one-line ScoreError; an error inside the
    plugin's own code propagates as it is (a bug there deserves its traceback)."""
    text = str(spec).strip()
    if not text:
        raise ScoreError("empty --plugin")
    try:
        if text.endswith(".py") or "/" in text or "\\" in text:
            path = Path(text).expanduser().resolve()
            if not path.is_file():
                raise ScoreError(f"plugin file {text} does not exist")
            _import_file(path)
            text = str(path)
        else:
            importlib.import_module(text)
    except (ImportError, SyntaxError) as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        raise ScoreError(f"cannot import plugin {text!r}: {type(exc).__name__}: {first}") \
            from None
    if text not in LOADED:
        LOADED.append(text)
    return text


def load_plugins(specs) -> list[str]:
    """Import every plugin of ``specs`` (in order); returns their specs as workers use them."""
    return [load_plugin(s) for s in specs or ()]
