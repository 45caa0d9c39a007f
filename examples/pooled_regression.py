"""Multiple imputation, start to finish: draw completions, fit a regression on each, pool.

Run with ``python examples/pooled_regression.py``.

The diabetes table of scikit-learn loses a quarter of its ``bmi`` and ``bp`` cells (more
often for older patients); the question is how disease progression depends on ``bmi``,
``bp`` and ``age``. Each of 20 completions drawn by :meth:`aeimpute.Imputer.sample` gets an
ordinary least-squares fit; :func:`aeimpute.pool.pool_analyses` pools them with Rubin's
rules, so the interval widens by what the missing cells leave unknown (the FMI column, the
fraction of missing information). The full-data fit is printed beside it for comparison,
something a real analysis would not have.
"""

import numpy as np
import pandas as pd
from sklearn.datasets import load_diabetes

from aeimpute import Imputer
from aeimpute.pool import pool_analyses

PREDICTORS = ["age", "bmi", "bp"]


def ols(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Coefficients of ``target`` on PREDICTORS and their squared standard errors."""
    X = np.column_stack([np.ones(len(df)), df[PREDICTORS].to_numpy(dtype=float)])
    y = df["target"].to_numpy(dtype=float)
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    cov = resid @ resid / (len(y) - X.shape[1]) * np.linalg.inv(X.T @ X)
    names = ["intercept", *PREDICTORS]
    return pd.Series(coef, index=names), pd.Series(np.diag(cov), index=names)


def main(draws: int = 20, max_iter: int | str = "auto") -> pd.DataFrame:
    full = load_diabetes(as_frame=True).frame
    rng = np.random.default_rng(0)
    damaged = full.copy()
    older = full["age"] > full["age"].median()
    for col in ("bmi", "bp"):
        damaged.loc[rng.random(len(full)) < np.where(older, 0.35, 0.15), col] = np.nan
    share = damaged[["bmi", "bp"]].isna().mean()
    print(f"cells missing: bmi {share['bmi']:.0%}, bp {share['bp']:.0%}")

    # the outcome belongs in the imputation model: the completions must keep its relation
    # to the predictors, or the pooled coefficients shrink toward zero
    imputer = Imputer(max_iter=max_iter, random_state=0).fit(damaged)
    completions = imputer.sample(damaged, n=draws)
    pooled = pool_analyses(completions, ols, dof_complete=len(full) - 1 - len(PREDICTORS))
    table = pooled.summary()
    table["full-data estimate"] = ols(full)[0]
    print(table.round(2).to_string())
    return table


if __name__ == "__main__":
    main()
