"""Error of an imputation, measured on the cells that were hidden."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["rmse", "mae", "categorical_accuracy", "gap_lengths", "keypoint_errors_by_gap"]


def _matrix(X) -> np.ndarray:
    if isinstance(X, pd.DataFrame):
        return X.to_numpy(dtype=float, na_value=np.nan)
    return np.asarray(X, dtype=float)


def _scored_errors(X_true, X_imputed, mask, scale: str) -> np.ndarray:
    t, p = _matrix(X_true), _matrix(X_imputed)
    mask = np.asarray(mask, dtype=bool)
    if t.shape != p.shape or t.shape != mask.shape:
        raise ValueError(f"shapes differ: true {t.shape}, imputed {p.shape}, mask {mask.shape}")
    if not mask.any():
        raise ValueError("mask selects no cell")
    if scale == "minmax":
        lo, hi = np.nanmin(t, axis=0), np.nanmax(t, axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        t, p = (t - lo) / span, (p - lo) / span
    elif scale != "none":
        raise ValueError(f"scale must be 'minmax' or 'none'; got {scale!r}")
    err = (t - p)[mask]
    if np.isnan(err).any():
        raise ValueError("scored cells are missing in the true or the imputed table")
    return err


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
    return float(np.sqrt(np.mean(_scored_errors(X_true, X_imputed, mask, scale) ** 2)))


def mae(
    X_true: pd.DataFrame | np.ndarray,
    X_imputed: pd.DataFrame | np.ndarray,
    mask: np.ndarray,
    scale: str = "minmax",
) -> float:
    """Mean absolute error over the hidden cells (see :func:`rmse` for the arguments).

    Examples
    --------
    >>> import numpy as np
    >>> mae(np.array([[0.0], [4.0]]), np.array([[1.0], [4.0]]), np.array([[True], [False]]),
    ...     scale="none")
    1.0
    """
    return float(np.mean(np.abs(_scored_errors(X_true, X_imputed, mask, scale))))


def categorical_accuracy(true: pd.Series, imputed: pd.Series, mask: np.ndarray) -> float:
    """Share of hidden cells of a categorical column imputed with the right category.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> categorical_accuracy(pd.Series(list("abca")), pd.Series(list("abba")),
    ...                      np.array([False, True, True, False]))
    0.5
    """
    mask = np.asarray(mask, dtype=bool)
    if len(true) != len(imputed) or len(true) != len(mask):
        raise ValueError("true, imputed and mask must have the same length")
    if not mask.any():
        raise ValueError("mask selects no cell")
    t = np.asarray(true.astype(object))[mask]
    p = np.asarray(imputed.astype(object))[mask]
    if pd.isna(p).any():
        raise ValueError("the imputed column still has missing values in scored cells")
    return float(np.mean(t == p))


def gap_lengths(mask: np.ndarray) -> np.ndarray:
    """Length of the run of consecutive hidden rows each hidden cell belongs to.

    Parameters
    ----------
    mask : ndarray of bool, shape (n_rows, ...)
        Hidden cells; runs are counted along axis 0 independently for every
        other index.

    Returns
    -------
    ndarray of int, same shape
        0 where ``mask`` is False.

    Examples
    --------
    >>> import numpy as np
    >>> gap_lengths(np.array([1, 1, 0, 1, 1, 1, 0], dtype=bool)).tolist()
    [2, 2, 0, 3, 3, 3, 0]
    """
    mask = np.asarray(mask, dtype=bool)
    flat = mask.reshape(mask.shape[0], -1)
    out = np.zeros(flat.shape, dtype=np.int64)
    for j in range(flat.shape[1]):
        col = flat[:, j]
        padded = np.concatenate([[False], col, [False]]).astype(np.int8)
        d = np.diff(padded)
        starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
        for s, e in zip(starts, ends, strict=True):
            out[s:e, j] = e - s
    return out.reshape(mask.shape)


def keypoint_errors_by_gap(
    true_xy: np.ndarray,
    pred_xy: np.ndarray,
    mask: np.ndarray,
    bins: Sequence[int] = (1, 3, 10, 30, 60),
    pck_threshold: float = 5.0,
) -> pd.DataFrame:
    """Pixel error of repaired keypoints, grouped by the length of their gap.

    Parameters
    ----------
    true_xy, pred_xy : ndarray of shape (frames, ..., 2)
        True and repaired positions.
    mask : ndarray of bool, shape (frames, ...)
        Hidden points (scored).
    bins : sequence of int
        Lower edges of the gap-length groups: a gap of length L falls in the
        last bin ``b <= L``.
    pck_threshold : float
        Distance in pixels under which a point counts as correct (PCK).

    Returns
    -------
    DataFrame
        One row per bin: ``points``, ``rmse_px``, ``median_px``, ``pck``.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.zeros((4, 1, 2)); p = t.copy(); p[1:3, 0, 0] = 3.0
    >>> m = np.array([[0], [1], [1], [0]], dtype=bool)
    >>> keypoint_errors_by_gap(t, p, m, bins=(1,))["rmse_px"].tolist()
    [3.0]
    """
    true_xy, pred_xy = np.asarray(true_xy, float), np.asarray(pred_xy, float)
    mask = np.asarray(mask, dtype=bool)
    if true_xy.shape != pred_xy.shape or true_xy.shape[:-1] != mask.shape:
        raise ValueError(
            f"shapes differ: true {true_xy.shape}, pred {pred_xy.shape}, mask {mask.shape}"
        )
    if true_xy.shape[-1] != 2:
        raise ValueError("the last axis of the positions must have length 2 (x, y)")
    dist = np.linalg.norm(true_xy - pred_xy, axis=-1)
    lengths = gap_lengths(mask)
    edges = list(bins) + [np.inf]
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        sel = mask & (lengths >= lo) & (lengths < hi)
        d = dist[sel]
        label = f"{lo}" if hi == lo + 1 else (f"{lo}+" if hi == np.inf else f"{lo}-{int(hi) - 1}")
        rows.append(
            {
                "gap": label,
                "points": int(sel.sum()),
                "rmse_px": float(np.sqrt(np.mean(d**2))) if len(d) else np.nan,
                "median_px": float(np.median(d)) if len(d) else np.nan,
                "pck": float(np.mean(d < pck_threshold)) if len(d) else np.nan,
            }
        )
    return pd.DataFrame(rows).set_index("gap")
