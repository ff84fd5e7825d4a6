"""Proxy studies: our correlations beside the published ones, and why they differ
(results in ``reports/proxies/``, see its README)."""
