"""Classical imputers the benchmarks compare against, with the same interface as ``Imputer``.

``InterpolationImputer``
    fills each column along row order (or a numeric / datetime index) by
    linear, nearest, cubic-spline, PCHIP or Akima interpolation, with
    forward/backward fill beyond the first and last observed rows.
``LowRankImputer``
    nuclear-norm matrix completion (soft-impute, Mazumder, Hastie and
    Tibshirani 2010) with the shrinkage chosen on held-back observed cells,
    or hard-rank iterative SVD with ``rank=k``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import interpolate
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state

from aeimpute import _validation as v
from aeimpute._frame import FrameIOMixin
from aeimpute._validation import InputTypeError
from aeimpute.schema import assign_cells, numeric_values

__all__ = ["InterpolationImputer", "LowRankImputer", "kalman_smooth"]

_METHODS = ("linear", "nearest", "cubic", "pchip", "akima")


def _is_numeric(col: pd.Series) -> bool:
    return (
        pd.api.types.is_numeric_dtype(col.dtype)
        and not pd.api.types.is_bool_dtype(col.dtype)
        and not isinstance(col.dtype, pd.CategoricalDtype)
    )


def _float(col: pd.Series) -> np.ndarray:
    return col.to_numpy(dtype="float64", na_value=np.nan)


def _write(col: pd.Series, filled: np.ndarray) -> pd.Series:
    """Write ``filled`` into the missing cells of ``col`` (dtype kept, integers rounded)."""
    rows = np.flatnonzero(col.isna().to_numpy())
    vals = filled[rows]
    if pd.api.types.is_integer_dtype(col.dtype):
        vals = np.rint(vals)
    return assign_cells(col, rows, vals)


class InterpolationImputer(FrameIOMixin, TransformerMixin, BaseEstimator):
    """Fill gaps by interpolating each column along the rows.

    Numeric columns are interpolated; other columns (categorical, boolean,
    text) take the previous observed value (then the next one at the start).
    Before the first and after the last observed row, the nearest observed
    value is repeated (forward/backward fill). A column with no observed
    value in the data being transformed gets its mean (mode) from ``fit``.

    Parameters
    ----------
    method : {"linear", "nearest", "cubic", "pchip", "akima"}, default="linear"
        ``"cubic"`` is a natural cubic spline; ``"pchip"`` and ``"akima"`` are
        shape-preserving and do not overshoot.
    along : {"rows", "index"}, default="rows"
        Interpolate against row position, or against the index values (a
        numeric or datetime index, sorted increasing), so that uneven time
        steps are respected.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> df = pd.DataFrame({"x": [0.0, np.nan, 2.0, np.nan, np.nan, 5.0, np.nan]})
    >>> InterpolationImputer().fit_transform(df)["x"].tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 5.0]
    """

    _CONSTRAINTS = {"method": v.one_of(*_METHODS), "along": v.one_of("rows", "index")}

    def __init__(self, method: str = "linear", along: str = "rows") -> None:
        self.method = method
        self.along = along

    def fit(self, X: pd.DataFrame | np.ndarray, y: Any = None) -> InterpolationImputer:
        """Check ``X`` and remember a fallback value per column."""
        v.check_params(self.get_params(), self._CONSTRAINTS)
        df, kind = v.as_frame(X)
        v.check_frame(df)
        fallback = {}
        for c in df.columns:
            col = df[c]
            if col.isna().all():
                raise ValueError(f"column {c!r} is entirely missing; drop it before imputing")
            if _is_numeric(col):
                fallback[c] = float(np.nanmean(numeric_values(col, c, "is numeric")))
            else:
                fallback[c] = col.mode(dropna=True).iloc[0]
        self.fallback_ = fallback
        self._remember_input(df.columns, kind)
        return self

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _positions(self, df: pd.DataFrame) -> np.ndarray:
        if self.along == "rows":
            return np.arange(len(df), dtype=float)
        idx = df.index
        if isinstance(idx, pd.DatetimeIndex):
            x = (idx - idx[0]).total_seconds().to_numpy()
        elif pd.api.types.is_numeric_dtype(idx.dtype):
            x = idx.to_numpy(dtype=float)
        else:
            raise ValueError(
                f"along='index' needs a numeric or datetime index; got {idx.dtype}. "
                "Use along='rows'"
            )
        if not np.all(np.diff(x) > 0):
            raise ValueError("along='index' needs a strictly increasing index; sort it first")
        return x

    def _interp(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        obs = ~np.isnan(y)
        xo, yo = x[obs], y[obs]
        out = y.copy()
        miss = ~obs
        if len(xo) == 1:
            out[miss] = yo[0]
            return out
        method = self.method
        if method in ("cubic", "akima") and len(xo) < 3:
            method = "linear"
        if method == "linear":
            out[miss] = np.interp(x[miss], xo, yo)
        elif method == "nearest":
            f = interpolate.interp1d(xo, yo, kind="nearest", bounds_error=False, assume_sorted=True)
            out[miss] = f(x[miss])
        elif method == "cubic":
            out[miss] = interpolate.CubicSpline(xo, yo, bc_type="natural")(x[miss])
        elif method == "pchip":
            out[miss] = interpolate.PchipInterpolator(xo, yo)(x[miss])
        else:
            out[miss] = interpolate.Akima1DInterpolator(xo, yo)(x[miss])
        # beyond the ends: repeat the nearest observed value
        out[miss & (x < xo[0])] = yo[0]
        out[miss & (x > xo[-1])] = yo[-1]
        return out

    def transform(self, X: pd.DataFrame | np.ndarray) -> pd.DataFrame | np.ndarray:
        """Fill the missing cells of ``X`` by interpolation."""
        df, kind, order = self._prepare(X)
        x = self._positions(df)
        out = df.copy()
        for i, c in enumerate(df.columns):
            col = df[c]
            na = col.isna()
            if not na.any():
                continue
            if na.all():
                filled = col.astype(object).where(~na, self.fallback_[c])
                out.isetitem(i, assign_cells(col, np.arange(len(col)), filled.to_numpy()))
                continue
            if _is_numeric(col):
                vals = numeric_values(col, c, "is numeric")
                out.isetitem(i, _write(col, self._interp(x, vals)))
            else:
                filled = col.ffill().bfill()
                out.isetitem(i, assign_cells(col, np.flatnonzero(na), filled[na].to_numpy()))
        return self._restore(out, kind, order, X)


class LowRankImputer(FrameIOMixin, TransformerMixin, BaseEstimator):
    """Low-rank matrix completion: soft-impute, or hard-rank iterative SVD.

    Columns are standardised with statistics of their observed cells. With
    ``rank=None`` (default) the completion minimises squared error on
    observed cells plus ``lambda`` times the nuclear norm (soft-impute);
    ``lambda`` is chosen from a grid of ``n_lambdas`` values by the error on
    ``validation_fraction`` of the observed cells held back, then the model
    is refitted on all cells. With ``rank=k`` the completion is the
    rank-``k`` iterative SVD ("hard impute").

    ``fit_transform`` returns the completion of the training matrix itself;
    ``transform`` of other rows fits each row to the learned right singular
    vectors (a ridge regression on its observed cells).

    Parameters
    ----------
    rank : int, optional
        Hard rank. ``None`` uses nuclear-norm shrinkage.
    n_lambdas : int, default=16
        Size of the shrinkage grid (geometric, from the largest singular
        value down to 1/1000 of it).
    validation_fraction : float, default=0.1
        Share of observed cells held back to choose ``lambda``.
    max_iter : int, default=200
        Iterations per grid value.
    tol : float, default=1e-5
        Stop when the relative change of the completion falls below this.
    random_state : int, RandomState or None
        Seed of the validation split.

    Attributes
    ----------
    lambda_ : float or None
        Chosen shrinkage (standardised units).
    rank_ : int
        Rank of the fitted completion.
    validation_curve_ : list of (lambda, rmse)
        Held-back error along the grid.
    n_iter_ : int
        Iterations of the final completion.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 2)) @ rng.normal(size=(2, 8))
    >>> Xm = X.copy(); Xm[rng.random(X.shape) < 0.2] = np.nan
    >>> out = LowRankImputer(random_state=0).fit_transform(Xm)
    >>> hidden = np.isnan(Xm)
    >>> round(float(np.sqrt(np.mean((out - X)[hidden] ** 2))), 2)  # mean imputation: 1.37
    0.08
    """

    _CONSTRAINTS = {
        "rank": v.either(v.one_of(None), v.int_in(1)),
        "n_lambdas": v.int_in(1, 1000),
        "validation_fraction": v.real_in(0, 0.5, "neither"),
        "max_iter": v.int_in(1),
        "tol": v.real_in(0, 1, "neither"),
        "random_state": (
            lambda r: r is None or v.is_int(r) or isinstance(r, np.random.RandomState),
            "None, an int or a numpy RandomState",
        ),
    }

    def __init__(
        self,
        rank: int | None = None,
        n_lambdas: int = 16,
        validation_fraction: float = 0.1,
        max_iter: int = 200,
        tol: float = 1e-5,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.rank = rank
        self.n_lambdas = n_lambdas
        self.validation_fraction = validation_fraction
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _matrix(self, df: pd.DataFrame) -> np.ndarray:
        cols, bad = [], []
        for c in df.columns:
            col = df[c]
            if not _is_numeric(col):
                try:
                    col = pd.to_numeric(col.astype(object), errors="raise")
                except (TypeError, ValueError):
                    bad.append(c)
                    continue
            cols.append(_float(col))
        if bad:
            raise InputTypeError(
                f"LowRankImputer handles numeric columns only; columns {bad} are not numeric "
                "(each argument must be a real number, not a string: a number is required)"
            )
        M = np.column_stack(cols)
        if np.isinf(M).any():
            inf_cols = [c for j, c in enumerate(df.columns) if np.isinf(M[:, j]).any()]
            raise ValueError(f"columns {inf_cols} contain infinite values")
        return M

    def _solve(self, Z: np.ndarray, obs: np.ndarray, lam: float | None, start: np.ndarray):
        """Iterate to the completion for one ``lam`` (or the hard rank); return (fill, U, s, Vt)."""
        fill = start
        U = s = Vt = None
        self.n_iter_ = 0
        for _ in range(self.max_iter):
            self.n_iter_ += 1
            M = np.where(obs, Z, fill)
            U, s, Vt = np.linalg.svd(M, full_matrices=False)
            if lam is None:
                k = min(self.rank or 1, len(s))
                s = np.concatenate([s[:k], np.zeros(len(s) - k)])
            else:
                s = np.maximum(s - lam, 0.0)
            new = (U * s) @ Vt
            change = np.sum((new - fill) ** 2) / max(np.sum(fill**2), 1e-12)
            fill = new
            if change < self.tol:
                break
        return fill, U, s, Vt

    def fit(self, X: pd.DataFrame | np.ndarray, y: Any = None) -> LowRankImputer:
        """Choose the shrinkage and fit the completion of ``X``."""
        self.fit_transform(X)
        return self

    def fit_transform(self, X: pd.DataFrame | np.ndarray, y: Any = None) -> Any:
        """Fit and return the completion of ``X`` itself."""
        v.check_params(self.get_params(), self._CONSTRAINTS)
        df, kind = v.as_frame(X)
        v.check_frame(df)
        M = self._matrix(df)
        obs = ~np.isnan(M)
        empty = [c for j, c in enumerate(df.columns) if not obs[:, j].any()]
        if empty:
            raise ValueError(f"columns {empty} are entirely missing; drop them before imputing")
        mean = np.nanmean(M, axis=0)
        std = np.nanstd(M, axis=0)
        std[~(std > 0)] = 1.0
        Z = np.where(obs, (M - mean) / std, 0.0)
        if self.rank is not None:
            lam, curve, start = None, [], np.zeros_like(Z)
        else:
            lam, curve, start = self._choose_lambda(Z, obs)
        fill, U, s, Vt = self._solve(Z, obs, lam, start)
        keep = s > 1e-10 * max(s.max(initial=0.0), 1e-300)
        self.mean_, self.scale_ = mean, std
        self.components_ = Vt[keep]
        self.singular_values_ = s[keep]
        self.lambda_ = lam
        self.rank_ = int(keep.sum())
        self.validation_curve_ = curve
        self._remember_input(df.columns, kind)
        return self._restore(self._complete(df, M, obs, fill), kind, None, X)

    def _choose_lambda(self, Z: np.ndarray, obs: np.ndarray) -> tuple[float, list, np.ndarray]:
        """Pick lambda on held-back cells; return it, the error curve and a warm start."""
        rng = check_random_state(self.random_state)
        held = obs & (rng.random_sample(obs.shape) < self.validation_fraction)
        # every column keeps at least one training cell
        for j in range(obs.shape[1]):
            if not (obs[:, j] & ~held[:, j]).any():
                held[:, j] = False
        smax = float(np.linalg.norm(np.where(obs & ~held, Z, 0.0), 2))
        grid = smax * np.geomspace(0.9, 1e-3, self.n_lambdas)
        if not held.any():
            warnings.warn(
                "too few observed cells to hold back for choosing lambda; using the middle "
                "of the grid",
                UserWarning,
                stacklevel=3,
            )
            fill = np.zeros_like(Z)
            for lam in grid[: len(grid) // 2 + 1]:  # warm start down the path
                fill, *_ = self._solve(Z, obs, float(lam), fill)
            return float(grid[len(grid) // 2]), [], fill
        train = obs & ~held
        fill = np.zeros_like(Z)
        curve, best = [], (np.inf, 0.0, fill)
        for lam in grid:  # warm start down the path
            fill, *_ = self._solve(Z, train, float(lam), fill)
            err = float(np.sqrt(np.mean((fill - Z)[held] ** 2)))
            curve.append((float(lam), err))
            if err < best[0]:
                best = (err, float(lam), fill)
        return best[1], curve, best[2]

    def transform(self, X: pd.DataFrame | np.ndarray) -> pd.DataFrame | np.ndarray:
        """Fill other rows by fitting each to the learned components."""
        df, kind, order = self._prepare(X)
        M = self._matrix(df)
        obs = ~np.isnan(M)
        Z = np.where(obs, (M - self.mean_) / self.scale_, 0.0)
        B = self.components_.T * np.sqrt(self.singular_values_)  # p x k
        ridge = self.lambda_ if self.lambda_ is not None else 1e-6
        fill = np.zeros_like(Z)
        for i in np.flatnonzero(~obs.all(axis=1)):
            o = obs[i]
            if not o.any() or B.shape[1] == 0:
                continue  # nothing observed: the column means (0 in standardised units)
            Bo = B[o]
            a = np.linalg.solve(Bo.T @ Bo + ridge * np.eye(B.shape[1]), Bo.T @ Z[i, o])
            fill[i] = B @ a
        return self._restore(self._complete(df, M, obs, fill), kind, order, X)

    def _complete(
        self, df: pd.DataFrame, M: np.ndarray, obs: np.ndarray, fill: np.ndarray
    ) -> pd.DataFrame:
        """``df`` with its missing cells set from ``fill`` (standardised units)."""
        completed = np.where(obs, M, fill * self.scale_ + self.mean_)
        out = df.copy()
        for i, c in enumerate(df.columns):
            if not obs[:, i].all():
                out.isetitem(i, _write(df[c], completed[:, i]))
        return out


def kalman_smooth(
    values: np.ndarray,
    process_var: float | np.ndarray | None = None,
    measurement_var: float = 0.25,
) -> np.ndarray:
    """Fill gaps in time series with a constant-velocity Kalman (RTS) smoother.

    Each column is a series (for keypoints: the x or y of one point). The
    state is position and velocity; the velocity changes by white noise of
    variance ``process_var`` per frame; positions are measured with noise
    ``measurement_var``. Missing values are not measured, so across a gap
    the smoother carries the velocities on both sides into the gap. Observed
    values are returned unchanged; only the gaps are filled.

    Parameters
    ----------
    values : ndarray of shape (n_frames, n_series)
        NaN where missing.
    process_var : float or ndarray of shape (n_series,), optional
        Per-frame acceleration variance. By default it is estimated per
        series from the second differences of observed runs (a robust
        variance, less the measurement noise's share).
    measurement_var : float, default=0.25
        Measurement noise variance (0.25 = 0.5 px standard deviation).

    Returns
    -------
    ndarray of the same shape

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(10.0)[:, None] * 2.0
    >>> x[4:7] = np.nan
    >>> np.round(kalman_smooth(x)[4:7, 0], 2).tolist()
    [8.0, 10.0, 12.0]
    """
    y = np.asarray(values, dtype=np.float64)
    if y.ndim != 2:
        raise ValueError(f"values must have shape (n_frames, n_series); got {y.shape}")
    n, m = y.shape
    obs = np.isfinite(y)
    if process_var is None:
        d2 = np.diff(y, n=2, axis=0)
        q = np.empty(m)
        for j in range(m):
            d = d2[np.isfinite(d2[:, j]), j]
            robust = (1.4826 * np.median(np.abs(d - np.median(d)))) ** 2 if d.size >= 3 else 1.0
            q[j] = max(robust - 6 * measurement_var, 1e-3)
    else:
        q = np.broadcast_to(np.asarray(process_var, dtype=np.float64), (m,)).copy()
    r = float(measurement_var)
    # forward filter, all series at once; state (position, velocity), covariance entries a, b, c
    first = np.where(obs.any(axis=0), np.argmax(obs, axis=0), 0)
    pos = np.nan_to_num(y[first, np.arange(m)])
    vel = np.zeros(m)
    a, b, c = np.full(m, 1e6), np.zeros(m), np.full(m, 1e2)
    means = np.empty((n, m, 2))
    covs = np.empty((n, m, 3))
    pred_means = np.empty((n, m, 2))
    pred_covs = np.empty((n, m, 3))
    for t in range(n):
        if t > 0:  # predict: F = [[1, 1], [0, 1]], Q = q * [[1/4, 1/2], [1/2, 1]]
            pos = pos + vel
            a, b, c = a + 2 * b + c + q / 4, b + c + q / 2, c + q
        pred_means[t, :, 0], pred_means[t, :, 1] = pos, vel
        pred_covs[t] = np.stack([a, b, c], axis=-1)
        seen = obs[t]
        if seen.any():
            s = a + r
            k0, k1 = a / s, b / s
            resid = np.where(seen, np.nan_to_num(y[t]) - pos, 0.0)
            pos = np.where(seen, pos + k0 * resid, pos)
            vel = np.where(seen, vel + k1 * resid, vel)
            a, b, c = (
                np.where(seen, (1 - k0) * a, a),
                np.where(seen, (1 - k0) * b, b),
                np.where(seen, c - k1 * b, c),
            )
        means[t, :, 0], means[t, :, 1] = pos, vel
        covs[t] = np.stack([a, b, c], axis=-1)
    # backward (Rauch-Tung-Striebel) pass
    out = means[:, :, 0].copy()
    sm_pos, sm_vel = means[-1, :, 0], means[-1, :, 1]
    for t in range(n - 2, -1, -1):
        fa, fb, fc = covs[t, :, 0], covs[t, :, 1], covs[t, :, 2]
        pa, pb, pc = pred_covs[t + 1, :, 0], pred_covs[t + 1, :, 1], pred_covs[t + 1, :, 2]
        # gain G = P_f F^T P_pred^-1 with F^T = [[1, 0], [1, 1]]
        cross = np.stack([fa + fb, fb, fb + fc, fc], axis=-1)  # rows of P_f F^T: (a+b, b; b+c, c)
        det = pa * pc - pb * pb
        inv = np.stack([pc, -pb, -pb, pa], axis=-1) / det[:, None]
        g00 = cross[:, 0] * inv[:, 0] + cross[:, 1] * inv[:, 2]
        g01 = cross[:, 0] * inv[:, 1] + cross[:, 1] * inv[:, 3]
        g10 = cross[:, 2] * inv[:, 0] + cross[:, 3] * inv[:, 2]
        g11 = cross[:, 2] * inv[:, 1] + cross[:, 3] * inv[:, 3]
        dp = sm_pos - pred_means[t + 1, :, 0]
        dv = sm_vel - pred_means[t + 1, :, 1]
        sm_pos = means[t, :, 0] + g00 * dp + g01 * dv
        sm_vel = means[t, :, 1] + g10 * dp + g11 * dv
        out[t] = sm_pos
    out = np.where(obs, y, out)
    out[:, ~obs.any(axis=0)] = np.nan
    return out
