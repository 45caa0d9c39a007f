"""Per-column scaling fitted on observed cells only."""

from __future__ import annotations

import numpy as np


class ObservedScaler:
    """Standardise selected columns with statistics of their observed cells.

    Parameters
    ----------
    columns : sequence of int
        Indices of the columns to scale (numeric ones); the others (0/1
        encodings) pass through unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [np.nan, 1.0], [3.0, 1.0]])
    >>> s = ObservedScaler([0]).fit(X)
    >>> s.transform(X)[:, 0]
    array([-1., nan,  1.])
    """

    def __init__(self, columns) -> None:
        self.columns = np.asarray(list(columns), dtype=np.int64)

    def fit(self, X: np.ndarray) -> ObservedScaler:
        sub = X[:, self.columns]
        with np.errstate(invalid="ignore", over="ignore"):
            count = np.sum(~np.isnan(sub), axis=0)
            mean = np.where(count > 0, np.nansum(sub, axis=0) / np.maximum(count, 1), 0.0)
            centred = np.where(np.isnan(sub), 0.0, sub - mean)
            var = np.sum(centred**2, axis=0) / np.maximum(count, 1)
        std = np.sqrt(var)
        if not np.all(np.isfinite(std)):
            bad = [int(c) for c, s in zip(self.columns, std, strict=True) if not np.isfinite(s)]
            raise ValueError(
                f"encoded columns {bad} have values too large to scale (overflow); "
                "rescale them before imputing"
            )
        std[std < 1e-12 * np.maximum(1.0, np.abs(mean))] = 1.0
        std[std == 0] = 1.0
        self.mean_ = mean
        self.scale_ = std
        return self

    def _full(self, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Mean and scale for every column (0 and 1 where a column is not scaled)."""
        mean, scale = np.zeros(width), np.ones(width)
        mean[self.columns], scale[self.columns] = self.mean_, self.scale_
        return mean, scale

    def transform(
        self, X: np.ndarray, missing: float | None = None, copy: bool = True
    ) -> np.ndarray:
        """Scaled ``X``; with ``missing``, NaN cells are set to that value.

        With ``copy=False`` a float64 ``X`` is scaled in place (no second
        matrix of the table's size).
        """
        # vectorised over the whole matrix; x - 0 and x / 1 are exact
        X = np.asarray(X, dtype=np.float64)
        mean, scale = self._full(X.shape[1])
        out = np.subtract(X, mean, out=None if copy else X)
        out /= scale
        if missing is not None:
            np.copyto(out, missing, where=np.isnan(out))
        return out

    def inverse_transform(self, Z: np.ndarray, copy: bool = True) -> np.ndarray:
        """Back to the original units (in place on a float64 ``Z`` with ``copy=False``)."""
        Z = np.asarray(Z, dtype=np.float64)
        mean, scale = self._full(Z.shape[1])
        out = np.multiply(Z, scale, out=None if copy else Z)
        out += mean
        return out

    def to_json(self) -> dict:
        return {
            "columns": self.columns.tolist(),
            "mean": self.mean_.tolist(),
            "scale": self.scale_.tolist(),
        }

    @classmethod
    def from_json(cls, d: dict) -> ObservedScaler:
        s = cls(d["columns"])
        s.mean_ = np.asarray(d["mean"], dtype=np.float64)
        s.scale_ = np.asarray(d["scale"], dtype=np.float64)
        return s
