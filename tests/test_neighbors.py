import numpy as np
import pandas as pd
import pytest
from conftest import FAST

from aeimpute import Imputer, blend, linear, neighbors, simulate
from aeimpute.metrics import rmse


def test_estimate_averages_only_observed_reference_cells():
    # row 3 is the query's nearest row, but its column 1 was not observed (15 is a guess)
    reference = np.array([[0.0, 10.0], [0.1, 20.0], [5.0, 30.0], [0.2, 15.0]], dtype=np.float32)
    ref_observed = np.array([[True, True], [True, True], [True, True], [True, False]])
    query = np.array([[0.2, 15.0]], dtype=np.float32)
    values, found = neighbors.estimate(query, reference, ref_observed, np.array([0, 1]), k=2)
    assert found.all()
    d = np.linalg.norm(reference[:2] - query, axis=1)  # rows 0 and 1: the first two observing
    w = 1.0 / (d + 1e-6)
    assert values[0, 1] == pytest.approx((w @ [10.0, 20.0]) / w.sum(), rel=1e-5)
    # column 0 was observed by row 3 itself (distance 0): it dominates
    assert values[0, 0] == pytest.approx(0.2, abs=1e-3)


def test_estimate_reports_columns_no_candidate_observed():
    reference = np.zeros((3, 2), dtype=np.float32)
    ref_observed = np.array([[True, False]] * 3)
    values, found = neighbors.estimate(
        np.zeros((2, 2), np.float32), reference, ref_observed, np.array([0, 1]), k=5,
        need=np.array([True, False]),
    )  # fmt: skip
    assert found.tolist() == [[True, False], [False, False]]
    assert values[0, 1] == 0.0 and values[1].tolist() == [0.0, 0.0]


def test_fit_weights_follow_the_better_estimate():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(4000, 1))
    cells = np.ones_like(truth, dtype=bool)
    good, bad = truth + 0.05 * rng.normal(size=truth.shape), truth + rng.normal(size=truth.shape)
    assert blend.fit_weights(bad, [good], truth, cells)[0] >= 0.95
    assert blend.fit_weights(good, [bad], truth, cells) == [0.0]
    # two candidates: the good one takes the weight; the weights never sum above 1
    w = blend.fit_weights(bad, [bad + 0.1, good], truth, cells)
    assert w[1] >= 0.9 and sum(w) <= 1.0
    # on few cells the ridge holds the weight back
    some = np.zeros_like(cells)
    some[:100] = True
    assert 0.4 <= blend.fit_weights(bad, [good], truth, some)[0] <= 0.6
    few = np.zeros_like(cells)
    few[: blend.MIN_CELLS - 1] = True
    assert blend.fit_weights(bad, [good], truth, few) == [0.0]


def test_fit_linear_recovers_a_linear_column():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    X[:, 2] = 2.0 * X[:, 0] - X[:, 1] + 0.5
    observed = np.ones((300, 3), dtype=bool)
    observed[::4, 2] = False  # rows not observing the target are left out of its fit
    X[::4, 2] = 99.0
    coef, intercept = linear.fit(X, observed, np.arange(3), np.array([False, False, True]))
    assert coef[:, 2] == pytest.approx([2.0, -1.0, 0.0], abs=0.01)
    assert intercept[2] == pytest.approx(0.5, abs=0.01)
    assert not coef[:, :2].any()


def _clusters(n=600, seed=0):
    """Tight clusters with a nonlinear pattern per cluster: neighbours know the missing cells."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-3, 3, size=(12, 6))
    label = rng.integers(0, 12, size=n)
    X = centres[label] + 0.05 * rng.normal(size=(n, 6))
    df = pd.DataFrame(X, columns=list("abcdef"))
    df["group"] = pd.Categorical([f"g{i % 4}" for i in label])
    return df


def test_blend_lowers_the_error_where_neighbours_know_better():
    df = _clusters()
    missing, mask = simulate.mcar(df, 0.2, rng=np.random.default_rng(1))
    # the neighbours are the only candidate: "plain" is the network alone
    params = {**FAST, "max_iter": 150, "validation_fraction": 0.1, "random_state": 0,
              "linear": False, "trees": False}  # fmt: skip
    plain = Imputer(neighbors=0, **params).fit_transform(missing)
    imp = Imputer(**params)
    blended = imp.fit_transform(missing)
    assert list(imp.blend_.weights) == ["neighbors"]
    assert imp.n_neighbors_ == neighbors.DEFAULT_K
    assert imp.neighbor_weight_ > 0.3
    num = list("abcdef")
    assert rmse(df[num], blended[num], mask[:, :6]) < 0.8 * rmse(df[num], plain[num], mask[:, :6])
    # observed cells untouched, categories from training, reproducible
    pd.testing.assert_frame_equal(blended[missing.notna()], missing[missing.notna()])
    assert set(blended["group"]) <= set(df["group"])
    pd.testing.assert_frame_equal(blended, Imputer(**params).fit_transform(missing))
    # categories are the network's: the same as without the blend
    pd.testing.assert_series_equal(blended["group"], plain["group"])


def test_linear_blend_on_a_linear_table(tmp_path):
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(400, 3))
    df = pd.DataFrame(Z @ rng.normal(size=(3, 8)) + 0.05 * rng.normal(size=(400, 8)))
    df.columns = [f"x{i}" for i in range(8)]
    missing, mask = simulate.mcar(df, 0.2, rng=np.random.default_rng(1))
    params = {**FAST, "max_iter": 100, "neighbors": 0, "trees": False, "random_state": 0}
    plain = Imputer(linear=False, **params).fit_transform(missing)
    imp = Imputer(**params).fit(missing)
    assert imp.linear_ and imp.linear_weight_ > 0.5 and "linear" in imp.blend_
    blended = imp.transform(missing)
    assert rmse(df, blended, mask) < 0.7 * rmse(df, plain, mask)
    imp.save(tmp_path / "m.aeimpute")
    back = Imputer.load(tmp_path / "m.aeimpute")
    assert back.linear_weight_ == imp.linear_weight_
    pd.testing.assert_frame_equal(back.transform(missing), blended)


def test_blend_survives_save_and_load(tmp_path):
    df = _clusters(300)
    missing, _ = simulate.mcar(df, 0.2, rng=np.random.default_rng(2))
    imp = Imputer(**FAST, validation_fraction=0.1, random_state=0).fit(missing)
    assert "neighbors" in imp.blend_
    imp.save(tmp_path / "m.aeimpute")
    back = Imputer.load(tmp_path / "m.aeimpute")
    assert back.neighbor_weight_ == imp.neighbor_weight_
    np.testing.assert_array_equal(
        back.blend_["neighbors"].reference, imp.blend_["neighbors"].reference
    )
    pd.testing.assert_frame_equal(back.transform(missing), imp.transform(missing))


def test_auto_turns_the_blend_off_for_large_tables(monkeypatch):
    import aeimpute.imputer as imputer_module

    monkeypatch.setattr(imputer_module, "MAX_BLEND_ROWS", 100)
    df = _clusters(200)
    missing, _ = simulate.mcar(df, 0.2, rng=np.random.default_rng(3))
    imp = Imputer(**FAST, random_state=0).fit(missing)
    assert imp.n_neighbors_ == 0 and "neighbors" not in imp.blend_


def test_reference_is_capped_on_large_tables(monkeypatch):
    import aeimpute.imputer as imputer_module

    monkeypatch.setattr(imputer_module, "MAX_BLEND_ROWS", 150)
    df = _clusters(400)
    missing, _ = simulate.mcar(df, 0.2, rng=np.random.default_rng(4))
    imp = Imputer(**FAST, neighbors=3, validation_fraction=0.1, random_state=0).fit(missing)
    assert imp.n_neighbors_ == 3
    assert len(imp.blend_["neighbors"].reference) == 150


def test_no_held_back_cells_means_no_blend():
    df = _clusters(200)
    missing, _ = simulate.mcar(df, 0.2, rng=np.random.default_rng(5))
    imp = Imputer(**FAST, validation_fraction=0.0, random_state=0).fit(missing)
    assert imp.neighbor_weight_ == 0.0 and imp.linear_weight_ == 0.0
    assert imp.blend_.candidates == {}


def test_neighbors_with_temporal_context_is_refused():
    idx = pd.date_range("2024-01-01", periods=60, freq="h")
    df = pd.DataFrame({"a": np.sin(np.arange(60.0)), "b": np.cos(np.arange(60.0))}, index=idx)
    df.iloc[::7, 0] = np.nan
    with pytest.raises(ValueError, match="neighbors=5 applies to the row-wise model"):
        Imputer(**FAST, neighbors=5, random_state=0).fit(df)
    imp = Imputer(**FAST, window=16, random_state=0).fit(df)  # "auto": no blend, no error
    assert imp.temporal_ and imp.n_neighbors_ == 0


@pytest.mark.parametrize("bad", [-1, 2.5, "many", True])
def test_bad_neighbors_value(bad):
    with pytest.raises(ValueError, match="neighbors"):
        Imputer(neighbors=bad).fit(pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [1.0, 2, 3]}))


def test_a_small_neighbour_weight_is_dropped(monkeypatch):
    monkeypatch.setattr(neighbors, "NEIGHBOR_MIN_WEIGHT", 1.01)  # no weight is large enough
    df = _clusters(300)
    missing, _ = simulate.mcar(df, 0.2, rng=np.random.default_rng(6))
    imp = Imputer(**FAST, validation_fraction=0.1, random_state=0).fit(missing)
    assert imp.n_neighbors_ == 0 and imp.neighbor_weight_ == 0.0
    assert "neighbors" not in imp.blend_
    assert imp.linear_weight_ > 0  # refitted alone: the linear estimate still helps here
