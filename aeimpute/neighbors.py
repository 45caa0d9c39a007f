"""Neighbour estimates of hidden numeric cells: what the nearest rows observed.

Rows that sit in tight clusters (the letters of the UCI letter table, the
strokes of a handwritten digit) are well served by copying what their nearest
neighbours observed, as KNN and random-forest imputers do. :func:`estimate`
finds, for each row of a completed table, its ``CANDIDATES`` nearest rows of a
reference table (training rows, completed the same way) by Euclidean distance
over all columns; for each cell, the first ``k`` of them that *observed* that
column give an inverse-distance weighted mean of their observed values (never
the network's guesses). Because a row's own missing cell is never observed in
the reference, filling the training table itself does not copy a row onto
itself. The blend (:mod:`aeimpute.blend`) decides how much of it to take.
"""

from __future__ import annotations

import numpy as np

#: neighbours averaged per cell under ``neighbors="auto"``
DEFAULT_K = 5
#: nearest rows fetched per query row, among which the first ``k`` observing a column are used
CANDIDATES = 50
#: smallest neighbour weight kept: below it the neighbours are dropped and the weights refitted
#: without them, since the search costs far more per row than the network (a 20,000-row
#: reference and 50 columns: ~10x slower transform) for a share that buys next to nothing
NEIGHBOR_MIN_WEIGHT = 0.1

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
