"""Linear estimates of hidden numeric cells: one MICE-like round of ridge regressions.

Near-linear tables are served well by a regression of each column on the
others, as MICE does. :func:`fit` learns one ridge regression per numeric
column on a table the network has completed; the blend
(:mod:`aeimpute.blend`) decides how much of it to take.
"""

from __future__ import annotations

import numpy as np

#: ridge penalties tried (generalised cross-validation)
RIDGE_ALPHAS = np.logspace(-3, 3, 13)


def fit(
    filled: np.ndarray,
    observed: np.ndarray,
    feature_of_encoded: np.ndarray,
    targets: np.ndarray,
    n_threads: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Ridge regression of each ``targets`` column on all other columns of a completed table.

    Each target encoded column is fitted on the rows where its feature was
    observed (penalty by generalised cross-validation over ``RIDGE_ALPHAS``),
    like one round of MICE with the network's completion as the predictors.
    The estimate of a completed table ``X`` is ``X @ coef + intercept``.

    Returns
    -------
    coef : ndarray (n_encoded, n_encoded)
        ``coef[:, j]``: weights of column ``j``'s regression (0 on itself and
        for columns that are not targets).
    intercept : ndarray (n_encoded,)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> X[:, 2] = 2 * X[:, 0] - X[:, 1]
    >>> coef, intercept = fit(X, np.ones((200, 3), bool), np.arange(3), np.array([0, 0, 1], bool))
    >>> np.round(coef[:, 2], 2).tolist()
    [2.0, -1.0, 0.0]
    """
    from sklearn.linear_model import RidgeCV
    from threadpoolctl import threadpool_limits

    p = filled.shape[1]
    coef, intercept = np.zeros((p, p)), np.zeros(p)
    X = filled.astype(np.float64)
    for j in np.flatnonzero(targets):
        rows = observed[:, feature_of_encoded[j]]
        if rows.sum() < 3:
            continue
        others = np.arange(p) != j
        with threadpool_limits(limits=n_threads):
            model = RidgeCV(alphas=RIDGE_ALPHAS).fit(X[rows][:, others], X[rows, j])
        coef[others, j] = model.coef_
        intercept[j] = model.intercept_
    return coef, intercept
