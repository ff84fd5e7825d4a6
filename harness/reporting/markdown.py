"""Markdown for every report of the harness: the one table writer (cells escaped) and number
formatting."""

from __future__ import annotations

import math

from benchmarks.columns import ACCURACY_COLUMNS


def num(v, nd=3) -> str:
    if v is None:
        return "n/a"
    try:
        v = float(v)
    except (TypeError, ValueError):
        return str(v)
    return "n/a" if not math.isfinite(v) else f"{v:.{nd}f}"


def with_ci(row, metric) -> str:
    est = num(row.get(metric))
    lo, hi = row.get(f"{metric}_lo"), row.get(f"{metric}_hi")
    if lo is None or hi is None:
        return est
    return f"{est} [{num(lo)}, {num(hi)}]"


def md_table(headers, rows) -> str:
    def cell(x):
        return str(x).replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(cell(h) for h in headers) + " |",
           "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(cell(x) for x in r) + " |" for r in rows]
    return "\n".join(out)


def target_text(col: str) -> str:
    c = ACCURACY_COLUMNS.get(col)
    return f"`{col}` ({c.label})" if c else f"`{col}`"
