"""Uplift targeting (issue #15): spend where a message changes minds, learned from our own holdouts.

- `features` — each recipient's features as they were when the campaign froze (`uplift_features`), and the same
  features for today's base (for scoring).
- `data` — the training set: frozen features of real runs with a holdout whose conversion window has closed,
  labelled "returned" exactly as console.outcomes counts it.
- `metrics` — Qini curve, Qini coefficient, uplift at k %, and their (Poisson) bootstrap intervals.
- `learner` — a cross-fitted T-learner on scikit-learn's HistGradientBoostingClassifier.
- `calibration` — the predicted size mapped onto what the holdouts observed (isotonic on groups of cross-fitted
  predictions); every stored score is calibrated.
- `fit` — fit, verdict, store (`uplift_fits`) and score every profiled user (`uplift_scores`, calibrated).
- `targeting` — whether uplift may be used to rank (the latest fit's verdict) and what a budget buys.

A simulated past campaign with a known effect (tests, benchmark) is tests/uplift_sim.py.
"""
