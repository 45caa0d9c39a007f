"""Channels of a fused matrix and temporal context for the tabular Imputer."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from aeimpute import Imputer
from aeimpute.channels import missing_indicators, report, resolve_channels
from aeimpute.corruption import hide_channel_runs, hide_channels

TINY_TEMPORAL = {"width": 16, "window": 32, "max_iter": 20, "batch_size": 64}


def series_frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Two sensors of two columns each, smooth in time and related to each other."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    base = np.sin(t / 15.0) + 0.1 * rng.normal(size=n).cumsum() / np.sqrt(n)
    slow = np.cos(t / 40.0)
    df = pd.DataFrame(
        {
            ("a", "x"): base,
            ("a", "y"): 2 * base + slow,
            ("b", "x"): -base + 0.5 * slow,
            ("b", "y"): slow,
        },
        index=pd.date_range("2024-01-01", periods=n, freq="h"),
    )
    df.columns = pd.MultiIndex.from_tuples(df.columns)
    return df


# ----------------------------------------------------------------- resolve / report
def test_resolve_channels_from_dict_keeps_column_order():
    groups = resolve_channels(["a", "b", "c", "d"], {"s": ["c", "a"], "t": ["d"]})
    assert groups == [("s", ["a", "c"]), ("b", ["b"]), ("t", ["d"])]


def test_resolve_channels_from_multiindex_and_flat():
    cols = pd.MultiIndex.from_tuples([("gps", "lat"), ("imu", "ax"), ("gps", "lon")])
    assert resolve_channels(cols, None) == [
        ("gps", [("gps", "lat"), ("gps", "lon")]),
        ("imu", [("imu", "ax")]),
    ]
    assert resolve_channels(["a", "b"], None) == [("a", ["a"]), ("b", ["b"])]
    assert resolve_channels(cols, "columns")[0] == (("gps", "lat"), [("gps", "lat")])


@pytest.mark.parametrize(
    "channels, message",
    [
        ({"s": ["a", "zz"]}, r"channel 's' names columns not in the table: \['zz'\]"),
        ({"s": ["a"], "t": ["a", "b"]}, "column 'a' is in two channels"),
        ({"s": []}, "channel 's' has no columns"),
        ({"s": "a"}, "channel 's' must list its columns"),
        ({"b": ["a"]}, "column 'b' is in no channel but a channel is named 'b'"),
        (["a", "b"], "channels must be None, 'columns' or a dict"),
    ],
)
def test_resolve_channels_errors(channels, message):
    with pytest.raises(ValueError, match=message):
        resolve_channels(["a", "b"], channels)


def test_report_counts_outages_per_channel():
    df = series_frame(50)
    df.iloc[10:17, 0:2] = np.nan  # channel a out for 7 rows
    df.iloc[30:33, 0:2] = np.nan  # and for 3 rows
    df.iloc[5, 2] = np.nan  # one cell of b: partial, not an outage
    rep = report(df)
    assert list(rep.index) == ["a", "b"]
    assert rep.loc["a", "outages"] == 2
    assert rep.loc["a", "longest_outage"] == 7
    assert rep.loc["a", "outage_rows"] == pytest.approx(10 / 50)
    assert rep.loc["a", "longest_outage_time"] == pd.Timedelta(hours=7)
    assert rep.loc["b", "outages"] == 0
    assert rep.loc["b", "partial_rows"] == pytest.approx(1 / 50)
    assert rep.loc["b", "missing_cells"] == pytest.approx(1 / 100)


def test_missing_indicators_by_column_and_channel():
    df = pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [np.nan, 2.0, 3.0], "c": [1.0, 2.0, 3.0]})
    by_col = missing_indicators(df)
    assert list(by_col.columns) == ["a_missing", "b_missing", "c_missing"]
    assert by_col.to_numpy().tolist() == [[0, 1, 0], [1, 0, 0], [0, 0, 0]]
    by_ch = missing_indicators(df, channels={"s": ["a", "b"]}, by="channel")
    assert list(by_ch.columns) == ["s_missing", "c_missing"]
    assert by_ch["s_missing"].tolist() == [1, 1, 0]
    arr = missing_indicators(df.to_numpy())
    assert isinstance(arr, np.ndarray) and arr.dtype == np.uint8
    with pytest.raises(ValueError, match="'by'"):
        missing_indicators(df, by="row")


# ----------------------------------------------------------------- corruption
def test_hide_channels_hides_whole_channels_only_where_observed():
    g = torch.Generator().manual_seed(0)
    obs = torch.rand(2000, 5, generator=g) < 0.8
    codes = torch.tensor([0, 0, 1, 1, 2])
    hidden = hide_channels(obs, codes, 3, 0.3, g)
    assert not (hidden & ~obs).any()
    both = obs[:, 0] & obs[:, 1]
    assert torch.equal(hidden[both, 0], hidden[both, 1])
    rate = hidden[obs[:, 4], 4].float().mean().item()
    assert 0.25 < rate < 0.35


def test_hide_channel_runs_are_contiguous_per_channel():
    g = torch.Generator().manual_seed(1)
    obs = torch.ones(16, 200, 3, dtype=torch.bool)
    hidden = hide_channel_runs(obs, torch.tensor([0, 0, 1]), 2, 1.0, (10, 40), g)
    assert torch.equal(hidden[..., 0], hidden[..., 1])
    for b in range(16):
        rows = torch.nonzero(hidden[b, :, 2]).flatten()
        assert 10 <= len(rows) <= 40
        assert rows[-1] - rows[0] + 1 == len(rows)  # one run


# ----------------------------------------------------------------- Imputer(channels=...)
def test_channels_from_multiindex_and_output_contract():
    df = series_frame(200)
    rng = np.random.default_rng(0)
    damaged = df.mask(rng.random(df.shape) < 0.15)
    before = damaged.copy()
    imp = Imputer(temporal=False, width=16, max_iter=30, random_state=0)
    out = imp.fit_transform(damaged)
    pd.testing.assert_frame_equal(damaged, before)  # input not mutated
    assert [name for name, _ in imp.channels_] == ["a", "b"]
    assert imp.channel_masking_ and not imp.temporal_
    assert out.columns.equals(df.columns) and out.index.equals(df.index)
    seen = damaged.notna().to_numpy()
    np.testing.assert_array_equal(out.to_numpy()[seen], damaged.to_numpy()[seen])
    assert not out.isna().any().any()


def test_bad_channel_spec_is_named_at_fit():
    df = pd.DataFrame({"a": [1.0, 2.0, np.nan], "b": [1.0, np.nan, 3.0]})
    with pytest.raises(ValueError, match=r"names columns not in the table: \['c'\]"):
        Imputer(channels={"s": ["a", "c"]}).fit(df)
    with pytest.raises(ValueError, match="channels"):
        Imputer(channels=["a"]).fit(df)


def test_without_channels_training_is_unchanged():
    """Single-column channels add no corruption: same output as before the option existed."""
    df = series_frame(120).droplevel(0, axis=1).set_axis(list("pqrs"), axis=1)
    df = df.reset_index(drop=True).mask(np.random.default_rng(0).random(df.shape) < 0.2)
    a = Imputer(width=16, max_iter=30, random_state=0).fit_transform(df)
    b = Imputer(channels="columns", width=16, max_iter=30, random_state=0).fit_transform(df)
    pd.testing.assert_frame_equal(a, b)


# ----------------------------------------------------------------- temporal context
def test_temporal_auto_follows_the_index():
    df = series_frame(80)
    df.iloc[3, 0] = np.nan
    on = Imputer(**TINY_TEMPORAL, random_state=0).fit(df)
    assert on.temporal_ and on.model_config_["kind"] == "temporal"
    off = Imputer(**TINY_TEMPORAL, random_state=0).fit(df.reset_index(drop=True))
    assert not off.temporal_
    forced = Imputer(**TINY_TEMPORAL, temporal=True, random_state=0).fit(df.to_numpy())
    assert forced.temporal_


def test_temporal_model_trains_in_float32():
    df = series_frame(80)
    df.iloc[3, 0] = np.nan
    assert Imputer(**TINY_TEMPORAL, random_state=0).fit(df).precision_ == "float32"
    with pytest.warns(UserWarning, match="temporal context, which trains in float32"):
        imp = Imputer(**TINY_TEMPORAL, precision="bfloat16", random_state=0).fit(df)
    assert imp.precision_ == "float32"


def test_unsorted_datetime_index_is_refused_for_temporal():
    df = series_frame(80)
    df.iloc[3, 0] = np.nan
    shuffled = df.iloc[::-1]
    assert not Imputer(**TINY_TEMPORAL).fit(shuffled).temporal_  # auto: off
    with pytest.raises(ValueError, match="not sorted increasing"):
        Imputer(**TINY_TEMPORAL, temporal=True).fit(shuffled)
    imp = Imputer(**TINY_TEMPORAL, random_state=0).fit(df)
    with pytest.raises(ValueError, match="sort the frame by time"):
        imp.transform(shuffled)


def test_temporal_fills_a_sensor_outage_from_neighbouring_rows():
    """A smooth series with nothing to learn across columns: only time can help.

    Channel ``a`` is hidden for runs of 8 rows. The row-wise model can only
    guess from the unrelated column; the temporal model must do better
    than half its error and stay close to linear interpolation.
    """
    rng = np.random.default_rng(3)
    n = 600
    t = np.arange(n)
    df = pd.DataFrame(
        {"a": np.sin(t / 12.0) + 0.3 * np.sin(t / 5.0), "b": rng.normal(size=n)},
        index=pd.date_range("2024-01-01", periods=n, freq="h"),
    )
    mask = np.zeros(df.shape, dtype=bool)
    for start in range(20, n - 20, 60):
        mask[start : start + 8, 0] = True
    damaged = df.mask(mask)
    settings = {"width": 32, "window": 64, "max_iter": 250, "random_state": 0}
    temporal = Imputer(**settings).fit_transform(damaged)
    rows = Imputer(temporal=False, width=32, max_iter=250, random_state=0)
    rows_out = rows.fit_transform(damaged)
    linear = damaged.interpolate()

    def err(out):
        return float(np.sqrt(np.mean((out.to_numpy() - df.to_numpy())[mask] ** 2)))

    assert err(temporal) < 0.5 * err(rows_out), (err(temporal), err(rows_out))
    assert err(temporal) < 1.5 * err(linear) + 0.02, (err(temporal), err(linear))


def test_temporal_is_reproducible_and_round_trips(tmp_path):
    df = series_frame(150)
    damaged = df.mask(np.random.default_rng(1).random(df.shape) < 0.2)
    damaged.iloc[40:60, 0:2] = np.nan
    damaged.iloc[70] = np.nan  # an empty row stays in the time axis
    a = Imputer(**TINY_TEMPORAL, random_state=5)
    out_a = a.fit_transform(damaged)
    out_b = Imputer(**TINY_TEMPORAL, random_state=5).fit_transform(damaged)
    pd.testing.assert_frame_equal(out_a, out_b)
    assert not out_a.isna().any().any()
    a.save(tmp_path / "m.aei")
    loaded = Imputer.load(tmp_path / "m.aei")
    assert loaded.temporal_ and loaded.channels_ == a.channels_
    pd.testing.assert_frame_equal(loaded.transform(damaged), out_a)


def test_temporal_encode_score_and_sample():
    df = series_frame(100)
    damaged = df.mask(np.random.default_rng(2).random(df.shape) < 0.1)
    imp = Imputer(**TINY_TEMPORAL, random_state=0).fit(damaged)
    codes = imp.encode(damaged)
    assert codes.shape == (100, 16) and codes.index.equals(df.index)
    score = imp.reconstruction_error(damaged, n_passes=2)
    assert score.notna().all() and (score >= 0).all()
    draws = imp.sample(damaged, n=2)
    assert len(draws) == 2 and not draws[0].equals(draws[1])


def test_long_series_in_pieces_equals_one_pass():
    """Chunked inference (margin = receptive field) gives the one-pass result."""
    from aeimpute.nn import TemporalDenoiser

    torch.manual_seed(0)
    net = TemporalDenoiser(3, 3, width=8, n_blocks=3, feature_of_encoded=[0, 1, 2], horizon=16)
    for p in net.net.out.parameters():  # the output layer starts at zero; make it count
        torch.nn.init.normal_(p)
    x = torch.randn(500, 3)
    m = torch.rand(500, 3) > 0.3
    x = torch.where(m, x, torch.zeros_like(x))
    whole = net(x, m)
    net.chunk = 37
    pieces = net(x, m)
    torch.testing.assert_close(pieces, whole, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "param, value", [("window", 4), ("temporal", "yes"), ("channel_rate", 1.5)]
)
def test_bad_temporal_options(param, value):
    df = series_frame(40)
    with pytest.raises(ValueError, match=param):
        Imputer(**{param: value}).fit(df)


# ----------------------------------------------------------------- benchmark and example
ROOT = Path(__file__).resolve().parents[1]


def _load_script(name: str, path: Path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_fusion_benchmark_runs_and_reports(tmp_path):
    bench = _load_script("bench_fusion", ROOT / "benchmarks" / "fusion.py")
    df = bench.load_air_quality()
    if df is None:
        pytest.skip("shared air-quality data not present")
    results = bench.run(df.iloc[:500], ["outage", "mcar"], [0], steps=5)
    assert set(results["method"]) == set(bench.methods(0, 5))
    assert (results[["all", *bench.CHANNELS]] >= 0).all().all()
    text = bench.tables(results)
    assert "**outage**" in text and "/ best non-aeimpute" in text
    _, mask = bench.damage(df.iloc[:500], "outage", 0)
    sensors = [df.columns.get_loc(c) for c in bench.CHANNELS["sensors"]]
    hidden = mask[:, sensors]
    observed = df.iloc[:500, sensors].notna().to_numpy()
    # whole channel hidden at once (where it was observed)
    assert ((hidden == hidden.any(axis=1, keepdims=True)) | ~observed).all()
    table = bench.downstream(df.iloc[:800], [0], steps=5)
    assert "| drop incomplete rows |" in table and "| aeimpute |" in table


def test_fusion_example_runs(capsys):
    example = _load_script("fusion_example", ROOT / "examples" / "fusion_preprocessing.py")
    assert example.main(["--steps", "10"]) == 0
    out = capsys.readouterr().out
    assert "drop incomplete rows" in out and "aeimpute" in out and "RMSE" in out


def test_outage_cells_weigh_less_in_the_loss():
    from aeimpute.training import OUTAGE_WEIGHT, _loss_weight

    hidden = torch.tensor([[True, False, False, False]])
    outage = torch.tensor([[True, True, False, False]])
    visible = torch.tensor([[False, False, True, False]])
    w = _loss_weight(hidden, outage, visible, 0.1)
    assert w[0].tolist() == pytest.approx([1.0, OUTAGE_WEIGHT, 0.1, 0.0])
    assert 0 < OUTAGE_WEIGHT < 1


def test_printed_report_shows_every_column_in_an_80_column_terminal(monkeypatch):
    import os
    import shutil

    from aeimpute import report

    idx = pd.date_range("2024-01-01", periods=48, freq="h")
    df = pd.DataFrame(np.ones((48, 3)), index=idx, columns=["co_sensor", "no2_sensor", "temp"])
    df.iloc[5:30, :2] = np.nan
    monkeypatch.setattr(
        shutil, "get_terminal_size", lambda fallback=(80, 24): os.terminal_size((80, 24))
    )
    rep = report(df, channels={"gas": ["co_sensor", "no2_sensor"], "weather": ["temp"]})
    text = str(rep)
    assert "..." not in text
    for column in rep.columns:
        assert column in text
    assert max(len(line) for line in text.splitlines()) <= 80
    assert type(rep[["outages"]]) is pd.DataFrame  # selections are plain frames
