"""Frame in, frame out: the input/output contract shared by every estimator.

A DataFrame gives a DataFrame with the same index, column order and dtypes;
a 2-D numpy array gives an array. Columns at ``transform`` must be those seen
in ``fit`` (any order for a DataFrame).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from aeimpute import _validation as v


def terminal_width() -> int:
    """Columns of the terminal (80 where there is none)."""
    import shutil

    return shutil.get_terminal_size((80, 24)).columns


class FullTable(pd.DataFrame):
    """A DataFrame that prints every column, wrapped to the terminal's width.

    pandas hides the middle columns of a wide frame behind ``...``; the
    library's report tables print in full instead. Anything derived from one
    (a selection, a copy) is a plain DataFrame.
    """

    @property
    def _constructor(self) -> type[pd.DataFrame]:  # pandas' documented subclassing hook
        return pd.DataFrame

    def _shown(self) -> pd.DataFrame:
        """The table as printed (subclasses format their values here)."""
        return self

    def __repr__(self) -> str:
        return self._shown().to_string(line_width=terminal_width())


class FrameIOMixin(v.FittedMixin):
    """Column bookkeeping, input checks and output restoring for estimators."""

    def _remember_input(self, columns: Any, kind: str) -> None:
        """Record the fitted column labels and the input kind ("pandas" or "numpy")."""
        self.input_kind_ = kind
        self.columns_ = list(columns)
        self.n_features_in_ = len(self.columns_)
        if all(isinstance(c, str) for c in self.columns_):
            self.feature_names_in_ = np.asarray(self.columns_, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    def _prepare(self, X: Any) -> tuple[pd.DataFrame, str, list | None]:
        """Validate ``X`` against the fit; return it in the fitted column order."""
        self._check_fitted()
        df, kind = v.as_frame(X)
        v.check_frame(df)
        if kind == "numpy" or self.input_kind_ == "numpy":
            if df.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {df.shape[1]} features, but {type(self).__name__} is expecting "
                    f"{self.n_features_in_} features as input (the columns seen in fit)"
                )
            if kind == "numpy" or list(df.columns) != self.columns_:
                df = df.set_axis(self.columns_, axis=1)
            return df, kind, None
        cols = list(df.columns)
        self._check_columns(cols)
        if cols == self.columns_:
            return df, kind, None
        return df[self.columns_], kind, cols

    def _check_columns(self, cols: list) -> None:
        """Raise unless ``cols`` are the fitted columns (in any order)."""
        if cols == self.columns_:
            return
        missing = [c for c in self.columns_ if c not in cols]
        extra = [c for c in cols if c not in self.columns_]
        if extra and not missing:
            raise ValueError(
                f"X has columns the model was not fitted on: {extra}. A model fills the columns "
                "it was fitted on, no others: pass X[imputer.feature_names_in_] and join the "
                "other columns back (the command line does this: it copies such columns "
                "unchanged and names them)"
            )
        if missing or extra or len(cols) != len(self.columns_):
            raise ValueError(
                f"X's columns differ from those seen in fit: missing {missing}, unexpected {extra}"
            )

    @staticmethod
    def _restore(out: pd.DataFrame, kind: str, order: list | None, X: Any) -> Any:
        if order is not None:
            out = out[order]
        if kind == "numpy":
            arr = out.to_numpy()
            dtype = X.dtype if isinstance(X, np.ndarray) else np.asarray(X).dtype
            return arr.astype(dtype) if dtype.kind in "fO" else arr
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Output feature names: the input columns, unchanged."""
        self._check_fitted()
        if input_features is not None:
            names = np.asarray(input_features, dtype=object)
            if len(names) != self.n_features_in_:
                raise ValueError(
                    f"input_features has {len(names)} names; expected {self.n_features_in_}"
                )
            return names
        if hasattr(self, "feature_names_in_"):
            return self.feature_names_in_.copy()
        if self.input_kind_ == "numpy":
            return np.asarray([f"x{i}" for i in range(self.n_features_in_)], dtype=object)
        return np.asarray([str(c) for c in self.columns_], dtype=object)
