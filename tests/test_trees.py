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


def test_predictions_match_an_independent_lightgbm_fit():
    from lightgbm import LGBMRegressor

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
    ref = LGBMRegressor(**trees._booster_params(seed=12345, n_threads=1))
    ref.fit(X[rows][:, [0, 1, 2, 3, 5]], X[rows, 4])
    # without bagging or feature subsampling the boosting draws nothing at random: the arrays
    # reproduce an independent fit on the same rows (another seed) to rounding
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


def test_a_changed_model_dump_is_caught(monkeypatch):
    real = trees._from_lightgbm

    def off_by_one(model, columns, target, k=0):
        forest = real(model, columns, target, k)
        forest.value = forest.value + 1.0
        return forest

    monkeypatch.setattr(trees, "_from_lightgbm", off_by_one)
    X = _steps()
    with pytest.raises(RuntimeError, match="trees=False"):
        trees.fit(X, np.ones(X.shape, bool), np.arange(6), np.eye(6, dtype=bool)[4], seed=0)


def test_tree_blend_lowers_the_error_on_step_columns(tmp_path):
    df = pd.DataFrame(_steps(600), columns=list("abcdef"))
    missing, mask = simulate.mcar(df, 0.2, rng=np.random.default_rng(1))
    # the trees are the only candidate: "plain" is the network alone
    params = {**FAST, "max_iter": 150, "validation_fraction": 0.1, "random_state": 0,
              "neighbors": 0, "linear": False}  # fmt: skip
    plain = Imputer(trees=False, **params).fit_transform(missing)
    imp = Imputer(**params).fit(missing)
    assert imp.trees_ and imp.tree_weight_ > 0.3 and list(imp.blend_.weights) == ["trees"]
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
    assert not imp.trees_ and imp.tree_weight_ == 0.0 and "trees" not in imp.blend_


@pytest.mark.parametrize("bad", [1, "yes", None])
def test_bad_trees_value(bad):
    with pytest.raises(ValueError, match="trees"):
        Imputer(trees=bad).fit(pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [1.0, 2, 3]}))


def _recording_fit(monkeypatch):
    """Record how many columns each call of trees.fit models."""
    calls = []
    real = trees.fit

    def fit(filled, observed, foe, targets, seed, n_threads=1, on_column=None):
        calls.append(int(np.sum(targets)))
        return real(filled, observed, foe, targets, seed, n_threads, on_column)

    monkeypatch.setattr(trees, "fit", fit)
    return calls


def test_trees_are_screened_on_a_few_columns_first(monkeypatch):
    monkeypatch.setattr(trees, "SCREEN_COLUMNS", 2)
    calls = _recording_fit(monkeypatch)
    df = pd.DataFrame(_steps(600), columns=list("abcdef"))
    missing, _ = simulate.mcar(df, 0.2, rng=np.random.default_rng(1))
    params = {**FAST, "max_iter": 150, "validation_fraction": 0.1, "random_state": 0}
    imp = Imputer(**params).fit(missing)
    assert calls == [2, 4]  # two screened, then the other four
    assert imp.tree_weight_ > 0
    assert sorted(imp.blend_["trees"].forest.targets.tolist()) == list(range(6))


def test_trees_that_earn_too_little_are_not_fitted_further(monkeypatch):
    monkeypatch.setattr(trees, "SCREEN_COLUMNS", 2)
    monkeypatch.setattr(trees, "MIN_WEIGHT", 1.01)  # no weight is large enough
    calls = _recording_fit(monkeypatch)
    df = pd.DataFrame(_steps(300), columns=list("abcdef"))
    missing, _ = simulate.mcar(df, 0.2, rng=np.random.default_rng(1))
    imp = Imputer(**FAST, validation_fraction=0.1, random_state=0).fit(missing)
    assert calls == [2]
    assert imp.tree_weight_ == 0.0 and "trees" not in imp.blend_
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


def _classes_table(n=400, seed=0):
    """A numeric table, a binary column and a 4-category column cut from it (one-hot)."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, 3))
    flag = (X[:, 0] > 0.5) ^ (X[:, 2] > 0.5)
    quadrant = 2 * (X[:, 0] > 0.5) + (X[:, 1] > 0.5)
    filled = np.column_stack([X, flag, np.eye(4)[quadrant]])
    foe = np.array([0, 1, 2, 3, 4, 4, 4, 4])
    heads = {"numeric": [0, 1, 2], "binary": [3], "categorical": [[4, 5, 6, 7]]}
    return filled, foe, heads, flag, quadrant


def test_classifier_scores_match_an_independent_lightgbm_fit():
    from lightgbm import LGBMClassifier

    filled, foe, heads, flag, quadrant = _classes_table()
    observed = np.ones((len(filled), 5), dtype=bool)
    observed[::4, 4] = False  # rows that did not observe the category are not learned from
    fitted = filled.copy()
    fitted[::4, 4:] = 0.25  # what a network's probabilities could look like there
    forest = trees.fit_classes(fitted, observed, foe, heads, seed=0)
    assert forest.targets.tolist() == [3, 4, 5, 6, 7]
    every = [np.arange(len(filled))]
    scores = trees.predict(forest, filled, every)
    assert np.isnan(scores[:, :3]).all()  # numeric columns are not the classifiers' business
    rows = observed[:, 4]
    params = trees._booster_params(seed=12345, n_threads=1)
    ref = LGBMClassifier(**params).fit(filled[rows][:, :4], quadrant[rows])
    raw = ref.predict(filled[:, :4], raw_score=True)
    np.testing.assert_allclose(scores[:, 4:], raw, atol=1e-9)
    ref = LGBMClassifier(**params)
    ref.fit(fitted[:, [0, 1, 2, 4, 5, 6, 7]], flag)  # learned from the table it was given
    raw = ref.predict(filled[:, [0, 1, 2, 4, 5, 6, 7]], raw_score=True)
    np.testing.assert_allclose(scores[:, 3], raw, atol=1e-9)
    # the hidden categories are recovered from the others
    assert (scores[~rows, 4:].argmax(axis=1) == quadrant[~rows]).mean() > 0.95


def test_categories_never_observed_get_no_probability():
    filled, foe, heads, _, quadrant = _classes_table()
    observed = np.ones((len(filled), 5), dtype=bool)
    observed[quadrant >= 2, 4] = False  # categories 2 and 3 are never seen
    observed[:, 3] = False
    observed[: trees.MIN_ROWS, 3] = True
    filled[: trees.MIN_ROWS, 3] = 1.0  # the binary column is only ever seen as 1
    forest = trees.fit_classes(filled, observed, foe, heads, seed=0)
    scores = trees.predict(forest, filled, [np.arange(len(filled))])
    assert (scores[:, [6, 7]] == trees.ABSENT_SCORE).all()
    assert (scores[:, 4] == 0.0).all()  # the first seen category is the reference of the log-odds
    assert (scores[:, 3] == -trees.ABSENT_SCORE).all()  # certain
    seen = quadrant < 2
    assert (scores[seen, 4:6].argmax(axis=1) == quadrant[seen]).mean() > 0.95


def test_wide_or_rare_categorical_columns_are_left_out(monkeypatch):
    filled, foe, heads, _, _ = _classes_table()
    observed = np.ones((len(filled), 5), dtype=bool)
    observed[trees.MIN_ROWS - 1 :, 3] = False  # too few rows observed the binary column
    monkeypatch.setattr(trees, "MAX_CLASSES", 3)  # four categories are too many
    forest = trees.fit_classes(filled, observed, foe, heads, seed=0)
    assert len(forest.targets) == 0


def _mixed_steps(n=600, seed=0):
    """Numeric columns, and a binary and a categorical one that are steps of them."""
    filled, _, _, flag, quadrant = _classes_table(n, seed)
    df = pd.DataFrame(filled[:, :3], columns=["a", "b", "c"])
    df["flag"] = pd.array(flag, dtype="boolean")
    df["part"] = pd.array(np.array(["low-low", "low-high", "high-low", "high-high"])[quadrant],
                          dtype="str")  # fmt: skip
    return df


def test_tree_classifiers_raise_the_accuracy_on_hidden_categories(tmp_path):
    df = _mixed_steps()
    missing, mask = simulate.mcar(df, 0.2, rng=np.random.default_rng(1))
    params = {**FAST, "max_iter": 150, "validation_fraction": 0.1, "random_state": 0}
    plain = Imputer(trees=False, **params).fit_transform(missing)
    imp = Imputer(**params).fit(missing)
    assert imp.tree_class_weight_ >= trees.MIN_WEIGHT
    assert imp.tree_class_temperature_ in trees.TEMPERATURES
    targets = set(imp.blend_["class_trees"].forest.targets.tolist())
    assert {3, 4} <= targets  # the binary column and the first category
    blended = imp.transform(missing)
    for j, col in [(3, "flag"), (4, "part")]:
        hidden = mask[:, j]
        ours = (blended[col][hidden] == df[col][hidden]).mean()
        theirs = (plain[col][hidden] == df[col][hidden]).mean()
        assert ours > 0.8 and ours > theirs + 0.1, (col, ours, theirs)
    pd.testing.assert_frame_equal(blended[missing.notna()], missing[missing.notna()])
    assert blended["part"].dtype == df["part"].dtype and blended["flag"].dtype == "boolean"
    pd.testing.assert_frame_equal(blended, Imputer(**params).fit_transform(missing))
    imp.save(tmp_path / "m.aeimpute")
    back = Imputer.load(tmp_path / "m.aeimpute")
    assert back.tree_class_weight_ == imp.tree_class_weight_
    assert back.tree_class_temperature_ == imp.tree_class_temperature_
    pd.testing.assert_frame_equal(back.transform(missing), blended)


def test_categorical_only_table_gets_tree_classifiers():
    df = _mixed_steps()
    for col in "abc":  # the numeric columns as categories: nothing numeric is left
        df[col] = pd.array(np.where(df[col] > 0.5, "hi", "lo"), dtype="str")
    missing, _ = simulate.mcar(df, 0.2, rng=np.random.default_rng(1))
    imp = Imputer(**FAST, validation_fraction=0.1, random_state=0).fit(missing)
    assert imp.tree_weight_ == 0.0 and imp.linear_weight_ == 0.0
    assert imp.tree_class_weight_ >= trees.MIN_WEIGHT  # each column is a step of the others
    out = imp.transform(missing)
    assert not out.isna().any().any() and (out.dtypes == df.dtypes).all()


def _recording_fit_classes(monkeypatch):
    """Record how many binary and categorical columns each call of trees.fit_classes models."""
    calls = []
    real = trees.fit_classes

    def fit_classes(filled, observed, foe, heads, seed, n_threads=1, on_column=None):
        calls.append(len(heads["binary"]) + len(heads["categorical"]))
        return real(filled, observed, foe, heads, seed, n_threads, on_column)

    monkeypatch.setattr(trees, "fit_classes", fit_classes)
    return calls


@pytest.mark.parametrize("floor, expected", [(trees.MIN_WEIGHT, [1, 1]), (1.01, [1])])
def test_tree_classifiers_are_screened_on_a_few_columns_first(monkeypatch, floor, expected):
    monkeypatch.setattr(trees, "CLASS_SCREEN_COLUMNS", 1)
    monkeypatch.setattr(trees, "MIN_WEIGHT", floor)
    calls = _recording_fit_classes(monkeypatch)
    missing, _ = simulate.mcar(_mixed_steps(), 0.2, rng=np.random.default_rng(1))
    params = {**FAST, "max_iter": 150, "validation_fraction": 0.1, "random_state": 0}
    imp = Imputer(**params).fit(missing)
    assert calls == expected  # one screened, then the other (or not, when it earns too little)
    found = imp.blend_.candidates.get("class_trees")
    targets = set() if found is None else set(found.forest.targets.tolist())
    if floor > 1:
        assert imp.tree_class_weight_ == 0.0 and not targets & {3, 4, 5, 6, 7}
    else:
        assert imp.tree_class_weight_ > 0 and {3, 4, 5, 6, 7} <= targets


def test_classifier_temperature_softens_probabilities_not_choices():
    import dataclasses

    missing, _ = simulate.mcar(_mixed_steps(), 0.2, rng=np.random.default_rng(1))
    params = {**FAST, "max_iter": 150, "validation_fraction": 0.1, "random_state": 0}
    imp = Imputer(**params).fit(missing)
    classifiers = imp.blend_["class_trees"]
    numeric = imp.blend_.numeric
    filled = np.random.default_rng(0).random((50, len(numeric)))
    every = [np.arange(50)]
    probs = {}
    for t in (1.0, 4.0):
        at_t = dataclasses.replace(classifiers, temperature=t)
        probs[t] = at_t.estimate(filled, every, numeric, imp.networks_.activate)
    part = [4, 5, 6, 7]  # the categorical column's probabilities
    np.testing.assert_allclose(probs[4.0][:, part].sum(axis=1), 1.0)
    assert (probs[4.0][:, part].argmax(1) == probs[1.0][:, part].argmax(1)).all()
    assert (probs[4.0][:, part].max(1) < probs[1.0][:, part].max(1)).all()
    flag = probs[1.0][:, 3]  # binary: pulled towards 1/2
    assert (np.abs(probs[4.0][:, 3] - 0.5) < np.abs(flag - 0.5)).all()
    assert numeric[:3].all() and np.isnan(probs[4.0][:, :3]).all()  # numbers: not classified


def test_progress_is_reported_once_per_column_whatever_its_fate():
    rng = np.random.default_rng(0)
    X = rng.random((200, 5))
    X[:, 1] = 3.0  # constant: no boosting
    observed = np.ones((200, 5), dtype=bool)
    observed[5:, 2] = False  # too few rows: skipped
    ticks = []
    forest = trees.fit(X, observed, np.arange(5), np.ones(5, dtype=bool), seed=0,
                       on_column=lambda: ticks.append(1))  # fmt: skip
    assert len(ticks) == 5
    assert 2 not in forest.targets.tolist()
    heads = {"binary": [3], "categorical": []}
    X[:, 3] = (X[:, 0] > 0.5).astype(float)
    ticks.clear()
    trees.fit_classes(X, observed, np.arange(5), heads, seed=0, on_column=lambda: ticks.append(1))
    assert len(ticks) == 1
