"""Pooling an analysis over multiple imputations (Rubin's rules).

:meth:`aeimpute.Imputer.sample` returns several plausible completions of a
table. Run the analysis (a regression, a mean, ...) on each completion, then
pool the estimates and their squared standard errors here: the pooled
estimate is their mean, and its variance adds the spread *between* the
completions to the mean variance *within* them, so the intervals account for
the cells that had to be filled.

What the spread of :meth:`~aeimpute.Imputer.sample`'s draws includes: each
filled number is the fitted model's prediction plus Gaussian noise of the
column's error on held-back cells (categories are drawn from the predicted
probabilities). The uncertainty of the model itself (another fit on another
sample would predict differently) is not in the draws, so pooled intervals
can be somewhat too narrow; ``benchmarks/results/pooling.md`` measures their
coverage on planted data.

Examples
--------
>>> import numpy as np
>>> from aeimpute.pool import pool
>>> estimates = [[1.9, 0.52], [2.1, 0.47], [2.0, 0.50]]   # 3 completions, 2 parameters
>>> variances = [[0.04, 0.01], [0.05, 0.01], [0.04, 0.01]]  # squared standard errors
>>> result = pool(estimates, variances, dof_complete=97)
>>> result.estimate.round(3).tolist()
[2.0, 0.497]
>>> bool((result.total > result.within).all())
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Pooled", "pool", "pool_analyses"]


@dataclass(frozen=True)
class Pooled:
    """Rubin's-rules summary of one analysis run on ``m`` completions.

    All arrays have one entry per parameter (a :class:`pandas.Series` is
    used for each when the estimates came with names).

    Attributes
    ----------
    m : int
        Number of completions pooled.
    estimate : ndarray
        Pooled estimate: the mean of the completions' estimates.
    within : ndarray
        Within-imputation variance: the mean of the squared standard errors.
    between : ndarray
        Between-imputation variance: the sample variance of the estimates.
    total : ndarray
        Total variance ``within + (1 + 1/m) * between``.
    dof : ndarray
        Degrees of freedom of the pooled t reference distribution (Rubin's,
        with Barnard and Rubin's small-sample correction when the
        complete-data degrees of freedom were given).
    riv : ndarray
        Relative increase in variance due to the missing values,
        ``(1 + 1/m) * between / within``.
    fmi : ndarray
        Fraction of missing information, ``(riv + 2 / (dof + 3)) / (riv + 1)``.
    """

    m: int
    estimate: Any
    within: Any
    between: Any
    total: Any
    dof: Any
    riv: Any
    fmi: Any

    @property
    def std_error(self) -> Any:
        """Pooled standard error, ``sqrt(total)``."""
        return np.sqrt(self.total)

    def conf_int(self, level: float = 0.95) -> tuple[Any, Any]:
        """Lower and upper bounds of the pooled ``level`` confidence interval (t with ``dof``)."""
        from scipy import stats

        if not 0.0 < level < 1.0:
            raise ValueError(f"level must be between 0 and 1 (exclusive), got {level!r}")
        half = stats.t.ppf(0.5 + level / 2.0, self.dof) * self.std_error
        return self.estimate - half, self.estimate + half

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """One row per parameter: estimate, standard error, interval, dof, riv, fmi."""
        low, high = self.conf_int(level)
        pct = f"{100 * level:g}%"
        columns = {
            "estimate": self.estimate,
            "std_error": self.std_error,
            f"{pct} low": low,
            f"{pct} high": high,
            "dof": self.dof,
            "riv": self.riv,
            "fmi": self.fmi,
        }
        index = self.estimate.index if isinstance(self.estimate, pd.Series) else None
        arrays = {k: np.asarray(v, dtype=float) for k, v in columns.items()}
        return pd.DataFrame(arrays, index=index)


def _stack(values: Any, name: str) -> tuple[np.ndarray, pd.Index | None]:
    """(m, k) float array of one entry per completion, and the parameter names if any."""
    if isinstance(values, pd.DataFrame):
        return values.to_numpy(dtype=float), values.columns
    items = list(values) if not isinstance(values, np.ndarray) else values
    index = None
    if len(items) and all(isinstance(v, pd.Series) for v in items):
        index = items[0].index
        for i, v in enumerate(items):
            if not v.index.equals(index):
                raise ValueError(
                    f"{name}[{i}] names other parameters than {name}[0]: "
                    f"{list(v.index)} vs {list(index)}"
                )
    try:
        arr = np.asarray([np.asarray(v, dtype=float) for v in items], dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name} must be numbers: one value or one equal-length vector per completion"
        ) from exc
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must have one value or one vector per completion, got shape {arr.shape}"
        )
    return arr, index


def pool(
    estimates: Sequence[Any] | np.ndarray | pd.DataFrame,
    variances: Sequence[Any] | np.ndarray | pd.DataFrame,
    dof_complete: float | None = None,
) -> Pooled:
    """Pool estimates from ``m`` completions with Rubin's rules.

    Parameters
    ----------
    estimates : array-like of shape (m,) or (m, k)
        Each completion's estimate of ``k`` parameters (a list of pandas
        Series keeps their names).
    variances : array-like of the same shape
        Each completion's squared standard errors of those estimates.
    dof_complete : float, optional
        Degrees of freedom the analysis would have on the complete data (for
        a linear regression, rows minus coefficients). With it, the pooled
        degrees of freedom get Barnard and Rubin's (1999) small-sample
        correction; without it, Rubin's (1987) large-sample ones.

    Returns
    -------
    Pooled

    Raises
    ------
    ValueError
        Fewer than two completions, shapes that differ, negative or missing
        variances, or non-finite estimates.

    Examples
    --------
    >>> from aeimpute.pool import pool
    >>> r = pool([10.2, 9.8, 10.4, 10.0], [0.25, 0.25, 0.25, 0.25])
    >>> float(r.estimate[0]), round(float(r.between[0]), 4), round(float(r.total[0]), 4)
    (10.1, 0.0667, 0.3333)
    """
    est, names = _stack(estimates, "estimates")
    var, var_names = _stack(variances, "variances")
    if est.shape != var.shape:
        raise ValueError(
            f"estimates and variances must have the same shape (completions x parameters), "
            f"got {est.shape} and {var.shape}"
        )
    m = est.shape[0]
    if m < 2:
        raise ValueError(
            f"pooling needs at least 2 completions (got {m}); draw more with Imputer.sample(X, n)"
        )
    if not np.isfinite(est).all():
        raise ValueError("estimates contain NaN or infinite values")
    if not np.isfinite(var).all() or (var < 0).any():
        raise ValueError("variances must be finite and non-negative (squared standard errors)")
    if dof_complete is not None and not dof_complete > 0:
        raise ValueError(f"dof_complete must be positive, got {dof_complete!r}")
    qbar = est.mean(axis=0)
    ubar = var.mean(axis=0)
    b = est.var(axis=0, ddof=1)
    t = ubar + (1.0 + 1.0 / m) * b
    with np.errstate(divide="ignore", invalid="ignore"):
        riv = np.where(ubar > 0, (1.0 + 1.0 / m) * b / ubar, np.inf)
        lam = np.where(t > 0, (1.0 + 1.0 / m) * b / t, 0.0)
        dof = np.where(lam > 0, (m - 1) / lam**2, np.inf)
        if dof_complete is not None:
            observed = (dof_complete + 1.0) / (dof_complete + 3.0) * dof_complete * (1.0 - lam)
            dof = np.where(np.isinf(dof), observed, dof * observed / (dof + observed))
        fmi = np.where(np.isinf(riv), 1.0, (riv + 2.0 / (dof + 3.0)) / (riv + 1.0))
    index = names if names is not None else var_names

    def out(a: np.ndarray) -> Any:
        return pd.Series(a, index=index) if index is not None else a

    return Pooled(m, out(qbar), out(ubar), out(b), out(t), out(dof), out(riv), out(fmi))


def pool_analyses(
    completions: Sequence[Any],
    analysis: Callable[[Any], tuple[Any, Any]],
    dof_complete: float | None = None,
) -> Pooled:
    """Run ``analysis`` on each completion and pool the results.

    Parameters
    ----------
    completions : sequence
        The completions, e.g. ``Imputer(...).fit(X).sample(X, n=20)``.
    analysis : callable
        Takes one completion, returns ``(estimates, squared standard errors)``.
    dof_complete : float, optional
        As in :func:`pool`.

    Returns
    -------
    Pooled

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from aeimpute.pool import pool_analyses
    >>> draws = [pd.DataFrame({"y": [1.0, 2.0, 3.0 + d]}) for d in (0.0, 0.3, -0.3)]
    >>> def mean_and_variance(df):
    ...     y = df["y"]
    ...     return y.mean(), y.var() / len(y)
    >>> r = pool_analyses(draws, mean_and_variance, dof_complete=2)
    >>> round(float(r.estimate[0]), 3), bool(r.fmi[0] > 0)
    (2.0, True)
    """
    results = [analysis(c) for c in completions]
    for i, r in enumerate(results):
        if not (isinstance(r, tuple) and len(r) == 2):
            raise ValueError(
                f"analysis must return (estimates, squared standard errors); for completion {i} "
                f"it returned {type(r).__name__}"
            )
    return pool([r[0] for r in results], [r[1] for r in results], dof_complete)
