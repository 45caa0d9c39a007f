"""Dask DataFrames in :class:`aeimpute.Imputer`: fit on a sample, transform lazily.

Dask is an optional dependency (``pip install "aeimpute[dask]"``); nothing
here imports it unless a Dask collection is passed in. The one setting users
may change is :data:`FIT_ROWS` (how many rows a fit brings into memory), e.g.
``aeimpute.dask_frames.FIT_ROWS = 2_000_000`` before fitting.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.utils import check_random_state

#: most rows :meth:`Imputer.fit` takes from a Dask DataFrame (and ``aeimpute fit`` from a
#: Parquet source): beyond this, a uniform random sample of about this many rows. Training
#: sees ``max_iter * batch_size`` rows (at most 1,536,000 by default), so more add little.
FIT_ROWS = 1_000_000


def is_dask_frame(X: Any) -> bool:
    """Whether ``X`` is a Dask DataFrame (checked without importing Dask)."""
    return is_dask(X) and type(X).__name__ == "DataFrame"


def is_dask(X: Any) -> bool:
    """Whether ``X`` is any Dask collection (DataFrame, Series, Array)."""
    return type(X).__module__.split(".")[0] == "dask" and hasattr(X, "__dask_graph__")


def fit_rows(ddf: Any, random_state: Any, max_rows: int | None = None) -> pd.DataFrame:
    """The rows of ``ddf`` to fit on, as pandas: all of them, or a sample beyond ``max_rows``.

    Counting the rows reads every partition once; a sample keeps each row
    with the same probability (``max_rows / n_rows``), partition by
    partition, seeded from ``random_state`` (drawn from only when sampling).
    ``max_rows`` defaults to :data:`FIT_ROWS`.
    """
    max_rows = FIT_ROWS if max_rows is None else max_rows
    n = int(ddf.map_partitions(len).sum().compute())
    if n <= max_rows:
        return ddf.compute()
    seed = int(check_random_state(random_state).randint(2**31 - 1))
    return ddf.sample(frac=max_rows / n, random_state=seed).compute()


def _fill_partition(part: pd.DataFrame, imputer: Any) -> pd.DataFrame:
    return imputer.transform(part)


def check_transformable(imputer: Any) -> None:
    """Raise unless a fitted ``imputer`` can fill a Dask DataFrame partition by partition."""
    if imputer.temporal_:
        raise ValueError(
            "this Imputer uses temporal context, which needs the whole series at once; "
            "a Dask DataFrame would be filled partition by partition. Compute it first "
            "(ddf.compute()) or fit with temporal=False"
        )
    if imputer.input_kind_ != "pandas":
        raise ValueError(
            "this Imputer was fitted on an array; fit it on a DataFrame (pandas or Dask) "
            "to fill a Dask DataFrame"
        )


def transform(imputer: Any, ddf: Any) -> Any:
    """A lazy Dask DataFrame: ``imputer.transform`` applied to each partition.

    The caller has checked the imputer (:func:`check_transformable`) and that ``ddf`` has
    the columns it was fitted on. The fitted imputer enters the task graph once, as a single
    delayed object every partition task depends on, so each worker receives it once.
    """
    import dask
    from dask.dataframe.utils import make_meta

    model = dask.delayed(imputer, pure=True)
    # the output has the input's columns, dtypes and index: its (empty) metadata is the input's
    return ddf.map_partitions(_fill_partition, model, meta=make_meta(ddf))
