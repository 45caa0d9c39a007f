import numpy as np
import pandas as pd
import pytest
from conftest import FAST, make_mixed
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline

from aeimpute import Imputer


def test_mixed_frame_round_trip(mixed):
    before = mixed.copy(deep=True)
    out = Imputer(**FAST, random_state=0).fit_transform(mixed)
    pd.testing.assert_frame_equal(mixed, before)  # input not mutated
    assert out.index.equals(mixed.index) and list(out.columns) == list(mixed.columns)
    assert out.dtypes.equals(mixed.dtypes)
    assert not out.drop(columns="when").isna().any().any()
    observed = mixed.notna()
    for c in mixed.columns:
        a, b = mixed[c][observed[c]], out[c][observed[c]]
        pd.testing.assert_series_equal(a, b)
    # imputed categories are training categories
    assert set(out["colour"]) <= set(mixed["colour"].dropna())
    assert set(out["size"].astype(str)) <= {"S", "M", "L"}
    # integers stay integers
    assert (out["count"] == out["count"].round()).all()


def test_float32_bits_kept_and_imputed_in_range():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=50).astype("float32"), "b": rng.normal(size=50)})
    df.loc[::5, "a"] = np.nan
    out = Imputer(**FAST, random_state=0).fit_transform(df)
    keep = df["a"].notna().to_numpy()
    assert out["a"].dtype == np.float32
    np.testing.assert_array_equal(
        out["a"].to_numpy()[keep].view(np.uint32), df["a"].to_numpy()[keep].view(np.uint32)
    )
    lo, hi = df["a"].min(), df["a"].max()
    assert out["a"].between(lo, hi).all()  # clip=True


def test_numpy_in_numpy_out(numeric):
    X = numeric.to_numpy()
    out = Imputer(**FAST, random_state=0).fit_transform(X)
    assert isinstance(out, np.ndarray) and out.shape == X.shape and out.dtype == X.dtype
    assert not np.isnan(out).any()
    np.testing.assert_array_equal(out[~np.isnan(X)], X[~np.isnan(X)])


def test_same_random_state_same_output(mixed):
    a = Imputer(**FAST, random_state=3).fit_transform(mixed)
    b = Imputer(**FAST, random_state=3).fit_transform(mixed)
    c = Imputer(**FAST, random_state=4).fit_transform(mixed)
    pd.testing.assert_frame_equal(a, b)
    assert not a["x"].equals(c["x"])


def test_no_missing_returns_input_unchanged():
    df = make_mixed(missing=0.0)
    out = Imputer(**FAST, random_state=0).fit_transform(df)
    pd.testing.assert_frame_equal(out, df)


def test_transform_new_rows_and_single_row(numeric):
    imp = Imputer(**FAST, random_state=0).fit(numeric)
    new = pd.DataFrame([[np.nan, 1.0, np.nan, 0.5, 2.0]], columns=list("abcde"), index=[99])
    out = imp.transform(new)
    assert out.index.tolist() == [99] and not out.isna().any().any()
    assert out.loc[99, "b"] == 1.0


def test_entirely_missing_row_is_filled_with_warning(numeric):
    imp = Imputer(**FAST, random_state=0).fit(numeric)
    new = pd.DataFrame([[np.nan] * 5], columns=list("abcde"))
    with pytest.warns(UserWarning, match="no observed value"):
        out = imp.transform(new)
    assert not out.isna().any().any()


def test_columns_in_other_order_are_accepted(numeric):
    imp = Imputer(**FAST, random_state=0).fit(numeric)
    a = imp.transform(numeric)
    b = imp.transform(numeric[list("edcba")])
    assert list(b.columns) == list("edcba")
    pd.testing.assert_frame_equal(a, b[list("abcde")])


@pytest.mark.filterwarnings("ignore:1 row\\(s\\) have no observed value")
def test_all_missing_column_keep_policy():
    df = pd.DataFrame({"a": [1.0, 2.0, np.nan, 4.0], "b": [np.nan] * 4})
    with pytest.warns(UserWarning, match="entirely missing"):
        out = Imputer(**FAST, all_missing="keep", random_state=0).fit_transform(df)
    assert out["b"].isna().all() and not out["a"].isna().any()


def test_unseen_category_warns_and_is_kept(mixed):
    imp = Imputer(**FAST, random_state=0).fit(mixed)
    new = mixed.iloc[:3].copy()
    new["colour"] = pd.Series(["purple", None, "red"], index=new.index, dtype="str")
    with pytest.warns(UserWarning, match="not seen in fit"):
        out = imp.transform(new)
    assert out["colour"].iloc[0] == "purple"
    assert out["colour"].iloc[1] in {"red", "green", "blue"}


def test_encode_reconstruction_error_and_sample(numeric):
    imp = Imputer(**FAST, random_state=0).fit(numeric)
    z = imp.encode(numeric)
    assert z.shape == (len(numeric), imp.model_config_["latent_dim"])
    assert z.index.equals(numeric.index) and np.isfinite(z.to_numpy()).all()
    err = imp.reconstruction_error(numeric)
    assert err.index.equals(numeric.index)
    # a row far from the data scores higher than the typical row
    odd = numeric.iloc[[1]].copy().fillna(0.0) * 0 + 50.0
    assert imp.reconstruction_error(odd).iloc[0] > err.median()
    draws = imp.sample(numeric, n=3)
    assert len(draws) == 3
    miss = numeric.isna().to_numpy()
    assert not np.allclose(draws[0].to_numpy()[miss], draws[1].to_numpy()[miss])
    for d in draws:
        np.testing.assert_array_equal(d.to_numpy()[~miss], numeric.to_numpy()[~miss])
    again = imp.sample(numeric, n=3)
    pd.testing.assert_frame_equal(draws[2], again[2])


def test_sample_categories_are_drawn(mixed):
    draws = Imputer(**FAST, random_state=0).fit(mixed).sample(mixed, n=8)
    miss = mixed["colour"].isna()
    seen = {tuple(d.loc[miss, "colour"]) for d in draws}
    assert len(seen) > 1
    for d in draws:
        assert set(d["colour"]) <= {"red", "green", "blue"}


def test_sklearn_pipeline_clone_and_set_output(numeric):
    X, y = numeric[list("abcd")], numeric["e"].fillna(0.0)
    pipe = make_pipeline(Imputer(**FAST, random_state=0), LinearRegression()).fit(X, y)
    assert pipe.predict(X).shape == (len(X),)
    imp = clone(Imputer(**FAST, random_state=0))
    assert imp.get_params()["width"] == 16
    out = imp.set_output(transform="pandas").fit_transform(X.to_numpy())
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["x0", "x1", "x2", "x3"]
    imp2 = Imputer(**FAST, random_state=0).fit(X)
    assert imp2.get_feature_names_out().tolist() == list("abcd")
    assert imp2.feature_names_in_.tolist() == list("abcd")


def test_not_fitted():
    with pytest.raises(NotFittedError):
        Imputer().transform(pd.DataFrame({"a": [1.0]}))


def test_verbose_shows_progress_of_training_and_of_the_trees(numeric, capsys):
    quiet = Imputer(**FAST, random_state=0).fit(numeric)
    assert capsys.readouterr().err == ""
    loud = Imputer(**FAST, verbose=True, random_state=0).fit(numeric)
    err = capsys.readouterr().err
    assert "aeimpute fit" in err
    assert loud.trees_ and "aeimpute blend (trees, per column)" in err
    pd.testing.assert_frame_equal(loud.transform(numeric), quiet.transform(numeric))


def test_validation_and_early_stopping_run():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 8))
    X[rng.random(X.shape) < 0.1] = np.nan
    imp = Imputer(width=16, n_blocks=1, max_iter=400, n_iter_no_change=50, random_state=0).fit(X)
    h = imp.history_[0]
    assert h["best_val_loss"] is not None
    # stopped early: exactly `patience` steps after the best validation error, before max_iter
    assert h["steps"] < 400 and h["steps"] - h["best_step"] == 50


def test_few_held_back_cells_fit_the_blend_without_early_stopping(monkeypatch):
    from aeimpute import blend

    held = {}
    fit_blend = blend.Blend.fit.__func__

    def spy(cls, held_out, *args, **kwargs):
        held["n"] = int(held_out.held.sum())
        return fit_blend(cls, held_out, *args, **kwargs)

    monkeypatch.setattr(blend.Blend, "fit", classmethod(spy))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 8))  # ~60 held-back cells: between 40 and 100
    X[rng.random(X.shape) < 0.1] = np.nan
    imp = Imputer(width=16, n_blocks=1, max_iter=60, random_state=0).fit(X)
    assert 40 <= held["n"] < 100
    h = imp.history_[0]
    assert h["best_val_loss"] is None and h["steps"] == 60


def test_validation_cells_come_from_a_bounded_row_sample():
    from aeimpute.corruption import split_validation

    observed = np.random.default_rng(1).random((5000, 6)) < 0.8
    small = split_validation(observed, 0.1, np.random.default_rng(0), max_rows=5000)
    # up to max_rows: every row may hold cells back, each observed cell with p=fraction
    expected = observed & (np.random.default_rng(0).random(observed.shape) < 0.1)
    emptied = observed.any(axis=1) & ~(observed & ~expected).any(axis=1)
    expected[emptied] = False
    assert np.array_equal(small, expected)
    capped = split_validation(observed, 0.1, np.random.default_rng(0), max_rows=400)
    rows = capped.any(axis=1)
    assert 100 < rows.sum() <= 400  # uncapped: about 2,000 rows
    assert not (capped & ~observed).any()
    assert 120 < capped.sum() < 280  # about 400 rows x 6 columns x 0.8 observed x 0.1


def test_ensemble_averages_several_models(numeric):
    from aeimpute.network import Networks

    imp = Imputer(**FAST, n_models=2, random_state=0).fit(numeric)
    assert len(imp.history_) == 2
    assert imp.encode(numeric).shape[1] == 2 * imp.model_config_["latent_dim"]
    nets = imp.networks_
    z = np.random.default_rng(0).normal(size=(30, numeric.shape[1]))
    observed = np.random.default_rng(1).random(z.shape) < 0.7
    each = [
        Networks([m], nets.config, nets.heads, nets.foe, "cpu").predict(z, observed, 1)
        for m in nets.models
    ]
    assert not np.allclose(each[0], each[1])  # two different networks
    np.testing.assert_allclose(nets.predict(z, observed, 1), (each[0] + each[1]) / 2, rtol=1e-6)


def test_threads_setting_restored(numeric):
    import torch

    torch.set_num_threads(1)
    Imputer(**FAST, n_jobs=2, random_state=0).fit(numeric)
    assert torch.get_num_threads() == 1


def test_device_auto_uses_cpu_without_cuda(numeric):
    import torch

    imp = Imputer(**FAST, device="auto", random_state=0).fit(numeric)
    assert imp.device_ == ("cuda" if torch.cuda.is_available() else "cpu")


def test_refine_and_inference_passes(numeric, tmp_path):
    base = Imputer(**FAST, random_state=0).fit(numeric)
    refined = Imputer(**FAST, refine=1, inference_passes=3, random_state=0).fit(numeric)
    a, b = base.transform(numeric), refined.transform(numeric)
    miss = numeric.isna().to_numpy()
    assert not np.allclose(a.to_numpy()[miss], b.to_numpy()[miss])
    np.testing.assert_array_equal(b.to_numpy()[~miss], numeric.to_numpy()[~miss])
    pd.testing.assert_frame_equal(b, refined.transform(numeric))  # passes are seeded
    refined.save(tmp_path / "m")
    pd.testing.assert_frame_equal(Imputer.load(tmp_path / "m").transform(numeric), b)


def test_max_iter_auto_follows_the_documented_rule(numeric, tmp_path):
    from aeimpute.imputer import auto_steps

    assert auto_steps(100, 512) == 600  # small tables: the floor
    assert auto_steps(569, 512) == round(600 * 569 / 512)
    assert auto_steps(1797, 512) == round(600 * 1797 / 512)
    assert auto_steps(20_000, 512) == 3000
    assert auto_steps(10**7, 512) == 3000  # large tables: the ceiling
    assert auto_steps(10**7, 512, temporal=True) == 1000
    imp = Imputer(width=16, batch_size=16, random_state=0, n_iter_no_change=25).fit(numeric)
    assert imp.max_iter_ == auto_steps(len(numeric), 16) == 3000
    assert imp.min_iter_ == imp.max_iter_ - 1000  # no early stop before the last 1000
    assert imp.history_[0]["steps"] >= imp.min_iter_
    assert imp.history_[0]["steps"] <= imp.max_iter_
    imp.save(tmp_path / "m.aeimpute")
    loaded = Imputer.load(tmp_path / "m.aeimpute")
    assert (loaded.max_iter_, loaded.min_iter_) == (imp.max_iter_, imp.min_iter_)
    fixed = Imputer(**FAST).fit(numeric)
    assert (fixed.max_iter_, fixed.min_iter_) == (FAST["max_iter"], 0)
    with pytest.raises(ValueError, match="max_iter"):
        Imputer(max_iter="fast").fit(numeric)


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_precision_setting(numeric, precision, tmp_path):
    imp = Imputer(**FAST, precision=precision, random_state=0).fit(numeric)
    assert imp.precision_ == precision
    out = imp.transform(numeric)
    assert not out.isna().any().any()
    pd.testing.assert_frame_equal(out, Imputer(**FAST, precision=precision, random_state=0)
                                  .fit_transform(numeric))  # fmt: skip
    imp.save(tmp_path / "m")
    assert Imputer.load(tmp_path / "m").precision_ == precision


def test_precision_auto_takes_bfloat16_only_where_native(numeric, monkeypatch):
    import torch

    from aeimpute import network

    cpu = torch.device("cpu")
    wide = {**FAST, "width": network.BFLOAT16_MIN_WIDTH}
    monkeypatch.setattr(network, "native_bfloat16", lambda device: False)
    assert network.training_dtype("auto", cpu, 256) is None
    assert Imputer(**wide, random_state=0).fit(numeric).precision_ == "float32"
    monkeypatch.setattr(network, "native_bfloat16", lambda device: True)
    assert network.training_dtype("auto", cpu, 256) is torch.bfloat16
    assert network.training_dtype("float32", cpu, 256) is None
    assert Imputer(**wide, random_state=0).fit(numeric).precision_ == "bfloat16"
    # narrow networks run faster in float32, so "auto" keeps it for them
    assert network.training_dtype("auto", cpu, 64) is None
    assert Imputer(**FAST, random_state=0).fit(numeric).precision_ == "float32"
    assert Imputer(**FAST, precision="bfloat16", random_state=0).fit(numeric).precision_ == (
        "bfloat16"
    )


def test_bfloat16_networks_predict_in_bfloat16_only_where_native(numeric, monkeypatch, tmp_path):
    import torch

    from aeimpute import network

    imp = Imputer(**FAST, precision="bfloat16", random_state=0).fit(numeric)
    z = np.random.default_rng(0).normal(size=(40, numeric.shape[1]))
    observed = np.random.default_rng(1).random(z.shape) < 0.7
    monkeypatch.setattr(network, "native_bfloat16", lambda device: True)
    assert imp.networks_.inference_dtype is torch.bfloat16
    fast = imp.networks_.predict(z, observed, 1)
    imp.save(tmp_path / "m")
    loaded = Imputer.load(tmp_path / "m")
    assert loaded.networks_.inference_dtype is torch.bfloat16
    np.testing.assert_array_equal(loaded.networks_.predict(z, observed, 1), fast)
    monkeypatch.setattr(network, "native_bfloat16", lambda device: False)
    assert imp.networks_.inference_dtype is None
    exact = imp.networks_.predict(z, observed, 1)
    assert not np.array_equal(fast, exact)  # the formats differ...
    np.testing.assert_allclose(fast, exact, atol=0.05)  # ...by bfloat16 rounding only
    floats = Imputer(**FAST, precision="float32", random_state=0).fit(numeric)
    monkeypatch.setattr(network, "native_bfloat16", lambda device: True)
    assert floats.networks_.inference_dtype is None  # trained in float32: predicts in float32


def test_transform_in_blocks_gives_the_values_of_one_call(numeric, monkeypatch):
    from aeimpute import imputer as module

    big = pd.concat([numeric] * 5, ignore_index=True)
    imp = Imputer(**FAST, random_state=0).fit(numeric)
    whole = imp.transform(big)
    calls = []
    rows = imp._predict_rows
    monkeypatch.setattr(imp, "_predict_rows", lambda z, o: calls.append(len(z)) or rows(z, o))
    monkeypatch.setattr(module, "PREDICT_ROWS", 64)
    pd.testing.assert_frame_equal(imp.transform(big), whole)
    assert len(calls) > 1 and max(calls) == 64


def test_adamw_falls_back_where_no_fused_kernel(monkeypatch):
    import torch

    from aeimpute import training

    params = [torch.nn.Parameter(torch.zeros(3))]
    assert training._adamw(params, 1e-3, 0.0).defaults["fused"] is True
    real = torch.optim.AdamW

    def no_fused(*args, fused=None, **kwargs):
        if fused:  # as torch < 2.4 answers fused=True on the CPU
            raise RuntimeError("`fused=True` requires all the params to be on CUDA")
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.optim, "AdamW", no_fused)
    assert not training._adamw(params, 1e-3, 0.0).defaults.get("fused")


def test_concurrent_fits_leave_the_thread_count_as_it_was(numeric):
    """torch's thread count is one per process: overlapping fits must not leave theirs behind."""
    import threading

    import torch

    before = torch.get_num_threads()
    errors = []

    def fit(threads):
        try:
            Imputer(**FAST, n_jobs=threads, random_state=0).fit_transform(numeric)
        except Exception as err:  # noqa: BLE001  (reported below)
            errors.append(err)

    workers = [threading.Thread(target=fit, args=(n,)) for n in (1, 2, 1)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == [] and torch.get_num_threads() == before


def test_torch_threads_restores_only_after_the_last_overlapping_block():
    import torch

    from aeimpute.runtime import torch_threads

    before = torch.get_num_threads()
    outer = torch_threads(2)
    outer.__enter__()
    with torch_threads(1):
        assert torch.get_num_threads() == 2  # the largest count asked for by a running block
    assert torch.get_num_threads() == 2  # the outer block still runs
    outer.__exit__(None, None, None)
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("method", ["transform", "sample"])
def test_a_batch_with_an_entirely_missing_column_keeps_the_training_kind(mixed, method):
    """pandas types a column with no value float64 (CSV chunks, single edited rows)."""
    imp = Imputer(**FAST, random_state=0).fit(mixed)
    batch = mixed.iloc[:6].copy()
    emptied = ["x", "count", "flag", "colour", "size", "obj"]
    for col in emptied:
        batch[col] = np.nan
    assert (batch[emptied].dtypes == "float64").all()
    out = imp.transform(batch) if method == "transform" else imp.sample(batch, n=1)[0]
    pd.testing.assert_series_equal(out.dtypes, mixed.dtypes)
    assert not out[emptied].isna().any().any()
    assert set(out["colour"]) <= {"red", "green", "blue"}
    assert set(out["size"]) <= {"S", "M", "L"}
    assert batch["colour"].isna().all()  # the input is not modified


def test_an_entirely_missing_batch_column_of_numpy_bool_and_int_returns_them():
    df = pd.DataFrame({"b": np.arange(40) % 2 == 0, "i": np.arange(40), "x": np.linspace(0, 1, 40)})
    df.loc[3, "x"] = np.nan
    imp = Imputer(**FAST, random_state=0).fit(df)
    batch = df.iloc[:4].copy()
    batch["b"], batch["i"] = np.nan, np.nan
    out = imp.transform(batch)
    assert out["b"].dtype == bool and out["i"].dtype == np.int64
    np.testing.assert_array_equal(out["x"][:3], batch["x"][:3])  # observed: untouched


@pytest.mark.parametrize(
    "old, new, value",
    [("hidden_width", "width", 16), ("max_steps", "max_iter", 20),
     ("patience", "n_iter_no_change", 7), ("n_threads", "n_jobs", 2)],
)  # fmt: skip
def test_renamed_parameters_still_work_with_a_warning(numeric, old, new, value):
    from sklearn.base import clone

    base = {k: v for k, v in {**FAST, "random_state": 0}.items() if k != new}
    imp = Imputer(**base, **{old: value})  # the new name left at its default
    assert clone(imp).get_params()[old] == value
    with pytest.warns(FutureWarning, match=f"'{old}' was renamed '{new}'"):
        imp.fit(numeric)
    used = {
        "width": lambda: imp.model_config_["width"],
        "max_iter": lambda: imp.max_iter_,
        "n_iter_no_change": lambda: imp._resolved_params(warn=False)["n_iter_no_change"],
        "n_jobs": lambda: imp._n_threads,
    }
    assert used[new]() == value
    with pytest.raises(TypeError, match="unexpected keyword argument 'max_step'"):
        Imputer(max_step=5)


def test_renamed_keypoint_parameters_still_work_with_a_warning():
    from aeimpute import KeypointImputer
    from aeimpute.keypoints import simulate_poses

    xy = simulate_poses(n_frames=200, n_keypoints=4, random_state=0)
    xy[50:60, 0, 1] = np.nan
    imp = KeypointImputer(window=32, width=8, max_iter=5, validation=False, random_state=0)
    with pytest.warns(FutureWarning, match="'validation' was renamed 'early_stopping'"):
        imp.fit(xy)
    assert imp.history_["validation_points"] == 0  # held back nothing: early stopping is off


def test_row_wise_options_with_temporal_context_say_so():
    idx = pd.date_range("2024-01-01", periods=64, freq="h")
    df = pd.DataFrame({"a": np.sin(np.arange(64.0)), "b": np.cos(np.arange(64.0))}, index=idx)
    df.iloc[::7, 0] = np.nan
    params = {**FAST, "window": 16, "random_state": 0}
    with pytest.warns(UserWarning, match=r"latent_dim=4, refine=0 apply to the row-wise model"):
        Imputer(**params, latent_dim=4, refine=0).fit(df)
    for name in ("linear", "trees"):
        with pytest.raises(ValueError, match=f"{name}=True applies to the row-wise model"):
            Imputer(**params, **{name: True}).fit(df)


def test_linear_and_trees_true_apply_beyond_the_auto_size(monkeypatch):
    import aeimpute.imputer as imputer_module

    monkeypatch.setattr(imputer_module, "MAX_BLEND_ROWS", 100)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    X[:, 3] = X[:, 0] - X[:, 1]
    X[rng.random(X.shape) < 0.15] = np.nan
    auto = Imputer(**FAST, validation_fraction=0.2, random_state=0).fit(X)
    assert not auto.linear_ and not auto.trees_  # "auto": the table is over the size
    forced = Imputer(**FAST, validation_fraction=0.2, linear=True, trees=True, random_state=0)
    forced.fit(X)
    assert forced.linear_ and forced.trees_


def test_default_threads_follow_the_environment_variable_else_every_core(monkeypatch, numeric):
    from aeimpute import runtime

    monkeypatch.setenv("AEIMPUTE_NUM_THREADS", "3")
    assert runtime.n_threads(None) == 3 and runtime.n_threads(2) == 2
    monkeypatch.delenv("AEIMPUTE_NUM_THREADS")
    assert runtime.n_threads(None) == runtime.available_cores() == runtime.n_threads(-1)
    monkeypatch.setenv("AEIMPUTE_NUM_THREADS", "two")
    with pytest.raises(ValueError, match="AEIMPUTE_NUM_THREADS='two' must be a positive integer"):
        Imputer(**FAST, random_state=0).fit(numeric)
