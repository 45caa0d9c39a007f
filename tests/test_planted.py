"""Planted problems whose answer is known."""

import numpy as np

from aeimpute import Imputer

#: the network alone: these problems test what the autoencoder learns, not the blend around it
NETWORK_ONLY = {"neighbors": 0, "linear": False, "trees": False}


def test_noisy_low_rank_matrix_is_recovered():
    """Rank-2 400 x 12 matrix, noise sd 0.05, 20% MCAR.

    Mean imputation has RMSE ~1.0 on the hidden cells; the DAE must get
    within 0.25 (the noise floor is 0.05).
    """
    rng = np.random.default_rng(0)
    n, p, r = 400, 12, 2
    X = rng.normal(size=(n, r)) @ rng.normal(size=(r, p)) + 0.05 * rng.normal(size=(n, p))
    mask = rng.random(X.shape) < 0.2
    Xm = X.copy()
    Xm[mask] = np.nan
    out = Imputer(width=64, n_blocks=1, max_iter=300, random_state=0, **NETWORK_ONLY).fit_transform(
        Xm
    )
    err = np.sqrt(np.mean((out - X)[mask] ** 2))
    mean_err = np.sqrt(np.mean((np.nanmean(Xm, axis=0) - X)[mask] ** 2))
    assert mean_err > 0.9
    assert err < 0.25, err


def test_categorical_column_determined_by_numeric_one():
    """A category that is a function of a number must be recovered far above chance."""
    import pandas as pd

    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, size=600)
    cat = np.select([x < -1, x < 1], ["low", "mid"], "high")
    df = pd.DataFrame({"x": x, "z": x**2 + rng.normal(scale=0.1, size=600), "c": cat})
    hide = rng.random(600) < 0.2
    dfm = df.copy()
    dfm.loc[hide, "c"] = None
    out = Imputer(width=32, n_blocks=1, max_iter=300, random_state=0, **NETWORK_ONLY).fit_transform(
        dfm
    )
    acc = (out.loc[hide, "c"] == df.loc[hide, "c"]).mean()
    assert acc > 0.85, acc  # chance / mode is ~0.33
