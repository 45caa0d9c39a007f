"""Imputer.summary: what a fit fills and the error it expects, per column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aeimpute import Imputer
from aeimpute.cli import main


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(0)
    n = 600
    x = rng.normal(size=n)
    full = pd.DataFrame(
        {
            "x": x,
            "y": 2 * x + rng.normal(scale=0.1, size=n),  # predictable from x
            "z": rng.normal(size=n),  # predictable from nothing
            "c": pd.Series(np.where(x > 0, "up", "down"), dtype="category"),
        }
    )
    holed = full.copy()
    for col in ("y", "z", "c"):
        holed.loc[rng.random(n) < 0.2, col] = np.nan
    imp = Imputer(width=32, max_iter=300, random_state=0, n_jobs=1).fit(holed)
    return full, holed, imp


def test_expected_errors_follow_what_the_columns_allow(planted):
    full, holed, imp = planted
    table = imp.summary(holed)
    assert list(table.index) == ["x", "y", "z", "c"]
    assert table["kind"].tolist() == ["numeric", "numeric", "numeric", "categorical"]
    assert table["measure"].tolist() == ["RMSE", "RMSE", "RMSE", "share wrong"]
    assert table["missing"].tolist() == holed.isna().sum().tolist()
    assert (table["held_back_cells"] > 0).all()
    err = table["expected_error"]
    assert err["y"] < 0.5  # y = 2x + noise: known well from x
    assert 0.7 < err["z"] < 1.4  # noise: about its own standard deviation
    assert err["c"] < 0.2  # the sign of x


def test_expected_error_is_close_to_the_error_on_the_cells_actually_filled(planted):
    full, holed, imp = planted
    out = imp.transform(holed)
    for col in ("y", "z"):
        hidden = holed[col].isna()
        actual = float(np.sqrt(((out.loc[hidden, col] - full.loc[hidden, col]) ** 2).mean()))
        expected = imp.summary()["expected_error"][col]
        assert 0.5 < expected / actual < 2.0, (col, expected, actual)


def test_summary_survives_save_and_load_and_prints_in_full(planted, tmp_path):
    _, holed, imp = planted
    imp.save(tmp_path / "m")
    loaded = Imputer.load(tmp_path / "m")
    pd.testing.assert_frame_equal(pd.DataFrame(loaded.summary()), pd.DataFrame(imp.summary()))
    text = str(imp.summary(holed))
    assert "..." not in text and "share wrong" in text and "%" in text


def test_command_line_prints_the_summary_after_fitting(tmp_path, capsys):
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"a": rng.normal(size=80), "b": rng.normal(size=80)})
    df.loc[::5, "b"] = np.nan
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    assert (
        main(["fit-transform", str(path), "-o", str(tmp_path / "o.csv"), "--max-iter", "20"]) == 0
    )
    out = capsys.readouterr().out
    assert "expected_error" in out and "held_back_cells" in out
    assert "16 cells filled" in out
