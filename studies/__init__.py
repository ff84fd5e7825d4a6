"""Study code behind the committed results under ``reports/``, and the data builders.

Not installed with the packages. Run a study from the repository root as a module, e.g.
``python -m studies.proxies.make_table reports/proxies/runs/*``; results stay under
``reports/`` (``studies.paths``).
"""
