"""DataFrame <-> float matrix + mask.

This module knows about pandas, not about torch. It decides the *kind* of each
column, turns a DataFrame into a float matrix of encoded values (NaN where a
cell is missing) plus a per-column observed mask, and turns the model's
reconstruction back into a DataFrame with the original index, columns and
dtypes, observed cells untouched.

Column kinds
------------
``numeric``
    float columns; one encoded value, squared-error loss.
``integer``
    integer columns (numpy or nullable ``Int64``), and float columns whose
    observed values are all whole numbers, at least ``MIN_WHOLE_VALUES`` of
    them (an integer column read from CSV with gaps is float64); like
    ``numeric`` but the imputed values are rounded. The column keeps its
    dtype.
``binary``
    ``bool``/``boolean`` columns (or any column with exactly two distinct
    values when asked for explicitly); one encoded value in {0, 1},
    sigmoid output and binary cross-entropy.
``categorical``
    ``category``, ``object`` and ``str`` columns; one-hot encoded, softmax
    output and cross-entropy. An imputed value is one of the training
    categories.
``passthrough``
    datetime / timedelta / period columns; not modelled, returned untouched.
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from aeimpute._validation import InputTypeError

KINDS = ("numeric", "integer", "binary", "categorical", "passthrough")
MODELLED = ("numeric", "integer", "binary", "categorical")


@dataclass
class ColumnSpec:
    """What was learned about one column at fit time.

    Attributes
    ----------
    name : hashable
        Column label.
    kind : str
        One of :data:`KINDS`.
    dtype : str
        ``str(dtype)`` of the training column, for checks and persistence.
    levels : list or None
        For ``binary`` and ``categorical``: the categories seen in training,
        in encoding order.
    low, high : float or None
        For ``numeric`` and ``integer``: the observed range, used to clip
        imputed values.
    """

    name: Any
    kind: str
    dtype: str
    levels: list | None = None
    low: float | None = None
    high: float | None = None

    @property
    def width(self) -> int:
        """Number of encoded columns this column occupies in the matrix."""
        if self.kind == "passthrough":
            return 0
        if self.kind == "categorical":
            return len(self.levels or [])
        return 1

    def to_json(self) -> dict:
        return {
            "name": encode_label(self.name),
            "kind": self.kind,
            "dtype": self.dtype,
            "levels": None if self.levels is None else [encode_label(v) for v in self.levels],
            "low": self.low,
            "high": self.high,
        }

    @classmethod
    def from_json(cls, d: dict) -> ColumnSpec:
        levels = d["levels"]
        return cls(
            name=decode_label(d["name"]),
            kind=d["kind"],
            dtype=d["dtype"],
            levels=None if levels is None else [decode_label(v) for v in levels],
            low=d["low"],
            high=d["high"],
        )


def encode_label(v: Any) -> Any:
    """Turn a column label or category into something JSON keeps exactly."""
    if isinstance(v, (bool, np.bool_)):
        return {"bool": bool(v)}
    if isinstance(v, (numbers.Integral,)):
        return {"int": int(v)}
    if isinstance(v, (numbers.Real,)):
        return {"float": float(v)}
    if isinstance(v, str):
        return v
    if isinstance(v, tuple):
        return {"tuple": [encode_label(x) for x in v]}
    raise InputTypeError(
        f"cannot save label {v!r} of type {type(v).__name__}: only str, int, float, "
        "bool and tuples of these can be saved"
    )


def decode_label(v: Any) -> Any:
    """Inverse of :func:`encode_label`."""
    if isinstance(v, str):
        return v
    if isinstance(v, dict) and len(v) == 1:
        ((tag, val),) = v.items()
        if tag == "bool":
            return bool(val)
        if tag == "int":
            return int(val)
        if tag == "float":
            return float(val)
        if tag == "tuple":
            return tuple(decode_label(x) for x in val)
    raise ValueError(f"corrupt label in model file: {v!r}")


def _is_bool_like(values: pd.Series) -> bool:
    return len(values) > 0 and all(isinstance(v, (bool, np.bool_)) for v in values)


def _is_number_like(values: pd.Series) -> bool:
    return len(values) > 0 and all(
        isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in values
    )


#: fewest observed values for a float column of whole numbers to be taken as integers
MIN_WHOLE_VALUES = 20


def whole_numbers(values: np.ndarray) -> bool:
    """Whether every finite value is a whole number (and there is at least one).

    Examples
    --------
    >>> whole_numbers(np.array([1.0, 48.0, np.nan, -3.0])), whole_numbers(np.array([1.0, 2.5]))
    (True, False)
    """
    finite = values[np.isfinite(values)]
    return len(finite) > 0 and bool(np.all(finite == np.round(finite)))


def infer_kind(col: pd.Series) -> str:
    """Return the default kind of a column from its dtype (and, for ``object``, its values).

    A float column whose observed values are all whole numbers, at least
    ``MIN_WHOLE_VALUES`` of them, is taken as ``integer`` (its fills are
    rounded): ``pd.read_csv`` types an integer column with gaps as float64.
    With fewer such values it stays ``numeric``, with a warning naming the
    way to round it.
    """
    dtype = col.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_bool_dtype(dtype):
        return "binary"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return _float_kind(col)
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return "categorical"
    if (
        pd.api.types.is_datetime64_any_dtype(dtype)
        or pd.api.types.is_timedelta64_dtype(dtype)
        or isinstance(dtype, pd.PeriodDtype)
    ):
        return "passthrough"
    if pd.api.types.is_object_dtype(dtype):
        observed = col.dropna()
        if _is_bool_like(observed):
            return "binary"
        if _is_number_like(observed):
            return "numeric"
        return "categorical"
    raise InputTypeError(
        f"column {col.name!r} has dtype {dtype}, which aeimpute cannot model; "
        "convert it or pass column_kinds={...: 'passthrough'}"
    )


def _float_kind(col: pd.Series) -> str:
    values = _as_float(col)
    if not whole_numbers(values):
        return "numeric"
    count = int(np.isfinite(values).sum())
    if count >= MIN_WHOLE_VALUES:
        return "integer"
    warnings.warn(
        f"column {col.name!r} holds whole numbers only, but {count} observed value(s) are too "
        f"few to tell integers from measurements; its fills are not rounded (pass "
        f"column_kinds={{{col.name!r}: 'integer'}} to round them)",
        UserWarning,
        stacklevel=4,
    )
    return "numeric"


def _sorted_levels(values: pd.Series) -> list:
    bad = [v for v in values if not isinstance(v, (str, numbers.Number, bool, np.bool_))]
    if bad:
        raise InputTypeError(
            f"column {values.name!r} holds a value of type {type(bad[0]).__name__}; each "
            "argument must be a string or a number (or missing)"
        )
    uniq = pd.unique(values)
    try:
        return sorted(uniq.tolist())
    except TypeError:  # mixed types: keep order of first appearance
        return list(uniq.tolist())


def _as_float(col: pd.Series) -> np.ndarray:
    """Numeric column -> float64 array with NaN for missing."""
    if isinstance(col.dtype, pd.api.extensions.ExtensionDtype) and not isinstance(
        col.dtype, pd.CategoricalDtype
    ):
        return col.to_numpy(dtype="float64", na_value=np.nan)
    return pd.to_numeric(col, errors="raise").to_numpy(dtype="float64")


def numeric_values(col: pd.Series, name: Any, context: str) -> np.ndarray:
    """Float values of a numeric column (NaN for missing); errors name the column."""
    try:
        vals = _as_float(col)
    except (ValueError, TypeError) as err:
        raise InputTypeError(f"column {name!r} {context} but holds non-numeric values") from err
    if np.isinf(vals).any():
        raise ValueError(
            f"column {name!r} contains infinite values; replace them with NaN "
            "(to impute them) or finite numbers"
        )
    return vals


def infer_schema(df: pd.DataFrame, column_kinds: dict | None = None) -> list[ColumnSpec]:
    """Learn one :class:`ColumnSpec` per column of ``df``.

    Parameters
    ----------
    df : DataFrame
        Training data.
    column_kinds : dict, optional
        ``{column: kind}`` overrides of the detected kinds.

    Returns
    -------
    list of ColumnSpec
    """
    column_kinds = dict(column_kinds or {})
    unknown = [c for c in column_kinds if c not in df.columns]
    if unknown:
        raise ValueError(f"column_kinds names columns not in the data: {unknown}")
    specs = []
    for name in df.columns:
        col = df[name]
        kind = column_kinds.get(name) or infer_kind(col)
        if kind not in KINDS:
            raise ValueError(f"column_kinds[{name!r}] = {kind!r} is not one of {list(KINDS)}")
        spec = ColumnSpec(name=name, kind=kind, dtype=str(col.dtype))
        observed = col[col.notna()]
        if kind in ("numeric", "integer"):
            vals = numeric_values(observed, name, f"was declared {kind}")
            if len(vals):
                spec.low, spec.high = float(vals.min()), float(vals.max())
        elif kind == "binary":
            levels = _sorted_levels(observed)
            if len(levels) > 2:
                raise ValueError(
                    f"column {name!r} was declared binary but has {len(levels)} distinct "
                    "values; use 'categorical'"
                )
            spec.levels = levels
        elif kind == "categorical":
            if isinstance(col.dtype, pd.CategoricalDtype):
                present = set(observed.unique().tolist())
                spec.levels = [c for c in col.dtype.categories.tolist() if c in present]
            else:
                spec.levels = _sorted_levels(observed)
        specs.append(spec)
    return specs


@dataclass
class Layout:
    """Where each modelled column lives in the encoded matrix."""

    specs: list[ColumnSpec]
    modelled: list[int] = field(init=False)  # positions in specs of modelled columns
    slices: list[slice] = field(init=False)  # encoded slice per modelled column
    n_encoded: int = field(init=False)

    def __post_init__(self) -> None:
        self.modelled = [i for i, s in enumerate(self.specs) if s.kind in MODELLED]
        self.slices = []
        start = 0
        for i in self.modelled:
            w = self.specs[i].width
            self.slices.append(slice(start, start + w))
            start += w
        self.n_encoded = start

    @property
    def n_features(self) -> int:
        return len(self.modelled)

    def feature_of_encoded(self) -> np.ndarray:
        """For each encoded column, the index of its modelled feature."""
        out = np.empty(self.n_encoded, dtype=np.int64)
        for f, sl in enumerate(self.slices):
            out[sl] = f
        return out

    def heads(self) -> dict:
        """Encoded-column indices by output head: numeric, binary, and categorical groups."""
        numeric, binary, groups = [], [], []
        for f, i in enumerate(self.modelled):
            sl = self.slices[f]
            kind = self.specs[i].kind
            if kind in ("numeric", "integer"):
                numeric.append(sl.start)
            elif kind == "binary":
                binary.append(sl.start)
            elif sl.stop > sl.start:
                groups.append(list(range(sl.start, sl.stop)))
        return {"numeric": numeric, "binary": binary, "categorical": groups}

    def numeric_encoded(self) -> np.ndarray:
        """Which encoded columns hold numbers (the others hold binary/categorical values)."""
        numeric = np.zeros(self.n_encoded, dtype=bool)
        numeric[self.heads()["numeric"]] = True
        return numeric


def encode(df: pd.DataFrame, layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """Encode ``df`` into ``(values, observed)``.

    Returns
    -------
    values : ndarray of shape (n_rows, n_encoded)
        Raw (unscaled) encoded values, NaN where the column is missing.
    observed : ndarray of bool, shape (n_rows, n_features)
        True where the modelled column is observed. Categories not seen in
        training count as missing (with a warning).
    """
    n = len(df)
    # column-major: every column below is written in one contiguous pass
    values = np.full((n, layout.n_encoded), np.nan, order="F")
    observed = np.zeros((n, layout.n_features), dtype=bool, order="F")
    for f, i in enumerate(layout.modelled):
        spec = layout.specs[i]
        col = df.iloc[:, i]
        sl = layout.slices[f]
        notna = col.notna().to_numpy()
        if spec.kind in ("numeric", "integer"):
            vals = numeric_values(col, spec.name, f"was {spec.kind} at fit")
            values[:, sl.start] = vals
            observed[:, f] = ~np.isnan(vals)
            continue
        levels = spec.levels or []
        codes = pd.Index(levels).get_indexer(col.astype(object).where(col.notna(), None))
        unseen = notna & (codes < 0)
        if unseen.any():
            bad = pd.unique(col[unseen].astype(object))[:5].tolist()
            warnings.warn(
                f"column {spec.name!r} has {int(unseen.sum())} value(s) not seen in fit "
                f"(e.g. {bad}); they are treated as missing by the model and returned "
                "unchanged",
                UserWarning,
                stacklevel=3,
            )
        ok = codes >= 0
        observed[:, f] = ok
        if spec.kind == "binary":
            values[ok, sl.start] = codes[ok].astype(float)
        else:
            block = np.zeros((n, sl.stop - sl.start))
            block[np.flatnonzero(ok), codes[ok]] = 1.0
            block[~ok] = np.nan
            values[:, sl] = block
    return values, observed


def _holder_dtype(spec: ColumnSpec) -> tuple[Any, Any]:
    """``(dtype that holds missing cells, dtype to return)`` of a column typed as at fit."""
    if spec.dtype == "category":
        dtype = pd.CategoricalDtype(spec.levels or [])
        return dtype, dtype
    final = pd.api.types.pandas_dtype(spec.dtype)
    if final == np.dtype(bool):
        return pd.BooleanDtype(), final
    if final.kind in "iu" and not isinstance(final, pd.api.extensions.ExtensionDtype):
        return pd.Int64Dtype(), final
    return final, final


def conform_empty_columns(df: pd.DataFrame, layout: Layout) -> tuple[pd.DataFrame, dict]:
    """Give entirely missing modelled columns the dtype they had at fit.

    pandas types a column with no value as float64 (or object), as in CSV
    chunks and single edited rows: such a column is imputed as its training
    kind. Returns the frame (a shallow copy when a column changed; ``df``
    itself is never modified) and ``{position: dtype}`` of the columns to
    cast back after filling (:func:`restore_dtypes`).
    """
    out, finals = df, {}
    for i in layout.modelled:
        spec = layout.specs[i]
        col = df.iloc[:, i]
        if str(col.dtype) == spec.dtype or not col.isna().all():
            continue
        try:
            holder, final = _holder_dtype(spec)
            new = pd.Series(pd.array([None] * len(col), dtype=holder), index=col.index,
                            name=col.name)  # fmt: skip
        except (TypeError, ValueError):  # a training dtype pandas cannot rebuild: leave it
            continue
        if out is df:
            out = df.copy(deep=False)
        out.isetitem(i, new)
        if final != holder:
            finals[i] = final
    return out, finals


def restore_dtypes(df: pd.DataFrame, finals: dict) -> pd.DataFrame:
    """Cast the columns :func:`conform_empty_columns` widened back, where nothing is missing."""
    for i, dtype in finals.items():
        col = df.iloc[:, i]
        if not col.isna().any():
            df.isetitem(i, col.astype(dtype))
    return df


def decode(
    df: pd.DataFrame,
    layout: Layout,
    pred: np.ndarray,
    fill: np.ndarray,
    clip: bool = True,
) -> pd.DataFrame:
    """Write predictions into the cells of ``df`` selected by ``fill``.

    Parameters
    ----------
    df : DataFrame
        The user's data; never modified.
    layout : Layout
    pred : ndarray of shape (n_rows, n_encoded)
        Reconstruction in raw units: numeric values, binary probabilities,
        categorical probabilities (or one-hot draws).
    fill : ndarray of bool, shape (n_rows, n_features)
        Cells to overwrite (the missing ones).
    clip : bool
        Clip numeric predictions to the range seen in training.

    Returns
    -------
    DataFrame
        Same index, columns and dtypes as ``df``.
    """
    out = df.copy(deep=False)  # isetitem below puts new arrays in ``out``, never into ``df``
    for f, i in enumerate(layout.modelled):
        rows = np.flatnonzero(fill[:, f])
        if len(rows) == 0:
            continue
        spec = layout.specs[i]
        sl = layout.slices[f]
        col = df.iloc[:, i]
        if spec.kind in ("numeric", "integer"):
            v = pred[rows, sl.start]
            if clip and spec.low is not None:
                v = np.clip(v, spec.low, spec.high)
            if spec.kind == "integer":
                v = np.rint(v)
            new = assign_cells(col, rows, v)
        elif spec.kind == "binary":
            levels = spec.levels or []
            p = pred[rows, sl.start]
            if len(levels) == 1:
                idx = np.zeros(len(rows), dtype=int)
            else:
                idx = (p >= 0.5).astype(int)
            new = assign_cells(col, rows, _take_levels(levels, idx))
        else:
            idx = np.argmax(pred[rows, sl], axis=1)
            new = assign_cells(col, rows, _take_levels(spec.levels or [], idx))
        out.isetitem(i, new)
    return out


def _take_levels(levels: list, idx: np.ndarray) -> np.ndarray:
    arr = np.empty(len(levels), dtype=object)
    arr[:] = levels
    return arr[idx]


def assign_cells(col: pd.Series, rows: np.ndarray, values: np.ndarray) -> pd.Series:
    """Copy of ``col`` with ``values`` written at positions ``rows``, dtype kept."""
    dtype = col.dtype
    if pd.api.types.is_float_dtype(dtype) and not isinstance(
        dtype, pd.api.extensions.ExtensionDtype
    ):
        arr = col.to_numpy(copy=True)
        arr[rows] = np.asarray(values, dtype=float).astype(dtype)
        return pd.Series(arr, index=col.index, name=col.name, dtype=dtype, copy=False)
    new = col.copy()
    if pd.api.types.is_integer_dtype(dtype) or isinstance(dtype, pd.BooleanDtype):
        values = np.asarray(values)
        if pd.api.types.is_integer_dtype(dtype):
            values = values.astype(np.int64)
        else:
            values = values.astype(bool)
    elif pd.api.types.is_float_dtype(dtype):
        values = np.asarray(values, dtype=float)
    new.iloc[rows] = values
    if new.dtype != dtype:  # e.g. an object column written with numbers stays object
        new = new.astype(dtype)
    return new
