"""A cross-fitted T-learner: one gradient-boosted classifier for P(return | messaged), one for P(return | not).

Predicted uplift = P_treated(x) − P_control(x). For evaluation every user is scored by the pair of models that
did not see them (K folds drawn per user, so someone who was in several past campaigns is never scored by a model
that saw any of their rows), so the Qini curve measures how the model ranks users it has never met. The models for
scoring today's base are then refitted on everyone.

HistGradientBoostingClassifier handles missing values (never scored, never ordered) and categorical codes
natively; categories are the 50 most frequent with at least 20 users, the rest pooled as "other".

Memory (a million past recipients peaked at 884 MB): the design matrix is float32 and built column by column
while the columns it comes from are let go; each of the two models trains on at most MAX_MODEL_ROWS rows of its
arm, a sample stratified by outcome (so the return rate is kept exactly) — gradient boosting with leaves of at
least 100 users gains nothing measurable past a few hundred thousand rows, and scikit-learn copies its training
rows to float64 and bins them; predictions are made PREDICT_CHUNK rows at a time (also copied to float64).
Every user is still scored and evaluated: the cap is on what each model trains on, not on who is judged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from console.uplift.data import Columns
from console.uplift.features import CATEGORICAL, COLUMNS

MAX_CATEGORIES = 50
MIN_CATEGORY = 20
MAX_MODEL_ROWS = 250_000      # rows a model trains on, per arm (stratified sample by outcome beyond it)
PREDICT_CHUNK = 100_000
PARAMS: dict[str, Any] = {
    "max_iter": 100,
    "learning_rate": 0.1,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 100,      # the holdout is small: leaves of a few users would fit noise
    "l2_regularization": 1.0,
    "early_stopping": False,      # deterministic, and no inner split of an already small control arm
}


def kept_categories(cols: Columns) -> dict[str, list[str]]:
    """Per categorical column, the values that get their own code (most frequent first)."""
    kept: dict[str, list[str]] = {}
    for c in CATEGORICAL:
        codes = cols.values[c]
        counts = np.bincount(codes[codes >= 0], minlength=len(cols.vocab[c])) if codes.size else np.zeros(0)
        order = [int(i) for i in np.argsort(-counts, kind="stable") if counts[i] >= MIN_CATEGORY]
        kept[c] = [cols.vocab[c][i] for i in order[:MAX_CATEGORIES]]
    return kept


def matrix(cols: Columns, kept: dict[str, list[str]], *, keep: tuple[str, ...] | None = None) -> np.ndarray:
    """The float32 design matrix in COLUMNS order: categoricals recoded to kept index / "other" (len(kept)) / NaN.

    With *keep* (column names), every other column is dropped from *cols* once copied, so the columns and the
    matrix are never held whole at the same time."""
    n = len(cols)
    X = np.empty((n, len(COLUMNS)), dtype=np.float32)
    for j, c in enumerate(COLUMNS):
        v = cols.values[c] if keep is None or c in keep else cols.values.pop(c)
        if c in CATEGORICAL:
            position = {value: i for i, value in enumerate(kept[c])}
            # vocab index → kept index; values outside the vocab (scoring: "other") stay "other"
            remap = np.array([position.get(value, len(kept[c])) for value in cols.vocab[c]] + [len(kept[c])],
                             dtype=np.float32)
            codes = np.where(v >= 0, v, len(remap) - 1)
            X[:, j] = np.where(v >= 0, remap[np.minimum(codes, len(remap) - 1)], np.nan)
        else:
            X[:, j] = v
    # A feature nobody has (e.g. no scores yet) would break the binner; a constant is never split on either.
    empty = np.isnan(X).all(axis=0) if n else np.zeros(len(COLUMNS), dtype=bool)
    X[:, empty] = 0.0
    return X


def categorical_mask() -> np.ndarray:
    return np.array([c in CATEGORICAL for c in COLUMNS])


def _model(seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(categorical_features=categorical_mask(), random_state=seed, **PARAMS)


@dataclass
class Pair:
    treated: Any
    control: Any

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p1 = np.empty(len(X))
        p0 = np.empty(len(X))
        with one_thread():
            for lo in range(0, len(X), PREDICT_CHUNK):
                part = X[lo:lo + PREDICT_CHUNK]
                p1[lo:lo + PREDICT_CHUNK] = self.treated.predict_proba(part)[:, 1]
                p0[lo:lo + PREDICT_CHUNK] = self.control.predict_proba(part)[:, 1]
        return p1, p0


def one_thread():
    """OpenMP limited to one thread: on a shared 2-core server the trees' two spinning threads made a fit 6-20×
    slower than one thread whenever the other core was busy (measured: 20 k users, 0.9 s against 5-20 s)."""
    import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime first: only loaded libraries are limited)
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="openmp")


def capped(rows: np.ndarray, y: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    """*rows* if at most *cap*, else a sample of *cap* of them stratified by outcome (each outcome keeps its
    share, so the sample's return rate is the arm's), in row order."""
    if len(rows) <= cap:
        return rows
    picked = []
    for outcome in (0, 1):
        stratum = rows[y[rows] == outcome]
        take = round(cap * len(stratum) / len(rows))
        picked.append(rng.choice(stratum, size=min(take, len(stratum)), replace=False))
    return np.sort(np.concatenate(picked))


def fit_pair(X: np.ndarray, t: np.ndarray, y: np.ndarray, seed: int, rows: np.ndarray | None = None,
             cap: int | None = None) -> Pair:
    """The two models, trained on *rows* (default all), each on at most *cap* (default MAX_MODEL_ROWS) rows of
    its arm: each arm's rows are copied out once, one at a time."""
    rows = np.arange(len(y)) if rows is None else rows
    cap = cap or MAX_MODEL_ROWS
    rng = np.random.default_rng(seed)
    on = capped(rows[t[rows] == 1], y, cap, rng)
    off = capped(rows[t[rows] == 0], y, cap, rng)
    with one_thread():
        treated = _model(seed).fit(X[on], y[on])
        control = _model(seed).fit(X[off], y[off])
    return Pair(treated, control)


def cross_fit(X: np.ndarray, t: np.ndarray, y: np.ndarray, *, groups: np.ndarray | None = None, folds: int = 3,
              seed: int = 0, progress=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Out-of-fold (uplift, p_treated, p_control) for every row.

    Folds are drawn per *group* (the user: someone in two past campaigns has two rows), so no user is scored by a
    model that trained on any of their rows; without groups, per row, stratified by arm × outcome.
    """
    p1 = np.empty(len(y))
    p0 = np.empty(len(y))
    rng = np.random.default_rng(seed)
    if groups is not None:
        unique, inverse = np.unique(groups, return_inverse=True)
        fold_of = (rng.permutation(len(unique)) % folds)[inverse]
    else:
        from sklearn.model_selection import StratifiedKFold

        strata = t.astype(np.int64) * 2 + y.astype(np.int64)
        fold_of = np.empty(len(y), dtype=np.int64)
        split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        for i, (_, test) in enumerate(split.split(np.zeros(len(y)), strata)):
            fold_of[test] = i
    for i in range(folds):
        test = np.flatnonzero(fold_of == i)
        train = np.flatnonzero(fold_of != i)
        pair = fit_pair(X, t, y, seed + i, rows=train)
        for lo in range(0, len(test), PREDICT_CHUNK):   # never a copy of the whole fold's rows
            part = test[lo:lo + PREDICT_CHUNK]
            p1[part], p0[part] = pair.predict(X[part])
        if progress:
            progress(i + 1, folds)
    return p1 - p0, p1, p0
