"""Where the studies' results live: under ``reports/`` of the repository, apart from the code.

Paths are resolved from this file, so a study writes to the same place from any working
directory (``studies/`` is not installed, it always sits in the repository).
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports"
PROXY_RUNS = REPORTS / "proxies" / "runs"
SEARCH_REPORTS = REPORTS / "search"
