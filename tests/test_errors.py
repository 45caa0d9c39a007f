import numpy as np
import pandas as pd
import pytest
from conftest import FAST

from aeimpute import Imputer
from aeimpute.training import TrainingDivergedError


@pytest.fixture
def df():
    return pd.DataFrame({"a": [1.0, 2.0, np.nan, 4.0], "b": [1.0, np.nan, 3.0, 4.0]})


def test_entirely_missing_column_names_it(df):
    df["empty"] = np.nan
    with pytest.raises(ValueError, match=r"\['empty'\].*all_missing='keep'"):
        Imputer(**FAST).fit(df)


def test_inf_values_name_the_column(df):
    df.loc[0, "b"] = np.inf
    with pytest.raises(ValueError, match="'b' contains infinite"):
        Imputer(**FAST).fit(df)


def test_inf_at_transform(df):
    imp = Imputer(**FAST, random_state=0).fit(df)
    bad = df.copy()
    bad.loc[1, "a"] = -np.inf
    with pytest.raises(ValueError, match="'a' contains infinite"):
        imp.transform(bad)


@pytest.mark.parametrize(
    "X, match",
    [
        (pd.DataFrame(), "no rows"),
        (pd.DataFrame(index=range(3)), "no columns"),
        (np.zeros((3,)), "2-dimensional"),
        (np.zeros((2, 2, 2)), "2-dimensional"),
        ([1.0, 2.0], "2-dimensional"),
        ([[1.0, 2.0], [3.0]], "rectangular"),
        ({"a": [1.0]}, "DataFrame or a 2-D numpy array"),
        (pd.Series([1.0, 2.0]), "Series"),
        ("text", "DataFrame or a 2-D numpy array"),
    ],
)
def test_non_tabular_or_empty(X, match):
    with pytest.raises((ValueError, TypeError), match=match):
        Imputer(**FAST).fit(X)


def test_no_observed_value_at_all():
    df = pd.DataFrame({"a": [np.nan, np.nan]})
    with pytest.raises(ValueError, match="entirely missing"):
        Imputer(**FAST).fit(df)


def test_duplicate_columns():
    df = pd.DataFrame([[1.0, 2.0]], columns=["a", "a"])
    with pytest.raises(ValueError, match="duplicated column labels"):
        Imputer(**FAST).fit(df)


def test_columns_differ_at_transform(df):
    imp = Imputer(**FAST, random_state=0).fit(df)
    with pytest.raises(ValueError, match=r"missing \['b'\], unexpected \['c'\]"):
        imp.transform(df.rename(columns={"b": "c"}))
    with pytest.raises(ValueError, match="X has 3 features, but Imputer is expecting 2"):
        imp.transform(np.zeros((2, 3)))


def test_wrong_type_at_transform(df):
    imp = Imputer(**FAST, random_state=0).fit(df)
    with pytest.raises(TypeError, match="'a' was numeric at fit"):
        imp.transform(df.assign(a=["x", "y", None, "z"]))


@pytest.mark.parametrize(
    "param, value",
    [
        ("max_iter", 0),
        ("max_iter", 1.5),
        ("learning_rate", -1.0),
        ("mask_rate", (0.6, 0.2)),
        ("mask_rate", 0.3),
        ("validation_fraction", 0.9),
        ("all_missing", "drop"),
        ("n_jobs", 0),
        ("precision", "float16"),
        ("width", "wide"),
        ("random_state", "seed"),
        ("clip", "yes"),
        ("noise_std", float("nan")),
    ],
)
def test_invalid_parameters_named_at_fit(df, param, value):
    imp = Imputer(**{**FAST, param: value})  # construction never fails
    with pytest.raises(ValueError, match=f"parameter '{param}'"):
        imp.fit(df)


def test_invalid_device(df):
    with pytest.raises(ValueError, match="device"):
        Imputer(**FAST, device="tpu").fit(df)


def test_nan_loss_gives_actionable_error(df, monkeypatch):
    from aeimpute import training

    def nan_losses(self, out, target):
        return out * float("nan")

    monkeypatch.setattr(training.Heads, "cell_losses", nan_losses)
    with pytest.raises(TrainingDivergedError, match="learning_rate"):
        Imputer(**FAST, random_state=0).fit(df)


def test_huge_learning_rate_does_not_return_nan():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4)) * 1e6
    X[rng.random(X.shape) < 0.2] = np.nan
    try:
        out = Imputer(**FAST, learning_rate=1.0, random_state=0).fit_transform(X)
    except TrainingDivergedError:
        return
    assert np.isfinite(out).all()


def test_nan_validation_loss_is_an_error_not_a_silent_stop(monkeypatch):
    """A NaN validation loss is never "better", so it used to be skipped silently."""
    from aeimpute import training

    monkeypatch.setattr(training, "_validation_loss", lambda *args: float("nan"))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 6))  # enough held-back cells for early stopping
    X[rng.random(X.shape) < 0.1] = np.nan
    with pytest.raises(TrainingDivergedError, match="validation loss became nan at step 20"):
        Imputer(**FAST, random_state=0).fit(X)
