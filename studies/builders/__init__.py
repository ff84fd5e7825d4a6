"""Maintainer scripts that rebuild the data embedded in the packages from public extracts
(the harness never runs them)."""
