"""Neighbour and linear estimates of hidden numeric cells beside the network, and the blend.

The autoencoder predicts a hidden cell from the row's observed cells through a
smooth function learned on the whole table. Simpler estimators often do
better on part of it: rows that sit in tight clusters (the letters of the UCI
letter table, the strokes of a handwritten digit) are well served by copying
what their nearest neighbours observed, as KNN and random-forest imputers do;
near-linear tables by a regression of each column on the others, as MICE
does; tables of thresholds and plateaus by trees (:mod:`aeimpute.trees`), as
MissForest does. The blend takes them all:

1. every row is completed by the network (observed cells kept, hidden ones
   predicted), in the scaled encoded space the network works in;
2. neighbours (:func:`estimate`): its ``CANDIDATES`` nearest rows of a
   reference table (training rows, completed the same way) by Euclidean
   distance over all columns; for each hidden numeric cell, the first ``k``
   of them that *observed* that column give an inverse-distance weighted
   mean of their observed values (never the network's guesses);
3. linear (:func:`fit_linear`): a ridge regression of each numeric column on
   all the other columns of the completed table;
4. the filled value is ``net + a * (neighbours - net) + b * (linear - net)
   + c * (trees - net)``, with the weights fitted on the cells held back for
   validation during training (:func:`fit_weights`). Binary and categorical
   cells take nothing from the neighbours or the ridge (blending them lowered
   the accuracy on hidden categories); their probabilities are blended with
   tree classifiers' only (:func:`aeimpute.trees.fit_classes`).

Because a row's own missing cell is never observed in the reference, filling
the training table itself does not copy a row onto itself.
"""

from __future__ import annotations

import numpy as np

#: ``neighbors="auto"``: the blend is used when the training table has at most this many rows
#: (beyond it the network has data enough, and the search would cost more than the network)
NEIGHBOR_ROWS = 20_000
#: neighbours averaged per cell under ``neighbors="auto"``
DEFAULT_K = 5
#: nearest rows fetched per query row, among which the first ``k`` observing a column are used
CANDIDATES = 50
#: pseudo-cells pulling a fitted blend weight towards 0: on a few hundred held-back cells the
#: fitted weight is noisy, and the blend should earn its weight (diabetes: 442 rows, ~170 cells)
PRIOR_CELLS = 100
#: smallest neighbour weight kept: below it the neighbours are dropped and the weights refitted
#: without them, since the search costs far more per row than the network (a 20,000-row
#: reference and 50 columns: ~10x slower transform) for a share that buys next to nothing
NEIGHBOR_MIN_WEIGHT = 0.1
#: fewest held-back cells to fit the weight on
MIN_CELLS = 10

#: most values held by one batch's (rows x candidates x columns) arrays
_BATCH_VALUES = 4_000_000


def complete(z: np.ndarray, pred: np.ndarray, observed_enc: np.ndarray) -> np.ndarray:
    """Observed cells of ``z`` with the network's ``pred`` elsewhere (float32)."""
    return np.where(observed_enc, z, pred).astype(np.float32)


def estimate(
    query: np.ndarray,
    reference: np.ndarray,
    ref_observed: np.ndarray,
    feature_of_encoded: np.ndarray,
    k: int,
    need: np.ndarray | None = None,
    n_threads: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Neighbour estimate of every cell of ``query``.

    Parameters
    ----------
    query : ndarray (n, n_encoded)
        Completed rows to fill (scaled, encoded).
    reference : ndarray (m, n_encoded)
        Completed reference rows.
    ref_observed : bool ndarray (m, n_features)
        Which reference cells were observed (only those are averaged).
    feature_of_encoded : int ndarray (n_encoded,)
    k : int
        Neighbours averaged per cell.
    need : bool ndarray (n,), optional
        Rows to compute (others are left at 0 with ``found`` False).
    n_threads : int, default=1
        BLAS/OpenMP threads of the distance computations.

    Returns
    -------
    values : ndarray (n, n_encoded)
    found : bool ndarray (n, n_features)
        False where no candidate observed the column (``values`` is 0 there).
    """
    from sklearn.neighbors import NearestNeighbors
    from threadpoolctl import threadpool_limits

    n = query.shape[0]
    values = np.zeros(query.shape, dtype=np.float64)
    found = np.zeros((n, ref_observed.shape[1]), dtype=bool)
    rows = np.arange(n) if need is None else np.flatnonzero(need)
    if len(rows) == 0 or len(reference) == 0:
        return values, found
    n_cand = min(CANDIDATES, len(reference))
    search = NearestNeighbors(n_neighbors=n_cand, algorithm="brute").fit(reference)
    ref_obs = ref_observed.astype(np.float64)
    batch = max(1, _BATCH_VALUES // (n_cand * query.shape[1]))
    for start in range(0, len(rows), batch):
        r = rows[start : start + batch]
        with threadpool_limits(limits=n_threads):
            dist, idx = search.kneighbors(query[r])
        ok = ref_obs[idx]  # (b, n_cand, n_features): candidate observed the column
        weight = ok * (np.cumsum(ok, axis=1) <= k) / (dist + 1e-6)[:, :, None]
        total = weight.sum(axis=1)  # (b, n_features)
        found[r] = total > 0
        w_enc = weight[:, :, feature_of_encoded]
        num = np.einsum("bce,bce->be", w_enc, reference[idx].astype(np.float64))
        values[r] = num / np.maximum(total, 1e-300)[:, feature_of_encoded]
    return values, found


#: ridge penalties tried (generalised cross-validation) by the linear estimate
RIDGE_ALPHAS = np.logspace(-3, 3, 13)
#: grid of the blend weights
WEIGHT_STEP = 0.05


def fit_linear(
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

    Returns
    -------
    coef : ndarray (n_encoded, n_encoded)
        ``coef[:, j]``: weights of column ``j``'s regression (0 on itself and
        for columns that are not targets).
    intercept : ndarray (n_encoded,)
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


def fit_weights(
    net: np.ndarray, candidates: list[np.ndarray], truth: np.ndarray, cells: np.ndarray
) -> list[float]:
    """Blend weights of ``candidates`` against ``net``, on held-back ``cells``.

    The filled value is ``net + sum(w_i * (candidate_i - net))``; the weights
    (on a grid of ``WEIGHT_STEP``, each in [0, 1], summing to at most 1)
    minimise the squared error on ``cells`` plus a ridge towards 0 that
    weighs as much as ``PRIOR_CELLS`` cells of average gap between that
    candidate and the network. All 0 with fewer than ``MIN_CELLS`` cells.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.linspace(0, 1, 2000)[:, None]
    >>> net, better = truth + 0.2, truth + 0.01
    >>> cells = np.ones_like(truth, dtype=bool)
    >>> fit_weights(net, [better], truth, cells)  # the candidate takes over
    [1.0]
    >>> fit_weights(better, [net], truth, cells)  # a worse candidate gets nothing
    [0.0]
    """
    import itertools

    if cells.sum() < MIN_CELLS or not candidates:
        return [0.0] * len(candidates)
    resid = (truth - net)[cells]
    gaps = np.stack([(c - net)[cells] for c in candidates])  # (k, n_cells)
    gram = gaps @ gaps.T
    cross = gaps @ resid
    prior = PRIOR_CELLS * np.diag(gram) / resid.size
    grid = np.round(np.arange(0.0, 1.0 + 1e-9, WEIGHT_STEP), 10)
    best, best_w = np.inf, None
    for w in itertools.product(grid, repeat=len(candidates)):
        w = np.asarray(w)
        if w.sum() > 1.0 + 1e-9:
            continue
        loss = w @ gram @ w - 2.0 * w @ cross + prior @ w**2
        if loss < best - 1e-12:
            best, best_w = loss, w
    return [float(x) for x in best_w]
