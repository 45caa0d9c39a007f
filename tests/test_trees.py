import numpy as np
import pandas as pd
import pytest
from conftest import FAST

from aeimpute import Imputer, simulate, trees
from aeimpute.metrics import rmse


def _steps(n=400, seed=0):
    """Columns that are step functions of the others: trees know them, a line does not."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, 6))
    a, b, c = (X[:, :3] > 0.5).T
    X[:, 3] = (a ^ b) + 0.01 * X[:, 3]  # steps, not lines
    X[:, 4] = (b ^ c) + 0.01 * X[:, 4]
    X[:, 5] = (a ^ c) + 0.01 * X[:, 5]
    return X


def test_predictions_match_scikit_learn():
    from sklearn.ensemble import HistGradientBoostingRegressor

    X = _steps()
    observed = np.ones(X.shape, dtype=bool)
    observed[::3, 4] = False  # rows that did not observe the target are not learned from
    X_fit = X.copy()
    X_fit[::3, 4] = 99.0
    forest = trees.fit(X_fit, observed, np.arange(6), np.eye(6, dtype=bool)[4], seed=0)
    assert forest.targets.tolist() == [4]
    assert len(forest.roots) == trees.N_TREES
    ours = trees.predict(forest, X, rows=[np.arange(len(X))])
    assert np.isnan(ours[:, [0, 1, 2, 3, 5]]).all()  # only the target is predicted
    rows = observed[:, 4]
    ref = HistGradientBoostingRegressor(max_iter=trees.N_TREES, early_stopping=False)
    ref.fit(X[rows][:, [0, 1, 2, 3, 5]], X[rows, 4])
    # without early stopping or feature subsampling the boosting draws nothing at random:
    # the arrays reproduce an independent fit on the same rows exactly
    np.testing.assert_allclose(ours[:, 4], ref.predict(X[:, [0, 1, 2, 3, 5]]), atol=1e-9)
    # and the rows it never saw are predicted far better than by their mean (std 0.5)
    assert rmse(X[~rows, 4], ours[~rows, 4], np.ones((~rows).sum(), bool)) < 0.25


def test_rows_asked_for_and_nothing_else():
    X = _steps()
    forest = trees.fit(X, np.ones(X.shape, bool), np.arange(6), np.eye(6, dtype=bool)[5], seed=0)
    out = trees.predict(forest, X, rows=[np.array([3, 7])])
    assert np.isfinite(out[[3, 7], 5]).all()
    assert np.isnan(np.delete(out[:, 5], [3, 7])).all()


def test_constant_and_rarely_observed_columns():
    X = _steps()
    X[:, 3] = 2.5  # constant: its value, no tree
    observed = np.ones(X.shape, dtype=bool)
    observed[trees.MIN_ROWS - 1 :, 5] = False  # too few observed rows: left out
    forest = trees.fit(X, observed, np.arange(6), np.array([0, 0, 0, 1, 1, 1], bool), seed=0)
    assert forest.targets.tolist() == [3, 4]
    out = trees.predict(forest, X, rows=[np.arange(5), np.arange(5)])
    assert (out[:5, 3] == 2.5).all()
    assert np.isnan(out[:, 5]).all()


def test_no_target_gives_an_empty_forest():
    X = _steps()
    forest = trees.fit(X, np.ones(X.shape, bool), np.arange(6), np.zeros(6, bool), seed=0)
    assert len(forest.targets) == 0 and len(forest.roots) == 0
    assert np.isnan(trees.predict(forest, X, rows=[np.arange(len(X))])).all()


def test_rows_are_capped_and_reproducible(monkeypatch):
    monkeypatch.setattr(trees, "TREE_ROWS", 100)
    X = _steps(600)
    target = np.eye(6, dtype=bool)[4]
    a = trees.fit(X, np.ones(X.shape, bool), np.arange(6), target, seed=1)
    b = trees.fit(X, np.ones(X.shape, bool), np.arange(6), target, seed=1)
    c = trees.fit(X, np.ones(X.shape, bool), np.arange(6), target, seed=2)
    for name, array in a.arrays().items():
        np.testing.assert_array_equal(array, b.arrays()[name])
    assert not np.array_equal(a.value, c.value)  # another subset of rows, other trees


def test_arrays_round_trip():
    X = _steps()
    forest = trees.fit(X, np.ones(X.shape, bool), np.arange(6), np.ones(6, bool), seed=0)
    back = trees.Forest.from_arrays(forest.arrays())
    every = [np.arange(len(X))]
    np.testing.assert_array_equal(trees.predict(back, X, every), trees.predict(forest, X, every))
    with pytest.raises(ValueError, match="roots"):
        trees.Forest.from_arrays({k: v for k, v in forest.arrays().items() if k != "roots"})


def test_changed_scikit_learn_internals_are_caught(monkeypatch):
    real = trees._from_sklearn

    def off_by_one(model, columns, target):
        forest = real(model, columns, target)
        forest.value = forest.value + 1.0
        return forest

    monkeypatch.setattr(trees, "_from_sklearn", off_by_one)
    X = _steps()
    with pytest.raises(RuntimeError, match="trees=False"):
        trees.fit(X, np.ones(X.shape, bool), np.arange(6), np.eye(6, dtype=bool)[4], seed=0)


def test_tree_blend_lowers_the_error_on_step_columns(tmp_path):
    df = pd.DataFrame(_steps(600), columns=list("abcdef"))
    missing, mask = simulate.mcar(df, 0.2, rng=np.random.default_rng(1))
    params = {**FAST, "max_steps": 150, "validation_fraction": 0.1, "random_state": 0}
    plain = Imputer(trees=False, **params).fit_transform(missing)
    imp = Imputer(**params).fit(missing)
    assert imp.trees_ and imp.tree_weight_ > 0.3 and imp._trees is not None
    blended = imp.transform(missing)
    steps = ["d", "e", "f"]
    cells = mask[:, 3:]
    assert rmse(df[steps], blended[steps], cells) < 0.9 * rmse(df[steps], plain[steps], cells)
    pd.testing.assert_frame_equal(blended[missing.notna()], missing[missing.notna()])
    pd.testing.assert_frame_equal(blended, Imputer(**params).fit_transform(missing))
    imp.save(tmp_path / "m.aeimpute")
    back = Imputer.load(tmp_path / "m.aeimpute")
    assert back.tree_weight_ == imp.tree_weight_
    pd.testing.assert_frame_equal(back.transform(missing), blended)


def test_trees_off():
    df = pd.DataFrame(_steps(300), columns=list("abcdef"))
    missing, _ = simulate.mcar(df, 0.2, rng=np.random.default_rng(2))
    imp = Imputer(**FAST, trees=False, validation_fraction=0.1, random_state=0).fit(missing)
    assert not imp.trees_ and imp.tree_weight_ == 0.0 and imp._trees is None


@pytest.mark.parametrize("bad", [1, "yes", None])
def test_bad_trees_value(bad):
    with pytest.raises(ValueError, match="trees"):
        Imputer(trees=bad).fit(pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [1.0, 2, 3]}))


def _recording_fit(monkeypatch):
    """Record how many columns each call of trees.fit models."""
    calls = []
    real = trees.fit

    def fit(filled, observed, foe, targets, seed, n_threads=1):
        calls.append(int(np.sum(targets)))
        return real(filled, observed, foe, targets, seed, n_threads)

    monkeypatch.setattr(trees, "fit", fit)
    return calls


def test_trees_are_screened_on_a_few_columns_first(monkeypatch):
    monkeypatch.setattr(trees, "SCREEN_COLUMNS", 2)
    calls = _recording_fit(monkeypatch)
    df = pd.DataFrame(_steps(600), columns=list("abcdef"))
    missing, _ = simulate.mcar(df, 0.2, rng=np.random.default_rng(1))
    params = {**FAST, "max_steps": 150, "validation_fraction": 0.1, "random_state": 0}
    imp = Imputer(**params).fit(missing)
    assert calls == [2, 4]  # two screened, then the other four
    assert imp.tree_weight_ > 0 and sorted(imp._trees.targets.tolist()) == list(range(6))


def test_trees_that_earn_too_little_are_not_fitted_further(monkeypatch):
    monkeypatch.setattr(trees, "SCREEN_COLUMNS", 2)
    monkeypatch.setattr(trees, "MIN_WEIGHT", 1.01)  # no weight is large enough
    calls = _recording_fit(monkeypatch)
    df = pd.DataFrame(_steps(300), columns=list("abcdef"))
    missing, _ = simulate.mcar(df, 0.2, rng=np.random.default_rng(1))
    imp = Imputer(**FAST, validation_fraction=0.1, random_state=0).fit(missing)
    assert calls == [2]
    assert imp.tree_weight_ == 0.0 and imp._trees is None
    assert imp.linear_weight_ + imp.neighbor_weight_ > 0  # the others are fitted without them


def test_joined_forests_predict_like_their_parts():
    X = _steps()
    every = [np.arange(len(X))]
    obs = np.ones(X.shape, bool)
    a = trees.fit(X, obs, np.arange(6), np.array([1, 0, 0, 1, 0, 0], bool), seed=0)
    b = trees.fit(X, obs, np.arange(6), np.array([0, 0, 0, 0, 1, 1], bool), seed=0)
    both = trees.join([a, b])
    assert both.targets.tolist() == [0, 3, 4, 5]
    expected = np.where(np.isnan(trees.predict(a, X, every)), trees.predict(b, X, every),
                        trees.predict(a, X, every))  # fmt: skip
    np.testing.assert_array_equal(trees.predict(both, X, every), expected)
    whole = trees.fit(X, obs, np.arange(6), np.array([1, 0, 0, 1, 1, 1], bool), seed=0)
    np.testing.assert_array_equal(trees.predict(whole, X, every), expected)  # per-column seeds
