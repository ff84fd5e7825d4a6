"""Accuracy columns read from the official benchmark files (optional: ``nasi-harness[official]``).

``load_official(path)`` returns ``index`` (0..15624) plus every column of
:data:`benchmarks.columns.ACCURACY_COLUMNS`, each value being exactly what the official API's
``get_more_info(index, api_dataset, hp='200', is_random=False)`` returns (final epoch of the
200-epoch run, mean over the seeds present), top-1 %. Two sources are understood:

- a NATS-Bench tss ``fast_mode`` folder (``NATS-tss-v1_0-3ffb9-simple``: ``meta.pickle.pbz2`` plus
  one ``NNNNNN.pickle.pbz2`` per architecture), unpickled by :mod:`benchmarks.safe_pickle` and
  interpreted with the ``nats_bench`` package;
- an NB201 file (``NAS-Bench-201-v1_0-e61699.pth`` / ``NAS-Bench-201-v1_1-096897.pth``), loaded
  by :mod:`benchmarks.safe_pickle` and interpreted with the ``nas_201_api`` package.

Architectures without a record (a partial archive) get NaN accuracies and one warning.

Memory and torch facts that shape this module:

- The NATS API caches every record it has loaded, about 4 MB of Python objects each, and never
  evicts them: a full traversal grows to tens of GB. We unpickle one record at a time
  ourselves, hand it to the package's ``ArchResults``, query it with the API's
  ``get_more_info`` and drop it before the next one.
- The NB201 ``.pth`` is one pickled dict of all records; loading it takes about 28 GB of RAM
  (D-X-Y/AutoDL-Projects #78), whatever reads it. ``NASBench201API(path)`` itself fails under
  torch >= 2.6 ("Weights only load failed": the records hold ``numpy.float64`` scalars). We
  ``torch.load(weights_only=True)`` it with those numpy globals allowed and never give the
  dict to the API constructor (it would deep-copy it): each record is turned into
  ``ArchResults`` (which shares, not copies, the loaded objects), queried, and removed from
  the dict, so the peak stays that of the loaded file.
- No benchmark file can run code: every pickle (NATS ``meta`` and records, the ``.pth``) is
  loaded with an allow-list of the globals the official files contain
  (:mod:`benchmarks.safe_pickle`); a crafted file gets a one-line refusal.

Extraction takes minutes for a full archive, so its result is cached as a gzipped CSV in
``cache_dir`` (default ``$XDG_CACHE_HOME/nasi-harness`` or ``~/.cache/nasi-harness``), keyed by
the resolved path and modification times; it is written atomically (temp file + ``os.replace``).
A folder's modification time changes when record files are added or removed, not when one is
rewritten in place: delete the cache file after editing records.
"""

from __future__ import annotations

import collections
import hashlib
import importlib
import logging
import math
import os
import re
import secrets
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from nasi.space import NUM_ARCHS, all_archs

from .columns import ACCURACY_COLUMNS, Column
from .errors import BenchmarkError
from .safe_pickle import UnsafePickleError, load_bz2_pickle, torch_load

log = logging.getLogger(__name__)
# progress(records read, records in all), called after every record; the harness passes its
# progress line (harness.progress), else the counts go to this module's logger
ProgressFn = Callable[[int, int], None]
LOG_EVERY = 1000  # records between two log lines when no progress function is given

# Bump when extraction changes: old cache files are then ignored.
CACHE_VERSION = "1"
NATS_META = "meta.pickle.pbz2"
NATS_RECORD = re.compile(r"^(\d+)\.pickle\.pbz2$")  # 000123.pickle.pbz2 (or 123.pickle.pbz2)

WHERE_TO_GET = (
    "expected a NATS-Bench tss fast_mode folder NATS-tss-v1_0-3ffb9-simple (unpack "
    "NATS-tss-v1_0-3ffb9-simple.tar from https://github.com/D-X-Y/NATS-Bench) or the NB201 file "
    "NAS-Bench-201-v1_1-096897.pth (https://github.com/D-X-Y/NAS-Bench-201); "
    "omit the path to use the embedded table"
)

ROW_COLUMNS = ["index", *ACCURACY_COLUMNS]


def _error(path: Path, problem: str) -> BenchmarkError:
    return BenchmarkError(f"cannot read benchmark {path}: {problem}; {WHERE_TO_GET}")


def _reason(exc: BaseException) -> str:
    """One line about an exception (torch's unpickling errors span many lines)."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nasi-harness"


def load_official(path: Path, cache_dir: str | Path | None = None,
                  progress: ProgressFn | None = None) -> pd.DataFrame:
    """``index`` + accuracy columns of all 15,625 architectures from an official benchmark file.
    ``progress(done, total)`` follows the first read (minutes); a cached table reads at once."""
    path = Path(path).expanduser()
    kind = _identify(path)
    cache_file = _cache_file(path, Path(cache_dir) if cache_dir else default_cache_dir())
    table = _read_cache(cache_file)
    if table is None:
        table = extract(path, kind, progress)
        _write_cache(table, cache_file)
    missing = int(table[list(ACCURACY_COLUMNS)].isna().all(axis=1).sum())
    if missing:
        warnings.warn(f"{missing} of {NUM_ARCHS} architectures have no record in {path}; "
                      "their accuracies are NaN", stacklevel=2)
    return table


def _identify(path: Path) -> str:
    """'nats' for a fast_mode folder, 'nb201' for a .pth file; BenchmarkError otherwise."""
    if not path.exists():
        raise _error(path, "no such file or folder")
    if path.is_dir():
        if not (path / NATS_META).is_file():
            raise _error(path, f"the folder has no {NATS_META}")
        return "nats"
    if path.suffix == ".pth":
        return "nb201"
    if path.name == NATS_META or NATS_RECORD.match(path.name):
        raise _error(path, "this is one file of a NATS fast_mode archive; pass its folder")
    if path.name.endswith(".pickle.pbz2"):
        raise _error(path, "the single-file NATS archive (fast_mode=False) needs more memory "
                           "than most machines have and is not supported; use the -simple folder")
    raise _error(path, "neither a NATS-Bench fast_mode folder nor an NB201 .pth file")


# ----------------------------------------------------------------------------- extraction
def extract(path: Path, kind: str, progress: ProgressFn | None = None) -> pd.DataFrame:
    """Read every record (no cache): the table :func:`load_official` returns."""
    values = np.full((NUM_ARCHS, len(ACCURACY_COLUMNS)), np.nan)
    # an NB201 file's record count is known only once it is loaded: expect the whole space
    total = len(_record_files(path)) if kind == "nats" else NUM_ARCHS
    rows = _nats_rows(path) if kind == "nats" else _nb201_rows(path)
    report = progress or _log_progress(path)
    start, count = time.perf_counter(), 0
    for index, row in rows:
        values[index] = [row[c] for c in ACCURACY_COLUMNS]
        count += 1
        report(count, max(total, count))
    elapsed = time.perf_counter() - start
    log.info("%s: %d records in %.1f s (%.1f ms per record)", path, count, elapsed,
             1e3 * elapsed / max(count, 1))
    table = pd.DataFrame(values, columns=list(ACCURACY_COLUMNS))
    table.insert(0, "index", np.arange(NUM_ARCHS))
    return table


def _log_progress(path: Path) -> ProgressFn:
    def report(done: int, total: int) -> None:
        if done % LOG_EVERY == 0:
            log.info("%s: %d of %d records read", path, done, total)

    return report


def _query(column: Column) -> tuple[str, str, str]:
    """(dataset, hp, ``get_more_info`` key) that holds ``column`` (see benchmarks.columns)."""
    if column.eval_set == "x-valid":
        key = "valid-accuracy"
    elif column.eval_set == "x-test":
        key = "test-accuracy"
    elif column.eval_set == "ori-test":
        # CIFAR-10 has no x-test: its 'test' is ori-test; elsewhere ori-test is 'valtest'.
        key = ("test-accuracy" if column.api_dataset in ("cifar10", "cifar10-valid")
               else "valtest-accuracy")
    else:
        raise ValueError(f"no get_more_info key for eval set {column.eval_set!r}")
    return column.api_dataset, str(column.epochs), key


def _record_accuracies(api, index: int) -> dict[str, float]:
    """All accuracy columns of one loaded record, through the API's own ``get_more_info``."""
    infos: dict[tuple[str, str], dict | None] = {}
    row = {}
    for name, column in ACCURACY_COLUMNS.items():
        dataset, hp, key = _query(column)
        if (dataset, hp) not in infos:
            try:
                infos[dataset, hp] = api.get_more_info(index, dataset, hp=hp, is_random=False)
            except KeyError:  # the record has no run on this dataset / hp
                infos[dataset, hp] = None
        value = (infos[dataset, hp] or {}).get(key)
        row[name] = math.nan if value is None else float(value)
    return row


def _official(module: str, path: Path):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BenchmarkError(
            f"reading {path} needs the optional package {module!r} ({_reason(exc)}); "
            "install it with: pip install 'nasi-harness[official]'"
        ) from exc


def _check_order(path: Path, meta_archs) -> None:
    order = [str(a) for a in all_archs()]
    if list(meta_archs) != order:
        raise _error(path, f"its architecture list ({len(meta_archs)} entries) is not the "
                           f"NB201 / NATS tss space of {NUM_ARCHS} in benchmark order")


def _nats_rows(folder: Path) -> Iterator[tuple[int, dict[str, float]]]:
    """(index, accuracies) per record file of a NATS fast_mode folder, one record in memory.
    Every file is unpickled by us with the allow-list (benchmarks.safe_pickle), never by the
    package's plain pickle.load; the package only interprets the loaded dicts."""
    nats_bench = _official("nats_bench", folder)
    from nats_bench.api_utils import ArchResults

    meta = _safe_load(folder / NATS_META, load_bz2_pickle)
    if not isinstance(meta, dict) or not isinstance(meta.get("meta_archs"), list):
        raise _error(folder / NATS_META, "not a NATS-Bench meta file (no meta_archs list)")
    _check_order(folder, meta["meta_archs"])
    api = nats_bench.api_topology.NATStopology(
        {"meta_archs": meta["meta_archs"], "arch2infos": {}, "evaluated_indexes": []},
        fast_mode=False, verbose=False)
    for index, file in _record_files(folder).items():
        record = _safe_load(file, load_bz2_pickle)
        try:
            api.arch2infos_dict[index] = collections.OrderedDict(
                (hp, ArchResults.create_from_state_dict(state)) for hp, state in record.items())
            api.evaluated_indexes.add(index)
        except Exception as exc:
            raise _error(file, f"unreadable record ({_reason(exc)})") from exc
        try:
            yield index, _record_accuracies(api, index)
        finally:  # the API would keep it forever
            api.arch2infos_dict.pop(index, None)
            api.evaluated_indexes.discard(index)


def _safe_load(path: Path, loader):
    """``loader(path)``; a refused global or an unreadable file is a one-line BenchmarkError."""
    try:
        return loader(path)
    except UnsafePickleError as exc:
        raise BenchmarkError(f"refusing to load {path}: {exc}; only plain data is loaded from "
                             "benchmark files, no code runs (README, 'What is trusted')") from None
    except Exception as exc:  # a damaged file: any unpickling or decompression error
        raise _error(path, f"unreadable ({_reason(exc)})") from exc


def _torch_load_checked(path: Path):
    """torch_load, with a refused global reported as UnsafePickleError (torch wraps it in
    its own UnpicklingError whose text names the global)."""
    import pickle

    try:
        return torch_load(path)
    except UnsafePickleError:
        raise
    except pickle.UnpicklingError as exc:
        text = str(exc)
        name = re.search(r"GLOBAL ([\w.]+)", text)
        if name:
            raise UnsafePickleError(f"it references {name.group(1)}, which an official "
                                    "benchmark file does not contain") from None
        parts = [p.strip() for p in text.split("\n\n") if p.strip()]
        if text.startswith("Weights only load failed") and len(parts) > 2:
            # torch's advice to load with weights_only=False does not apply: say what failed
            raise pickle.UnpicklingError(f"not a benchmark pickle ({parts[1]})") from None
        raise


def _record_files(folder: Path) -> dict[int, Path]:
    files = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            m = NATS_RECORD.match(entry.name)
            if m and int(m.group(1)) < NUM_ARCHS:
                files.setdefault(int(m.group(1)), Path(entry.path))
    return dict(sorted(files.items()))


def _nb201_rows(path: Path) -> Iterator[tuple[int, dict[str, float]]]:
    """(index, accuracies) per record of an NB201 .pth file (see the module docstring)."""
    nas_201_api = _official("nas_201_api", path)
    data = _safe_load(path, _torch_load_checked)
    if not isinstance(data, dict) or not {"meta_archs", "arch2infos"} <= data.keys():
        raise _error(path, "not an NB201 benchmark file (no meta_archs / arch2infos)")
    _check_order(path, data["meta_archs"])
    # An API with no records (cheap to deep-copy); records are lent to it one at a time.
    api = nas_201_api.NASBench201API(
        {"meta_archs": data["meta_archs"], "arch2infos": {}, "evaluated_indexes": []},
        verbose=False,
    )
    records = data.pop("arch2infos")
    del data
    for index in sorted(records):
        entry = records.pop(index)  # freed once queried
        if not (isinstance(index, int) and 0 <= index < NUM_ARCHS):
            raise _error(path, f"record key {index!r} is not an architecture index")
        try:
            api.arch2infos_dict[index] = {
                "200": nas_201_api.ArchResults.create_from_state_dict(entry["full"])
            }
        except Exception as exc:
            raise _error(path, f"record {index} is malformed ({_reason(exc)})"
                         ) from exc
        try:
            yield index, _record_accuracies(api, index)
        finally:
            del api.arch2infos_dict[index]


# ----------------------------------------------------------------------------- cache
def _cache_file(source: Path, cache_dir: Path) -> Path:
    """Cache file for ``source``: changes when the path, its mtime or the meta file change."""
    source = source.resolve()
    st = source.stat()
    stamp = [str(source), str(st.st_mtime_ns), str(st.st_size), CACHE_VERSION]
    if source.is_dir():
        stamp.append(str((source / NATS_META).stat().st_mtime_ns))
    key = hashlib.sha256("\0".join(stamp).encode()).hexdigest()[:16]
    return cache_dir / f"{source.name}.{key}.csv.gz"


def _read_cache(file: Path) -> pd.DataFrame | None:
    """The cached table, or None when absent or damaged (then it is rebuilt, never fatal)."""
    if not file.is_file():
        return None
    try:
        table = pd.read_csv(file)
    except Exception as exc:
        log.warning("ignoring unreadable cache %s (%s)", file, exc)
        return None
    if list(table.columns) != ROW_COLUMNS or list(table["index"]) != list(range(NUM_ARCHS)):
        log.warning("ignoring cache %s: unexpected columns or rows", file)
        return None
    return table


def _write_cache(table: pd.DataFrame, file: Path) -> None:
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        # A unique temp name in the same folder (os.replace is atomic only within a file
        # system); opened with the default permissions, unlike mkstemp's 0600.
        tmp = file.with_name(f"{file.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            with open(tmp, "xb") as f:
                table.to_csv(f, index=False, compression={"method": "gzip", "mtime": 0})
            os.replace(tmp, file)  # readers see the old file or the whole new one
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as exc:
        warnings.warn(f"could not write the benchmark cache {file} ({exc}); "
                      "the next load will read the records again", stacklevel=3)
