"""Smoke test of benchmarks/scale.py: children measure, the budget stops, the report is written."""

import pandas as pd
from conftest import load_benchmark


def test_scale_benchmark_reports_time_memory_and_stops_at_the_budget(tmp_path):
    bench = load_benchmark("scale.py")
    assert bench.measure(["impute", "KNNImputer", "300", "4", "1", "0"], budget=0.01) is None
    argv = ["--rows", "300", "--cols", "4", "--memory-cols", "4", "--fit-rows", "400"]
    argv += ["--speed-rows", "1000", "--max-iter", "10", "--threads", "1"]
    assert bench.main([*argv, "--out", str(tmp_path)]) == 0
    rows = pd.read_csv(tmp_path / "scale.csv")
    assert set(rows["method"]) == {
        "aeimpute, in memory",
        "KNNImputer, in memory",
        "IterativeImputer, in memory",
        "aeimpute fit, Parquet file",
        "aeimpute transform, Parquet stream",
    }
    assert (rows["seconds"] > 0).all() and (rows["rss_mb"] > 50).all()
    text = (tmp_path / "scale.md").read_text()
    assert "| aeimpute transform, Parquet stream | 300 |" in text
    assert "`Imputer().fit` on 400 x 4" in text
    assert (tmp_path / "scale.png").stat().st_size > 1000
