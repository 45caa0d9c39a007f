"""Input and parameter checks shared by the estimators."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd


class InputTypeError(TypeError):
    """The data (or an argument describing it) has a type aeimpute cannot use.

    A :class:`TypeError`, so ``except TypeError`` catches it; its own class
    tells input problems apart from programming errors (the command line
    reports these as a problem with the input, exit code 2).
    """


def is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def is_real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) and np.isfinite(v)


def int_in(low: int, high: float = np.inf) -> tuple[Callable[[Any], bool], str]:
    """Constraint: an integer in ``[low, high]``."""
    hi = "" if high == np.inf else f" and <= {high}"
    return (lambda v: is_int(v) and low <= v <= high), f"an integer >= {low}{hi}"


def real_in(low: float, high: float, closed: str = "both") -> tuple[Callable[[Any], bool], str]:
    """Constraint: a finite real number in an interval."""
    lo_ok = (lambda v: v >= low) if closed in ("both", "left") else (lambda v: v > low)
    hi_ok = (lambda v: v <= high) if closed in ("both", "right") else (lambda v: v < high)
    lb = "[" if closed in ("both", "left") else "("
    rb = "]" if closed in ("both", "right") else ")"
    return (lambda v: is_real(v) and lo_ok(v) and hi_ok(v)), f"a number in {lb}{low}, {high}{rb}"


def one_of(*options: Any) -> tuple[Callable[[Any], bool], str]:
    """Constraint: one of the given values."""
    return (lambda v: any(v is o or (type(v) is type(o) and v == o) for o in options)), (
        f"one of {list(options)}"
    )


def either(*constraints: tuple[Callable[[Any], bool], str]) -> tuple[Callable[[Any], bool], str]:
    """Constraint satisfied by any of ``constraints``."""
    return (lambda v: any(c(v) for c, _ in constraints)), " or ".join(d for _, d in constraints)


def _random_state(r: Any) -> bool:
    return r is None or is_int(r) or isinstance(r, np.random.RandomState)


#: parameters every estimator that trains a network has, and what they accept
SHARED_CONSTRAINTS = {
    "batch_size": int_in(1),
    "learning_rate": real_in(0, 1, "right"),
    "weight_decay": real_in(0, 1),
    "noise_std": real_in(0, 10),
    "n_iter_no_change": int_in(1),
    "random_state": (_random_state, "None, an int or a numpy RandomState"),
    "device": (lambda d: isinstance(d, str), "'auto', 'cpu', 'cuda' or 'cuda:N'"),
    "n_jobs": (
        lambda n: n is None or n == -1 or (is_int(n) and 1 <= n <= 1024),
        "None, -1 (every core) or an integer >= 1 and <= 1024",
    ),
    "verbose": one_of(True, False),
}


#: default of a parameter kept under its old name after a rename
DEPRECATED = "deprecated"


class RenamedParamsMixin:
    """Parameters renamed in scikit-learn's way: the old name stays a parameter whose default
    is ``"deprecated"``; a value given under it is used, with a FutureWarning.

    ``_renamed`` maps each old name to its new one. The estimator reads its
    parameters through :meth:`_resolved_params`.
    """

    _renamed: dict[str, str] = {}

    def _resolved_params(self, warn: bool = True) -> dict:
        """``get_params()`` with each old name's value (if given) under its new name."""
        import warnings

        params = self.get_params(deep=False)
        for old, new in self._renamed.items():
            value = params.pop(old)
            if isinstance(value, str) and value == DEPRECATED:
                continue
            if warn:
                warnings.warn(
                    f"{type(self).__name__} parameter {old!r} was renamed {new!r}; pass "
                    f"{new}={value!r} (the old name will stop working in a future version)",
                    FutureWarning,
                    stacklevel=3,
                )
            params[new] = value
        return params


class FittedMixin:
    """``_check_fitted``: a :class:`~sklearn.exceptions.NotFittedError` until ``fit`` has set
    the attribute named by ``_fitted_marker``."""

    _fitted_marker = "columns_"

    def _check_fitted(self) -> None:
        from sklearn.exceptions import NotFittedError

        if not hasattr(self, self._fitted_marker):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit before using it "
                "(or load a saved model)"
            )


def check_params(params: dict, constraints: dict) -> None:
    """Raise ``ValueError`` naming the first parameter that violates its constraint."""
    for name, (ok, desc) in constraints.items():
        value = params[name]
        try:
            good = ok(value)
        except (TypeError, ValueError):
            good = False
        if not good:
            raise ValueError(f"invalid value {value!r} for parameter {name!r}: expected {desc}")


def as_frame(X: Any, what: str = "X") -> tuple[pd.DataFrame, str]:
    """Return ``(DataFrame, input_kind)`` for a DataFrame or a 2-D array-like."""
    if isinstance(X, pd.DataFrame):
        return X, "pandas"
    from aeimpute.dask_frames import is_dask

    if is_dask(X):
        raise InputTypeError(
            f"{what} is a Dask collection; Imputer.fit and transform accept a Dask DataFrame, "
            "other methods need pandas or NumPy data: compute it first (X.compute())"
        )
    if hasattr(X, "toarray") or type(X).__module__.startswith("scipy.sparse"):
        raise InputTypeError(
            f"{what} is a sparse matrix; sparse input is not supported: pass X.toarray() "
            "or a DataFrame"
        )
    if isinstance(X, pd.Series):
        raise InputTypeError(f"{what} is a pandas Series; pass a DataFrame, e.g. X.to_frame()")
    if isinstance(X, (list, tuple)) or (not isinstance(X, np.ndarray) and hasattr(X, "__array__")):
        try:
            X = np.asarray(X)
        except ValueError as err:  # ragged nested lists
            raise ValueError(f"{what} is not a rectangular table: {err}") from err
    if isinstance(X, np.ndarray):
        if X.ndim != 2:
            raise ValueError(
                f"{what} must be 2-dimensional (rows x columns); got an array of shape "
                f"{X.shape}. Reshape your data, e.g. X.reshape(-1, 1) for a single column"
            )
        if X.dtype.kind == "c":
            raise ValueError(f"Complex data not supported: {what} has dtype {X.dtype}")
        if X.dtype.kind not in "biufO":
            raise InputTypeError(f"{what} has dtype {X.dtype}; expected a numeric or object array")
        return pd.DataFrame(X), "numpy"
    raise InputTypeError(
        f"{what} must be a pandas DataFrame or a 2-D numpy array; got {type(X).__name__}"
    )


def check_frame(df: pd.DataFrame, what: str = "X") -> None:
    """Reject empty frames and duplicated column labels."""
    if df.shape[0] == 0:
        raise ValueError(
            f"{what} has no rows: 0 sample(s) (shape={df.shape}) while a minimum of 1 is required."
        )
    if df.shape[1] == 0:
        raise ValueError(
            f"{what} has no columns: 0 feature(s) (shape={df.shape}) while a minimum of 1 is "
            "required."
        )
    dup = df.columns[df.columns.duplicated()].unique().tolist()
    if dup:
        raise ValueError(f"{what} has duplicated column labels {dup}; make them unique")
