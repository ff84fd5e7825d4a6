"""Search studies: the leaderboard, the objective's selection, an estimator bound (results
in ``reports/search/``, see its README)."""
