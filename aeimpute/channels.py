"""Channels of a fused matrix: which columns come from the same sensor or source.

In fusion learning, data from several sensors or sources are joined side by
side into one table. A sensor that goes offline leaves all of its columns
missing at once, often for runs of consecutive rows. This module resolves a
channel specification against a table, reports missingness per channel and
builds missing-value indicators for downstream models.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from aeimpute import _validation as v
from aeimpute._frame import FullTable

ChannelSpec = Mapping[Hashable, Sequence[Hashable]] | None


def resolve_channels(columns: Sequence[Hashable], channels: Any) -> list[tuple[Any, list]]:
    """Group ``columns`` into channels, in column order.

    Parameters
    ----------
    columns : sequence of column labels
        The table's columns.
    channels : dict {name: [columns]}, "columns" or None
        A dict names the columns of each channel; columns in no channel
        become channels of their own. ``None`` takes the first level of a
        two-level :class:`pandas.MultiIndex` of columns as the channel, or
        makes each column its own channel for flat columns. ``"columns"``
        always makes each column its own channel.

    Returns
    -------
    list of (name, [columns])
        Every column in exactly one channel; channels in the order of their
        first column.

    Raises
    ------
    ValueError
        A named column is not in the table, a column is in two channels, a
        channel is empty, or ``channels`` has the wrong type.

    Examples
    --------
    >>> resolve_channels(["a", "b", "c"], {"s1": ["a", "c"]})
    [('s1', ['a', 'c']), ('b', ['b'])]
    >>> import pandas as pd
    >>> cols = pd.MultiIndex.from_tuples([("gps", "lat"), ("gps", "lon"), ("imu", "ax")])
    >>> [name for name, _ in resolve_channels(cols, None)]
    ['gps', 'imu']
    """
    columns = list(columns)
    if channels is None:
        if columns and all(isinstance(c, tuple) and len(c) == 2 for c in columns):
            groups: dict[Any, list] = {}
            for c in columns:
                groups.setdefault(c[0], []).append(c)
            return list(groups.items())
        return [(c, [c]) for c in columns]
    if isinstance(channels, str) and channels == "columns":
        return [(c, [c]) for c in columns]
    if not isinstance(channels, Mapping):
        raise ValueError(
            "channels must be None, 'columns' or a dict {channel name: [columns]}; "
            f"got {type(channels).__name__}"
        )
    known = set(columns)
    owner: dict[Any, Any] = {}
    for name, cols in channels.items():
        if isinstance(cols, (str, bytes)) or not isinstance(cols, Sequence | pd.Index):
            raise ValueError(
                f"channel {name!r} must list its columns (a list), got {type(cols).__name__}"
            )
        if len(cols) == 0:
            raise ValueError(f"channel {name!r} has no columns")
        missing = [c for c in cols if c not in known]
        if missing:
            raise ValueError(f"channel {name!r} names columns not in the table: {missing}")
        for c in cols:
            if c in owner and owner[c] != name:
                raise ValueError(f"column {c!r} is in two channels: {owner[c]!r} and {name!r}")
            owner[c] = name
    names = {}
    for c in columns:
        name = owner.get(c, c)
        if c not in owner and c in channels:
            raise ValueError(
                f"column {c!r} is in no channel but a channel is named {c!r}; rename the channel"
            )
        names.setdefault(name, []).append(c)
    return list(names.items())


def channel_codes(columns: Sequence[Hashable], groups: list[tuple[Any, list]]) -> np.ndarray:
    """Channel number of each column (positions in ``groups``)."""
    where = {c: k for k, (_, cols) in enumerate(groups) for c in cols}
    return np.asarray([where[c] for c in columns], dtype=np.int64)


class ChannelReport(FullTable):
    """The table :func:`report` returns: a DataFrame that prints every column.

    pandas hides the middle columns of a wide frame behind ``...`` to fit
    the terminal; this one wraps them onto further lines instead. Anything
    derived from it (a selection, a copy) is a plain DataFrame.
    """


def report(X: pd.DataFrame | np.ndarray, channels: ChannelSpec | str = None) -> pd.DataFrame:
    """Missingness per channel: how much is missing and the longest outage.

    A row counts as a channel *outage* when every column of the channel is
    missing in it; outages are counted in consecutive rows (in the table's
    row order, so sort a time series by time first).

    Parameters
    ----------
    X : DataFrame or ndarray
    channels : dict {name: [columns]}, "columns" or None
        As for :class:`aeimpute.Imputer`: ``None`` uses the first level of
        two-level column labels, else one channel per column.

    Returns
    -------
    ChannelReport (a DataFrame that prints every column)
        One row per channel (index: channel name) with ``columns`` (count),
        ``missing_cells`` (share of the channel's cells), ``outage_rows``
        (share of rows where the whole channel is missing),
        ``partial_rows`` (share of rows with some but not all missing),
        ``outages`` (number of runs of outage rows) and ``longest_outage``
        (rows). For a DataFrame with a :class:`pandas.DatetimeIndex`,
        ``longest_outage_time`` gives the time from the first to the row
        after the last outage row of the longest run.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> df = pd.DataFrame({"a": [1, np.nan, np.nan, 4], "b": [1, np.nan, np.nan, 4],
    ...                    "c": [np.nan, 2, 3, 4]})
    >>> rep = report(df, channels={"s1": ["a", "b"], "s2": ["c"]})
    >>> rep["missing_cells"].to_dict()
    {'s1': 0.5, 's2': 0.25}
    >>> rep["longest_outage"].to_dict()
    {'s1': 2, 's2': 1}
    """
    df, _ = v.as_frame(X)
    groups = resolve_channels(df.columns, channels)
    na = df.isna().to_numpy()
    n = len(df)
    dt_index = isinstance(df.index, pd.DatetimeIndex)
    rows = []
    for _, cols in groups:
        pos = [df.columns.get_loc(c) for c in cols]
        sub = na[:, pos]
        out = sub.all(axis=1)
        padded = np.concatenate([[False], out, [False]]).astype(np.int8)
        edges = np.flatnonzero(np.diff(padded))
        starts, ends = edges[0::2], edges[1::2]
        row = {
            "columns": len(cols),
            "missing_cells": float(sub.mean()) if n else 0.0,
            "outage_rows": float(out.mean()) if n else 0.0,
            "partial_rows": float((sub.any(axis=1) & ~out).mean()) if n else 0.0,
            "outages": len(starts),
            "longest_outage": int((ends - starts).max()) if len(starts) else 0,
        }
        if dt_index:
            if len(starts):
                k = int(np.argmax(ends - starts))
                stop = df.index[ends[k]] if ends[k] < n else df.index[-1]
                row["longest_outage_time"] = stop - df.index[starts[k]]
            else:
                row["longest_outage_time"] = pd.Timedelta(0)
        rows.append(row)
    index = pd.Index([name for name, _ in groups], name="channel")
    return ChannelReport(rows, index=index)


def missing_indicators(
    X: pd.DataFrame | np.ndarray, channels: ChannelSpec | str = None, by: str = "column"
) -> pd.DataFrame | np.ndarray:
    """Missing-value indicators to put beside an imputed matrix.

    Fusion models often take the mask as extra features, so that they can
    learn how much to trust an imputed sensor. Compute the indicators on the
    *incomplete* data, before imputing.

    Parameters
    ----------
    X : DataFrame or ndarray
        The data with its missing cells.
    channels : dict, "columns" or None
        Channel specification (see :func:`report`); used when ``by="channel"``.
    by : {"column", "channel"}, default="column"
        One indicator per column, or one per channel (1 where any column of
        the channel is missing).

    Returns
    -------
    DataFrame of uint8 (same index; columns ``"<name>_missing"``) or ndarray
        A DataFrame for a DataFrame input; a 2-D uint8 array otherwise.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> df = pd.DataFrame({"a": [1.0, np.nan], "b": [np.nan, np.nan]})
    >>> missing_indicators(df)
       a_missing  b_missing
    0          0          1
    1          1          1
    >>> imputed = df.fillna(0.0)
    >>> pd.concat([imputed, missing_indicators(df)], axis=1).shape
    (2, 4)
    """
    v.check_params({"by": by}, {"by": v.one_of("column", "channel")})
    df, kind = v.as_frame(X)
    na = df.isna().to_numpy()
    if by == "column":
        names, ind = list(df.columns), na
    else:
        groups = resolve_channels(df.columns, channels)
        names = [name for name, _ in groups]
        ind = np.column_stack(
            [na[:, [df.columns.get_loc(c) for c in cols]].any(axis=1) for _, cols in groups]
        )
    ind = ind.astype(np.uint8)
    if kind == "numpy":
        return ind
    labels = [_label(n) + "_missing" for n in names]
    return pd.DataFrame(ind, index=df.index, columns=labels)


def _label(name: Any) -> str:
    if isinstance(name, tuple):
        return "_".join(str(x) for x in name)
    return str(name)
