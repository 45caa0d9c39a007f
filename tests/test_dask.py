"""Dask DataFrames: fit on their rows, lazy transform one partition at a time."""

import pickle

import numpy as np
import pandas as pd
import pytest
from conftest import FAST, make_mixed

from aeimpute import Imputer
from aeimpute import dask_frames as adask

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("dask.distributed")


@pytest.fixture(scope="module")
def client():
    """A real cluster: two single-threaded worker processes on loopback."""
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
    )
    with cluster, distributed.Client(cluster) as c:
        yield c


def test_cluster_result_equals_in_memory(client):
    ddf = dd.from_pandas(make_mixed(240, seed=3), npartitions=4)
    local = ddf.compute()  # the same data as Dask holds it (text as Dask's string dtype)
    lazy = Imputer(**FAST, random_state=0).fit(ddf).transform(ddf)
    assert isinstance(lazy, dd.DataFrame)  # nothing computed yet
    out = lazy.compute()
    assert len(client.scheduler_info()["workers"]) == 2
    expected = Imputer(**FAST, random_state=0).fit(local).transform(local)
    pd.testing.assert_frame_equal(out, expected)
    assert not out.drop(columns="when").isna().any().any()


def test_model_enters_the_graph_once():
    df = make_mixed(160)
    ddf = dd.from_pandas(df, npartitions=8)
    imp = Imputer(**FAST, random_state=0).fit(df)
    size = len(pickle.dumps(imp))
    graph = dict(imp.transform(ddf).__dask_graph__())
    holding_model = [k for k, task in graph.items() if len(pickle.dumps(task)) > size // 2]
    assert len(holding_model) == 1  # one node; the 8 partition tasks refer to it by key


def test_large_frames_are_fitted_on_a_seeded_sample(monkeypatch):
    df = pd.DataFrame({"a": np.arange(2000.0), "b": np.arange(2000.0) % 7})
    df.loc[::5, "b"] = np.nan
    ddf = dd.from_pandas(df, npartitions=5)
    first = adask.fit_rows(ddf, 0, max_rows=300)
    again = adask.fit_rows(ddf, 0, max_rows=300)
    other = adask.fit_rows(ddf, 1, max_rows=300)
    assert 200 < len(first) < 400
    pd.testing.assert_frame_equal(first, again)
    assert not first.index.equals(other.index)
    pd.testing.assert_frame_equal(first, df.loc[first.index])  # rows unchanged
    assert len(adask.fit_rows(ddf, 0, max_rows=5000)) == 2000  # under the cap: every row
    # Imputer.fit goes through the same sampling with FIT_ROWS as the cap
    monkeypatch.setattr(adask, "FIT_ROWS", 300)
    sizes = []
    sample = adask.fit_rows

    def recording(ddf, random_state, max_rows=None):
        rows = sample(ddf, random_state, max_rows)
        sizes.append(len(rows))
        return rows

    monkeypatch.setattr(adask, "fit_rows", recording)
    imp = Imputer(**FAST, random_state=0).fit(ddf)
    assert len(sizes) == 1 and 200 < sizes[0] < 400
    assert not imp.transform(ddf).compute().isna().any().any()


def test_dask_input_errors():
    df = make_mixed(80)
    ddf = dd.from_pandas(df, npartitions=2)
    imp = Imputer(**FAST, random_state=0).fit(df)
    with pytest.raises(ValueError, match=r"missing \['x'\]"):
        imp.transform(ddf.drop(columns="x"))
    with pytest.raises(TypeError, match="compute it first"):
        imp.encode(ddf)
    with pytest.raises(TypeError, match="compute it first"):
        imp.transform(ddf["x"])
    times = pd.DataFrame(
        {"v": np.sin(np.arange(60.0))}, index=pd.date_range("2024", periods=60, freq="h")
    )
    times.iloc[::6] = np.nan
    temporal = Imputer(**FAST, random_state=0, temporal=True).fit(times)
    with pytest.raises(ValueError, match="whole series"):
        temporal.transform(dd.from_pandas(times, npartitions=2))
    array_fit = Imputer(**FAST, random_state=0).fit(df[["x", "y"]].to_numpy())
    with pytest.raises(ValueError, match="fitted on an array"):
        array_fit.transform(ddf[["x", "y"]])


def test_large_tables_example_runs(tmp_path, capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "large_tables.py"
    spec = importlib.util.spec_from_file_location("large_tables_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    example.main(max_iter=10, rows=500)
    out = capsys.readouterr().out
    assert "Dask: 0 missing cells left" in out
    assert "command line, part-0: 0 missing cells left" in out
