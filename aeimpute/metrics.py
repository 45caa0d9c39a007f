"""Error of an imputation on the cells that were hidden."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _matrix(X) -> np.ndarray:
    return X.to_numpy(dtype=float) if isinstance(X, pd.DataFrame) else np.asarray(X, dtype=float)


def rmse(
    X_true: pd.DataFrame | np.ndarray,
    X_imputed: pd.DataFrame | np.ndarray,
    mask: np.ndarray,
    scale: str = "minmax",
) -> float:
    """Root mean squared error over the hidden cells of numeric data.

    Parameters
    ----------
    X_true, X_imputed : DataFrame or ndarray
        Complete table and its imputed version, same shape.
    mask : ndarray of bool
        True for the cells that were hidden (and are scored).
    scale : {"minmax", "none"}
        ``"minmax"`` scales each column to [0, 1] with the true table's
        minimum and maximum first (the GAIN protocol); ``"none"`` uses
        original units.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([[0.0, 0.0], [1.0, 2.0]])
    >>> i = np.array([[0.5, 0.0], [1.0, 2.0]])
    >>> rmse(t, i, np.array([[True, False], [False, False]]))
    0.5
    """
    t, p = _matrix(X_true), _matrix(X_imputed)
    mask = np.asarray(mask, dtype=bool)
    if t.shape != p.shape or t.shape != mask.shape:
        raise ValueError(f"shapes differ: {t.shape}, {p.shape}, mask {mask.shape}")
    if not mask.any():
        raise ValueError("mask selects no cell")
    if scale == "minmax":
        lo, hi = t.min(axis=0), t.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        t, p = (t - lo) / span, (p - lo) / span
    elif scale != "none":
        raise ValueError(f"scale must be 'minmax' or 'none'; got {scale!r}")
    err = (t - p)[mask]
    if np.isnan(err).any():
        raise ValueError("the imputed table still has missing values in scored cells")
    return float(np.sqrt(np.mean(err**2)))
