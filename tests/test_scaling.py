import numpy as np
import pytest

from aeimpute.scaling import ObservedScaler


def test_statistics_use_observed_cells_only():
    X = np.array([[1.0, 5.0], [3.0, np.nan], [np.nan, 5.0]])
    s = ObservedScaler([0, 1]).fit(X)
    assert s.mean_.tolist() == [2.0, 5.0]
    assert s.scale_.tolist() == [1.0, 1.0]  # constant column -> scale 1
    Z = s.transform(X)
    assert np.isnan(Z[1, 1]) and np.isnan(Z[2, 0])
    np.testing.assert_allclose(s.inverse_transform(Z), X)


def test_overflow_is_an_error():
    X = np.array([[1e308], [-1e308], [1e308]])
    with pytest.raises(ValueError, match="too large"):
        ObservedScaler([0]).fit(X)


def test_json_round_trip():
    X = np.random.default_rng(0).normal(size=(10, 3))
    s = ObservedScaler([0, 2]).fit(X)
    t = ObservedScaler.from_json(s.to_json())
    np.testing.assert_array_equal(s.transform(X), t.transform(X))
