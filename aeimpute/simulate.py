"""Missingness generators: hide cells of a complete table, with the random generator passed in."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def mcar(
    X: pd.DataFrame | np.ndarray,
    rate: float,
    rng: np.random.Generator | int | None = None,
) -> tuple[pd.DataFrame | np.ndarray, np.ndarray]:
    """Hide each cell independently with probability ``rate`` (missing completely at random).

    Parameters
    ----------
    X : DataFrame or ndarray
        Complete table; not modified.
    rate : float
        Probability in (0, 1) that a cell is hidden.
    rng : numpy Generator, int or None
        Source of randomness.

    Returns
    -------
    X_missing : same kind as X
        A copy with the hidden cells set to missing.
    mask : ndarray of bool, same shape as X
        True where a cell was hidden.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(12, dtype=float).reshape(4, 3)
    >>> Xm, mask = mcar(X, 0.5, rng=np.random.default_rng(0))
    >>> bool(np.isnan(Xm[mask]).all()), bool((Xm[~mask] == X[~mask]).all())
    (True, True)
    """
    if not (isinstance(rate, (int, float)) and 0 < rate < 1):
        raise ValueError(f"rate must be a number in (0, 1); got {rate!r}")
    if not isinstance(X, (pd.DataFrame, np.ndarray)) or np.ndim(X) != 2:
        raise TypeError("X must be a DataFrame or a 2-D numpy array")
    mask = _rng(rng).random(X.shape) < rate
    if isinstance(X, pd.DataFrame):
        return X.mask(mask), mask
    out = np.array(X, dtype=float, copy=True)
    out[mask] = np.nan
    return out, mask
