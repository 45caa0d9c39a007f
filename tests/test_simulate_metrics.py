import numpy as np
import pandas as pd
import pytest

from aeimpute import metrics, simulate


@pytest.fixture
def X():
    rng = np.random.default_rng(0)
    return rng.normal(size=(3000, 6))


@pytest.mark.parametrize("rate", [0.1, 0.2, 0.5, 0.7])
@pytest.mark.parametrize("fn", [simulate.mcar, simulate.mar, simulate.mnar])
def test_rates_are_met(X, fn, rate):
    Xm, mask = fn(X, rate, rng=np.random.default_rng(1))
    assert mask.shape == X.shape and mask.dtype == bool
    assert np.isnan(Xm[mask]).all() and (Xm[~mask] == X[~mask]).all()
    share = mask[:, mask.any(axis=0)].mean()  # MAR keeps some columns complete
    assert abs(share - rate) < 0.03, share


def test_mar_depends_on_observed_columns(X):
    X = X.copy()
    Xm, mask = simulate.mar(X, 0.3, rng=0)
    obs_cols = np.flatnonzero(~mask.any(axis=0))
    assert len(obs_cols) == 2  # 30% of 6
    miss_col = np.flatnonzero(mask.any(axis=0))[0]
    # the missingness of a maskable column is predictable from the observed ones
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    def auc(m):
        model = LogisticRegression().fit(X[:, obs_cols], m)
        return roc_auc_score(m, model.predict_proba(X[:, obs_cols])[:, 1])

    assert auc(mask[:, miss_col]) > 0.7
    assert auc(simulate.mcar(X, 0.3, rng=0)[1][:, miss_col]) < 0.6  # MCAR: no signal


def test_mnar_hides_high_values(X):
    _, mask = simulate.mnar(X, 0.2, rng=0)
    for j in range(X.shape[1]):
        assert X[mask[:, j], j].mean() > X[~mask[:, j], j].mean() + 0.5


def test_dataframe_in_dataframe_out(X):
    df = pd.DataFrame(X, columns=list("abcdef"))
    out, mask = simulate.mcar(df, 0.3, rng=0)
    assert isinstance(out, pd.DataFrame) and out.isna().to_numpy().tolist() == mask.tolist()
    assert not df.isna().any().any()  # input untouched


def test_channel_blocks_and_gaps(X):
    df = pd.DataFrame(X[:500], columns=list("abcdef"))
    _, mask = simulate.channel_blocks(
        df, {"s1": ["a", "b"], "s2": ["c"]}, 0.3, block_length=(24, 48), rng=0
    )
    assert (mask[:, 0] == mask[:, 1]).all() and not mask[:, 3:].any()
    assert 0.25 < mask[:, 0].mean() < 0.4
    lengths = metrics.gap_lengths(mask[:, 0])
    assert lengths[mask[:, 0]].min() >= 24  # runs of 24-48 rows, overlapping ones merged
    _, mask = simulate.temporal_gaps(df, 0.2, gap_length=(10, 10), columns=["a"], rng=0)
    assert mask[:, 1:].sum() == 0 and mask[:, 0].mean() >= 0.2
    assert set(np.unique(metrics.gap_lengths(mask[:, 0]))) - {0} <= set(range(10, 100))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda X: simulate.mcar(X, 1.2), "rate must be in"),
        (lambda X: simulate.mcar(X, 0.0), "rate must be in"),
        (lambda X: simulate.mcar(X, "x"), "rate must be a number"),
        (lambda X: simulate.mcar(X[0], 0.2), "2-D"),
        (lambda X: simulate.mar(X[:, :1], 0.2), "at least 2 columns"),
        (lambda X: simulate.mnar(np.where(X > 2, np.nan, X), 0.2), "complete"),
        (lambda X: simulate.channel_blocks(X, [[9]], 0.2), "out of range"),
        (lambda X: simulate.channel_blocks(X, [[0]], 0.2, (5, 2)), "block_length"),
        (lambda X: simulate.temporal_gaps(X, 0.2, (0, 3)), "gap_length"),
        (lambda X: simulate.mcar(X, 0.2, rng="seed"), "rng must be"),
    ],
)
def test_bad_arguments(X, call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call(X)


def test_metrics():
    t = pd.DataFrame({"a": [0.0, 10.0, 5.0], "b": [1.0, 2.0, 3.0]})
    p = t.copy()
    p.loc[2, "a"] = 7.0
    m = np.array([[False, False], [False, False], [True, False]])
    assert metrics.rmse(t, p, m) == pytest.approx(0.2)
    assert metrics.rmse(t, p, m, scale="none") == pytest.approx(2.0)
    assert metrics.mae(t, p, m, scale="none") == pytest.approx(2.0)
    with pytest.raises(ValueError, match="no cell"):
        metrics.rmse(t, p, np.zeros_like(m))
    with pytest.raises(ValueError, match="scored cells are missing"):
        metrics.rmse(t, p.mask(m), m)
    with pytest.raises(ValueError, match="scale"):
        metrics.rmse(t, p, m, scale="z")


def test_keypoint_errors_by_gap():
    frames = 100
    true = np.zeros((frames, 2, 2))
    pred = true.copy()
    mask = np.zeros((frames, 2), dtype=bool)
    mask[10, 0] = True  # gap of 1, error 1 px
    pred[10, 0] = [1.0, 0.0]
    mask[20:30, 1] = True  # gap of 10, error 6 px
    pred[20:30, 1] = [0.0, 6.0]
    table = metrics.keypoint_errors_by_gap(true, pred, mask, bins=(1, 3, 10), pck_threshold=5)
    assert table.loc["1-2", "rmse_px"] == 1.0 and table.loc["1-2", "pck"] == 1.0
    assert table.loc["10+", "points"] == 10 and table.loc["10+", "pck"] == 0.0
    assert table.loc["3-9", "points"] == 0
