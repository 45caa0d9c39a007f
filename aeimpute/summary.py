"""What a fitted imputer fills and how well: the table behind :meth:`aeimpute.Imputer.summary`.

The expected error of each column is measured at fit on the cells held back
for validation, which the first network never trained on: its predictions
there, before the blend (which, where it is used, usually lowers the error a
little further: the figure errs on the safe side). Numbers get a
root-mean-square error in the column's own units, binary and categorical
columns the share of cells filled with a wrong value. This module knows
about pandas and the layout, not about torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from aeimpute._frame import FullTable
from aeimpute.schema import Layout

#: measure of each column kind's expected error
MEASURES = {"numeric": "RMSE", "integer": "RMSE", "binary": "share wrong",
            "categorical": "share wrong"}  # fmt: skip


def held_out_errors(
    layout: Layout, truth: np.ndarray, pred: np.ndarray, held: np.ndarray
) -> dict[str, list]:
    """Error of ``pred`` on the ``held`` cells, per modelled column.

    Parameters
    ----------
    layout : Layout
    truth, pred : ndarray (rows, encoded columns)
        Values in the original units (probabilities for binary and
        categorical columns in ``pred``, 0/1 in ``truth``).
    held : bool ndarray (rows, modelled columns)
        The cells held back at fit.

    Returns
    -------
    dict
        ``{"error": [...], "cells": [...]}``, one entry per modelled column
        (error NaN for a column with no held-back cell).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from aeimpute.schema import Layout, infer_schema
    >>> layout = Layout(infer_schema(pd.DataFrame({"x": [1.0, 2.0], "b": [True, False]})))
    >>> truth = np.array([[1.0, 1.0], [2.0, 0.0]])
    >>> pred = np.array([[1.5, 0.9], [2.0, 0.8]])
    >>> held_out_errors(layout, truth, pred, np.ones((2, 2), dtype=bool))
    {'error': [0.3535533905932738, 0.5], 'cells': [2, 2]}
    """
    errors, cells = [], []
    for f, i in enumerate(layout.modelled):
        rows = np.flatnonzero(held[:, f])
        sl = layout.slices[f]
        kind = layout.specs[i].kind
        cells.append(len(rows))
        if len(rows) == 0:
            errors.append(float("nan"))
        elif kind in ("numeric", "integer"):
            diff = pred[rows, sl.start] - truth[rows, sl.start]
            errors.append(float(np.sqrt(np.mean(diff**2))))
        elif kind == "binary":
            wrong = (pred[rows, sl.start] >= 0.5) != (truth[rows, sl.start] >= 0.5)
            errors.append(float(np.mean(wrong)))
        else:
            wrong = pred[rows, sl].argmax(axis=1) != truth[rows, sl].argmax(axis=1)
            errors.append(float(np.mean(wrong)))
    return {"error": errors, "cells": cells}


class FitSummary(FullTable):
    """The table :meth:`aeimpute.Imputer.summary` returns: a DataFrame that prints in full.

    Derived frames (selections, copies) are plain DataFrames.
    """

    def _shown(self) -> pd.DataFrame:
        shown = pd.DataFrame(self)
        shown["expected_error"] = [
            "–" if pd.isna(e) else (f"{e:.1%}" if m == "share wrong" else f"{e:.4g}")
            for e, m in zip(self["expected_error"], self["measure"], strict=True)
        ]
        return shown


def build(
    columns: list[Any],
    kinds: list[str],
    errors: dict[str, list],
    missing: list[int] | None,
) -> FitSummary:
    """One row per modelled column: kind, cells to fill, expected error and how it was measured."""
    data: dict[str, Any] = {"kind": kinds}
    if missing is not None:
        data["missing"] = missing
    data["expected_error"] = errors["error"]
    data["measure"] = [MEASURES[k] for k in kinds]
    data["held_back_cells"] = errors["cells"]
    return FitSummary(data, index=pd.Index(columns, name="column"))
