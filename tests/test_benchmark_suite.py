"""Smoke test of the benchmark script: it runs, scores, reports and plots."""

import numpy as np
import pytest
from conftest import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("tabular.py")


def test_suite_runs_and_reports(bench, tmp_path):
    data = bench.load_datasets(["wine"], [])
    data["wine"] = data["wine"].iloc[:80]
    results = bench.run(
        data, ["mcar20", "mnar20"], [0, 1], ["mean", "low-rank", "KNN"], log=lambda s: None
    )
    assert len(results) == 2 * 2 * 3
    assert results.rmse.between(0, 1).all() and (results.seconds >= 0).all()
    text = bench.report(results, [0, 1], "header")
    assert "20% MCAR" in text and "20% MNAR" in text and "±" in text
    # the best mean in a row is bold
    means = results[results.setting == "mcar20"].groupby("method").rmse.mean()
    assert f"**{means.min():.4f} ±" in bench.summary_table(results, "mcar20")
    bench.plot(results, tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_ratio_and_readme_update(bench, tmp_path):
    import pandas as pd

    res = pd.DataFrame(
        {
            "dataset": ["d"] * 3,
            "setting": ["mcar20"] * 3,
            "seed": [0] * 3,
            "method": ["mean", "MICE", "aeimpute"],
            "rmse": [0.3, 0.1, 0.12],
            "mae": [0.2, 0.1, 0.1],
            "seconds": [0.0, 1.0, 2.0],
        }
    )
    r = bench.ratios(res)
    assert r.loc[0, "best other"] == "MICE" and np.isclose(r.loc[0, "ratio"], 1.2)
    assert bench.ratios(res[res.method == "aeimpute"]).empty  # nothing to compare with
    readme = tmp_path / "README.md"
    readme.write_text("a\n<!-- benchmark:start -->\nold\n<!-- benchmark:end -->\nb\n")
    bench.update_readme("new table", readme)
    assert (
        readme.read_text() == "a\n<!-- benchmark:start -->\nnew table\n<!-- benchmark:end -->\nb\n"
    )


def test_user_data_file(bench, tmp_path):
    import pandas as pd

    path = tmp_path / "mine.csv"
    pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [1.0, None, 2.0], "t": ["x", "y", "z"]}).to_csv(
        path, index=False
    )
    data = bench.load_datasets([], [path])
    # complete numeric rows only; the text column is dropped
    assert list(data) == ["mine"] and data["mine"].shape == (2, 2)
    with pytest.raises(SystemExit, match="unknown dataset"):
        bench.load_datasets(["nope"], [])


def test_step_time_table(tmp_path):
    mod = load_benchmark("step_time.py")
    assert mod.step_ms(8, 16, 1, bfloat16=True, steps=2, batch=32) > 0
    mod.SHAPES = [(8, 16, 0), (8, 16, 1)]
    out = tmp_path / "steps.md"
    assert mod.main(["--steps", "2", "--batch", "32", "--out", str(out)]) == 0
    rows = [line for line in out.read_text().splitlines() if line.startswith("| 8 |")]
    assert len(rows) == 2
    assert all(float(r.split("|")[-2].strip().rstrip("x")) > 0 for r in rows)
