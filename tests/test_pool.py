"""Rubin's rules (aeimpute.pool): the pooled quantities, their checks, and a pooled regression."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from aeimpute import Imputer
from aeimpute.pool import pool, pool_analyses


def test_pooled_quantities_follow_rubins_rules():
    est = np.array([[1.0, 10.0], [1.4, 10.5], [0.9, 9.0], [1.1, 10.1], [1.2, 9.9]])
    var = np.array([[0.10, 1.0], [0.12, 1.1], [0.11, 0.9], [0.09, 1.0], [0.10, 1.2]])
    m = 5
    r = pool(est, var)
    qbar, ubar, b = est.mean(0), var.mean(0), est.var(0, ddof=1)
    total = ubar + (1 + 1 / m) * b
    lam = (1 + 1 / m) * b / total
    dof = (m - 1) / lam**2
    riv = (1 + 1 / m) * b / ubar
    np.testing.assert_allclose(r.estimate, qbar)
    np.testing.assert_allclose(r.within, ubar)
    np.testing.assert_allclose(r.between, b)
    np.testing.assert_allclose(r.total, total)
    np.testing.assert_allclose(r.dof, dof)
    np.testing.assert_allclose(r.riv, riv)
    np.testing.assert_allclose(r.fmi, (riv + 2 / (dof + 3)) / (riv + 1))
    low, high = r.conf_int(0.9)
    np.testing.assert_allclose(high - qbar, stats.t.ppf(0.95, dof) * np.sqrt(total))
    np.testing.assert_allclose(qbar - low, high - qbar)


def test_small_sample_degrees_of_freedom_never_exceed_the_complete_data_ones():
    est = [[2.0], [2.3], [1.8]]
    var = [[0.2], [0.25], [0.22]]
    large = pool(est, var)
    small = pool(est, var, dof_complete=20)
    lam = float((1 + 1 / 3) * large.between[0] / large.total[0])
    observed = 21 / 23 * 20 * (1 - lam)
    expected = large.dof[0] * observed / (large.dof[0] + observed)
    assert small.dof[0] == pytest.approx(expected)
    assert small.dof[0] < 20 and small.dof[0] < large.dof[0]
    same = pool([[1.0], [1.0]], [[0.5], [0.5]], dof_complete=30)  # no spread between completions
    assert same.between[0] == 0 and same.total[0] == 0.5
    assert same.dof[0] == pytest.approx(31 / 33 * 30)


def test_names_of_series_are_kept_and_must_agree():
    a = pd.Series({"intercept": 1.0, "x": 2.0})
    b = pd.Series({"intercept": 1.2, "x": 1.8})
    r = pool([a, b], [a * 0 + 0.1, b * 0 + 0.1])
    assert list(r.estimate.index) == ["intercept", "x"]
    table = r.summary()
    assert list(table.index) == ["intercept", "x"]
    assert list(table.columns) == ["estimate", "std_error", "95% low", "95% high", "dof", "riv",
                                   "fmi"]  # fmt: skip
    assert table.loc["x", "estimate"] == pytest.approx(1.9)
    with pytest.raises(ValueError, match=r"estimates\[1\] names other parameters"):
        pool([a, b.rename({"x": "z"})], [a, b])


@pytest.mark.parametrize(
    ("estimates", "variances", "dof", "match"),
    [
        ([[1.0]], [[0.1]], None, "at least 2 completions"),
        ([[1.0], [2.0]], [[0.1, 0.2], [0.1, 0.2]], None, "same shape"),
        ([[1.0], [np.nan]], [[0.1], [0.1]], None, "NaN or infinite"),
        ([[1.0], [2.0]], [[0.1], [-0.1]], None, "non-negative"),
        ([[1.0], [2.0]], [[0.1], [0.1]], 0, "dof_complete must be positive"),
        ([["a"], ["b"]], [[0.1], [0.1]], None, "must be numbers"),
    ],
)
def test_bad_input_is_refused_with_the_reason(estimates, variances, dof, match):
    with pytest.raises(ValueError, match=match):
        pool(estimates, variances, dof_complete=dof)


def test_analysis_must_return_estimates_and_variances():
    with pytest.raises(ValueError, match=r"analysis must return \(estimates, squared standard"):
        pool_analyses([1, 2], lambda c: c)


def _ols(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    X = np.column_stack([np.ones(len(df)), df[["x1", "x2"]].to_numpy()])
    y = df["y"].to_numpy()
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    sigma2 = resid @ resid / (len(y) - X.shape[1])
    cov = sigma2 * np.linalg.inv(X.T @ X)
    names = ["intercept", "x1", "x2"]
    return pd.Series(coef, index=names), pd.Series(np.diag(cov), index=names)


def test_a_regression_pooled_over_draws_is_near_the_full_data_fit_with_wider_intervals():
    rng = np.random.default_rng(0)
    n = 300
    x1 = rng.normal(size=n)
    x2 = 0.6 * x1 + 0.8 * rng.normal(size=n)
    y = 1.0 + 2.0 * x1 - 1.0 * x2 + rng.normal(size=n)
    full = pd.DataFrame({"x1": x1, "x2": x2, "y": y})
    holed = full.copy()
    holed.loc[rng.random(n) < 0.3, "x2"] = np.nan
    draws = Imputer(max_iter=200, random_state=0, n_jobs=1).fit(holed).sample(holed, n=10)
    pooled = pool_analyses(draws, _ols, dof_complete=n - 3)
    truth, truth_var = _ols(full)
    assert (pooled.estimate - truth).abs().max() < 0.2
    assert (pooled.between > 0).all()  # the draws differ where x2 was missing
    assert pooled.fmi["x2"] > 0.05  # a third of x2 is missing: information is lost
    assert (pooled.std_error > np.sqrt(truth_var)).all()  # wider than the full-data fit's


def test_pooled_regression_example_runs_and_brackets_the_full_data_fit(capsys):
    import runpy
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "examples" / "pooled_regression.py"
    main = runpy.run_path(str(script))["main"]
    table = main(draws=5, max_iter=150)
    assert "full-data estimate" in capsys.readouterr().out
    assert list(table.index) == ["intercept", "age", "bmi", "bp"]
    assert (table["fmi"] > 0).all() and (table["fmi"] < 1).all()
    inside = (table["95% low"] <= table["full-data estimate"]) & (
        table["full-data estimate"] <= table["95% high"]
    )
    assert inside.all()
