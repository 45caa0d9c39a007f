"""Multiple-imputation draws (aeimpute.draws, Imputer.sample): values, coverage, reproducibility."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from aeimpute import Imputer
from aeimpute import draws as mi

HEADS = {"numeric": [0, 1, 2], "binary": [], "categorical": []}


def test_posterior_draws_centre_on_least_squares_with_its_spread():
    rng = np.random.default_rng(0)
    F = np.column_stack([np.ones(200), rng.normal(size=200)])
    y = 1.0 + 2.0 * F[:, 1] + rng.normal(size=200)
    slopes = np.array([mi.posterior_draw(F, y, rng)[0][1] for _ in range(2000)])
    sigmas = np.array([mi.posterior_draw(F, y, rng)[1] for _ in range(500)])
    beta, *_ = np.linalg.lstsq(F, y, rcond=None)
    resid = y - F @ beta
    s2 = resid @ resid / (200 - 2)
    se = np.sqrt(s2 * np.linalg.inv(F.T @ F)[1, 1])
    assert abs(slopes.mean() - beta[1]) < 0.01
    assert slopes.std() == pytest.approx(se, rel=0.1)
    assert np.median(sigmas) == pytest.approx(np.sqrt(s2), rel=0.05)


def _planted(rng, n=200):
    """x, y, z with z missing more often where x is high (MAR); the truth y ~ x + z."""
    x = rng.normal(size=n)
    z = 0.5 * x + rng.normal(size=n)
    y = 1.0 + x - 0.7 * z + rng.normal(size=n)
    table = np.column_stack([x, y, z])
    fills = np.zeros(table.shape, dtype=bool)
    fills[:, 2] = rng.random(n) < 1 / (1 + np.exp(-(x - 0.5)))
    return table, fills


def _coverage(redraw: bool, reps: int = 150, m: int = 10) -> float:
    """Share of repetitions whose pooled 95% interval of y's slope on z covers -0.7.

    The "model" predicts z shrunk halfway toward its mean (as a regularised
    model does), with noise of its own error; ``redraw`` adds the chained
    Bayesian regressions of ``aeimpute.draws``.
    """
    covered = 0
    for rep in range(reps):
        rng = np.random.default_rng(rep)
        table, fills = _planted(rng)
        x, y, z = table.T
        obs = ~fills[:, 2]
        F = np.column_stack([np.ones(len(x)), x, y])
        coef, *_ = np.linalg.lstsq(F[obs], z[obs], rcond=None)
        best = F @ coef
        shrunk = z[obs].mean() + 0.5 * (best - z[obs].mean())
        mean = table.copy()
        mean[:, 2] = shrunk
        scale = np.array([1.0, 1.0, np.sqrt(np.mean((z[obs] - shrunk[obs]) ** 2))])
        estimates, variances = [], []
        for _ in range(m):
            d = np.where(fills, mi.around_prediction(mean, HEADS, scale, rng), table)
            if redraw:
                d = mi.chained_linear(d, fills, [2], {2: shrunk}, rng)
            G = np.column_stack([np.ones(len(d)), d[:, 0], d[:, 2]])
            b, *_ = np.linalg.lstsq(G, d[:, 1], rcond=None)
            r = d[:, 1] - G @ b
            estimates.append(b[2])
            variances.append(r @ r / (len(d) - 3) * np.linalg.inv(G.T @ G)[2, 2])
        q, u, bvar = np.mean(estimates), np.mean(variances), np.var(estimates, ddof=1)
        t = u + (1 + 1 / m) * bvar
        dof = (m - 1) * (1 + u / ((1 + 1 / m) * bvar)) ** 2
        half = stats.t.ppf(0.975, dof) * np.sqrt(t)
        covered += abs(q - (-0.7)) <= half
    return covered / reps


def test_chained_redraws_restore_coverage_a_shrunk_model_loses():
    # with the shrunk model's prediction plus noise alone the intervals miss the truth often;
    # the chained regressions (parameter draws, linear terms) bring coverage back near 95%
    assert _coverage(redraw=False) < 0.8
    assert _coverage(redraw=True) >= 0.89


def test_redrawable_needs_gaps_and_enough_observed_rows():
    fills = np.zeros((10, 3), dtype=bool)
    fills[:3, 0] = True  # 7 observed: enough for 4 coefficients + 2
    fills[:6, 1] = True  # 4 observed: too few
    assert mi.redrawable(fills, [0, 1, 2], n_features=4) == [0]


@pytest.fixture
def regression_table():
    rng = np.random.default_rng(3)
    n = 240
    x = rng.normal(size=n)
    df = pd.DataFrame({"x": x, "w": 0.5 * x + rng.normal(size=n)})
    df["y"] = 1 + x - 0.7 * df["w"] + rng.normal(size=n)
    df.loc[rng.random(n) < 0.3, "w"] = np.nan
    return df


def test_sample_keeps_observed_cells_and_is_reproducible(regression_table):
    df = regression_table
    imp = Imputer(max_iter=150, random_state=0, n_jobs=1, trees=False).fit(df)
    draws = imp.sample(df, n=3)
    plain = imp.sample(df, n=3, model_uncertainty=False)
    miss = df["w"].isna()
    for d in draws:
        pd.testing.assert_frame_equal(d[~miss], df[~miss])
        assert d["w"].notna().all()
    pd.testing.assert_frame_equal(imp.sample(df, n=3)[2], draws[2])
    assert not np.allclose(draws[0].loc[miss, "w"], plain[0].loc[miss, "w"])


def test_sample_refuses_a_non_boolean_model_uncertainty(regression_table):
    imp = Imputer(max_iter=30, random_state=0, n_jobs=1).fit(regression_table)
    with pytest.raises(ValueError, match="model_uncertainty"):
        imp.sample(regression_table, n=2, model_uncertainty="yes")


def test_draws_of_unpredictable_cells_spread_like_the_column():
    # independent columns: nothing predicts a missing cell, so its draws must spread like the
    # column itself (a model judged on rows it trained on would look better and draw too narrow)
    rng = np.random.default_rng(5)
    df = pd.DataFrame(rng.normal(size=(300, 5)), columns=list("abcde"))
    df = df.mask(rng.random(df.shape) < 0.2)
    imp = Imputer(max_iter=300, random_state=0, n_jobs=1).fit(df)
    draws = np.stack([d.to_numpy() for d in imp.sample(df, n=20)])
    miss = df.isna().to_numpy()
    spread = draws[:, miss].std(axis=0).mean()
    assert spread == pytest.approx(1.0, abs=0.15)


def test_sample_on_too_few_rows_warns_and_gives_the_plain_draws():
    rng = np.random.default_rng(1)
    df = pd.DataFrame(rng.normal(size=(30, 3)), columns=list("abc"))
    df.iloc[::4, 1] = np.nan
    imp = Imputer(max_iter=30, random_state=0, n_jobs=1).fit(df)
    with pytest.warns(UserWarning, match="needs at least 40 rows"):
        draws = imp.sample(df, n=2)
    pd.testing.assert_frame_equal(draws[1], imp.sample(df, n=2, model_uncertainty=False)[1])
