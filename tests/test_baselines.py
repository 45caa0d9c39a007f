import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from aeimpute.baselines import InterpolationImputer, LowRankImputer
from aeimpute.simulate import mcar, temporal_gaps


def _smooth_signal(n=400):
    t = np.linspace(0, 4 * np.pi, n)
    return pd.DataFrame({"sin": np.sin(t), "cos": 2 * np.cos(0.5 * t)}, index=t)


@pytest.mark.parametrize(
    "method, limit",
    [("linear", 0.02), ("nearest", 0.1), ("cubic", 0.002), ("pchip", 0.005), ("akima", 0.005)],
)
def test_interpolation_recovers_smooth_signal(method, limit):
    """Gaps of 2-8 samples in a smooth signal: each method within its known error."""
    df = _smooth_signal()
    dfm, mask = temporal_gaps(df, 0.2, gap_length=(2, 8), rng=0)
    mask[:10] = mask[-10:] = False  # the ends are filled by repetition, scored separately
    out = InterpolationImputer(method=method).fit_transform(dfm)
    err = np.sqrt(np.mean((out.to_numpy() - df.to_numpy())[mask] ** 2))
    assert err < limit, (method, err)
    pd.testing.assert_frame_equal(out[~dfm.isna()].dropna(how="all"), dfm.dropna(how="all"))


def test_interpolation_along_uneven_index():
    df = pd.DataFrame({"x": [0.0, np.nan, 10.0]}, index=[0.0, 9.0, 10.0])
    assert InterpolationImputer().fit_transform(df)["x"].iloc[1] == pytest.approx(5.0)
    assert InterpolationImputer(along="index").fit_transform(df)["x"].iloc[1] == pytest.approx(9.0)
    ts = pd.DataFrame(
        {"x": [0.0, np.nan, 3.0]},
        index=pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-04"]),
    )
    assert InterpolationImputer(along="index").fit_transform(ts)["x"].iloc[1] == 1.0
    with pytest.raises(ValueError, match="strictly increasing"):
        InterpolationImputer(along="index").fit_transform(df.iloc[::-1])
    with pytest.raises(ValueError, match="numeric or datetime index"):
        InterpolationImputer(along="index").fit_transform(df.set_axis(["a", "b", "c"]))


def test_interpolation_ends_dtypes_and_categories():
    df = pd.DataFrame(
        {
            "f": [np.nan, 1.0, np.nan, 3.0, np.nan],
            "i": pd.array([None, 1, None, 4, None], dtype="Int64"),
            "s": pd.array([None, "a", None, "b", None], dtype="str"),
        }
    )
    out = InterpolationImputer().fit_transform(df)
    assert out["f"].tolist() == [1.0, 1.0, 2.0, 3.0, 3.0]
    assert out["i"].tolist() == [1, 1, 2, 4, 4] and out["i"].dtype == "Int64"
    assert out["s"].tolist() == ["a", "a", "a", "b", "b"] and out["s"].dtype == df["s"].dtype
    # a column empty at transform falls back to its fit-time mean
    imp = InterpolationImputer().fit(df)
    empty = df.iloc[:2].copy()
    empty["f"] = np.nan
    assert imp.transform(empty)["f"].tolist() == [2.0, 2.0]


def test_interpolation_errors():
    with pytest.raises(ValueError, match="parameter 'method'"):
        InterpolationImputer(method="quadratic").fit(pd.DataFrame({"a": [1.0]}))
    with pytest.raises(ValueError, match="'a' is entirely missing"):
        InterpolationImputer().fit(pd.DataFrame({"a": [np.nan, np.nan]}))
    with pytest.raises(NotFittedError):
        InterpolationImputer().transform(pd.DataFrame({"a": [1.0]}))


def test_low_rank_recovers_noisy_low_rank_matrix():
    """Rank-3, 300 x 20, noise sd 0.1, 30% MCAR: soft-impute within 0.2 (mean: ~1.7)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3)) @ rng.normal(size=(3, 20)) + 0.1 * rng.normal(size=(300, 20))
    Xm, mask = mcar(X, 0.3, rng=1)
    imp = LowRankImputer(random_state=0)
    out = imp.fit_transform(Xm)
    err = np.sqrt(np.mean((out - X)[mask] ** 2))
    base = np.sqrt(np.mean((np.nanmean(Xm, axis=0) - X)[mask] ** 2))
    assert base > 1.2 and err < 0.2, (err, base)
    np.testing.assert_array_equal(out[~mask], X[~mask])
    assert imp.lambda_ > 0 and len(imp.validation_curve_) == 16
    # new rows are fitted to the learned components
    new = X[:20].copy()
    new[:, :5] = np.nan
    rec = imp.transform(new)
    assert np.sqrt(np.mean((rec[:, :5] - X[:20, :5]) ** 2)) < 0.3


def test_low_rank_hard_rank():
    """Noiseless rank 2, 20% MCAR: rank-2 iterative SVD within 0.1 (mean imputation ~1.4)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2)) @ rng.normal(size=(2, 10))
    Xm, mask = mcar(X, 0.2, rng=1)
    imp = LowRankImputer(rank=2)
    out = imp.fit_transform(Xm)
    assert imp.rank_ == 2 and np.sqrt(np.mean((out - X)[mask] ** 2)) < 0.1


def test_low_rank_errors():
    df = pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": ["x", "y", None]})
    with pytest.raises(TypeError, match=r"\['b'\] are not numeric"):
        LowRankImputer().fit(df)
    with pytest.raises(ValueError, match="parameter 'rank'"):
        LowRankImputer(rank=0).fit(df[["a"]])
    with pytest.raises(ValueError, match="entirely missing"):
        LowRankImputer().fit(pd.DataFrame({"a": [1.0, 2.0], "b": [np.nan, np.nan]}))
