"""The unseen-recordings keypoint benchmark: parts, per-gap errors, ratios to linear, report."""

import numpy as np
import pandas as pd
import pytest
from conftest import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("keypoint_recordings.py")


def test_parts_are_disjoint_runs_of_frames(bench):
    from aeimpute.keypoints import PoseData

    xy = np.arange(10 * 1 * 2 * 2, dtype=float).reshape(10, 1, 2, 2)
    parts = bench.parts(PoseData(xy), np.ones((10, 1, 2), bool), 3)
    np.testing.assert_array_equal(np.concatenate([p.xy for p, _ in parts]), xy)
    assert [len(p.xy) for p, _ in parts] == [3, 3, 4]


def test_per_gap_errors_and_ratios_to_linear(bench):
    gaps = pd.DataFrame(
        {"gap": [0, 1], "length": [3, 3], "kind": ["single"] * 2, "individual": [0, 0],
         "start": [1, 5], "keypoints": [(0,), (1,)]}
    )  # fmt: skip
    dist = np.zeros((10, 1, 2))
    dist[1:4, 0, 0] = 3.0  # gap 0: 3 px at each point
    dist[5:8, 0, 1] = 4.0  # gap 1: 4 px
    table = bench.per_gap(dist, gaps)
    assert table.gap_px.tolist() == [3.0, 4.0]
    rows = [table.assign(setup="s", part=0, method="linear", fit_s=np.nan),
            table.assign(setup="s", part=0, method=bench.OWN, gap_px=table.gap_px / 2,
                         fit_s=1.0)]  # fmt: skip
    summary = bench.summarise(pd.concat(rows, ignore_index=True))
    own = summary[summary.method == bench.OWN].iloc[0]
    assert own.rmse_ratio == pytest.approx(0.5) and own.p95_ratio == pytest.approx(0.5)
    assert own.rmse == pytest.approx(np.sqrt((1.5**2 + 2**2) / 2))
    report = bench.tables(summary)
    assert "| s 1 |" in report and "0.50 (0.50)" in report
    # over all gap draws, against linear interpolation of those draws (not of the first)
    rows += [table.assign(setup="s", part=0, method="linear" + bench.ALL_DRAWS,
                          gap_px=table.gap_px * 4, fit_s=np.nan),
             table.assign(setup="s", part=0, method=bench.MORE_DRAWS, fit_s=np.nan)]  # fmt: skip
    summary = bench.summarise(pd.concat(rows, ignore_index=True))
    drawn = summary[summary.method == bench.MORE_DRAWS].iloc[0]
    assert drawn.rmse_ratio == pytest.approx(0.25)
    assert summary[summary.method == bench.OWN].iloc[0].rmse_ratio == pytest.approx(0.5)
    assert "0.25 (0.25)" in bench.tables(summary)


def test_coverage_counts_points_inside_their_error_bars(bench):
    gaps = pd.DataFrame(
        {"gap": [0, 1], "length": [3, 3], "kind": ["single"] * 2, "individual": [0, 0],
         "start": [0, 5], "keypoints": [(0,), (1,)]}
    )  # fmt: skip
    dist = np.zeros((10, 1, 2))
    dist[0:3, 0, 0] = [1.0, 2.0, 3.0]
    dist[5:8, 0, 1] = 1.0
    radius = np.full((10, 1, 2), 2.5)
    table = bench.per_gap(dist, gaps, radius)
    assert table.covered.tolist() == [2.0, 3.0]
    assert bench.per_gap(dist, gaps).covered.isna().all()  # methods without error bars
    rows = [bench.per_gap(dist, gaps).assign(setup="s", part=0, method="linear", fit_s=np.nan),
            table.assign(setup="s", part=0, method=bench.OWN, fit_s=1.0)]  # fmt: skip
    summary = bench.summarise(pd.concat(rows, ignore_index=True))
    own = summary[summary.method == bench.OWN].iloc[0]
    assert own.coverage == pytest.approx(5 / 6)
    assert np.isnan(summary[summary.method == "linear"].coverage.iloc[0])
    report = bench.coverage_table(summary)
    assert "| s 1 | own | – | 0.83 | – |" in report
    assert "other recordings" not in report  # no such fit in these rows
    assert "| **all points** | own | – | **0.83** |" in report


def test_views_benchmark_ratios_and_report():
    views = load_benchmark("keypoint_views.py")
    rows = []
    for method, err, covered in (("linear", 4.0, np.nan), (views.ONE, 2.0, 9.0),
                                 (views.BOTH, 1.0, 10.0)):  # fmt: skip
        rows.append({"part": 0, "view": "top", "method": method, "length": 30, "points": 10,
                     "sq": 10 * err**2, "covered": covered, "fit_s": 1.0})  # fmt: skip
    summary = views.summarise(pd.DataFrame(rows))
    first = summary.iloc[0]
    assert first.both_to_one == pytest.approx(0.5) and first.one_to_linear == pytest.approx(0.5)
    text = views.report(summary)
    assert "| 1 | top | 30 | 4.0 | 2.0 | 1.0 | **0.50** | 0.50 | 0.25 | 0.90 / 1.00 |" in text
    assert "30 frames mean 0.50, worst 0.50" in text


def test_cameras_benchmark_scores_what_the_cameras_filled():
    cams = load_benchmark("keypoint_cameras.py")
    rows = [
        {"view": "top", "draw": 0, "method": "linear", "length": 10, "points": 10,
         "sq": 10 * 4.0**2, "gap_px": 4.0, "by_cameras": 0, "inside": 0},
        {"view": "top", "draw": 0, "method": cams.GUARDED, "length": 10, "points": 10,
         "sq": 10 * 2.0**2, "gap_px": 2.0, "by_cameras": 5, "inside": 4},
    ]  # fmt: skip
    summary = cams.summarise(pd.DataFrame(rows))
    guarded = summary[summary.method == cams.GUARDED].iloc[0]
    assert guarded.to_linear == pytest.approx(0.5) and guarded.by_cameras == pytest.approx(0.5)
    assert guarded.coverage == pytest.approx(0.8)
    assert np.isnan(summary[summary.method == "linear"].coverage.iloc[0])
    text = cams.report(summary)
    assert f"| top | 10 | {cams.GUARDED} | 10 | 0.50 | 2.0 | 2.0 | 2.0 | 0.50 | 0.80 |" in text
    assert "| top | 10 | linear | 10 | 0.00 | 4.0 | 4.0 | 4.0 | 1.00 | – |" in text


def test_ablation_benchmark_variants_and_summary():
    bench = load_benchmark("keypoint_recordings.py")
    ablation = load_benchmark("keypoint_ablation.py")
    assert ablation.params_of(ablation.VARIANTS["twice the steps"], 1500) == {"max_iter": 3000}
    # an averaged variant fits the variants it averages, and only those
    assert ablation.fitted_variants([ablation.WINDOWS]) == ["default", "window=64"]
    assert ablation.fitted_variants([ablation.ENSEMBLE, "width=128"]) == ["default", "width=128"]
    assert ablation.params_of(ablation.VARIANTS["width=128"], 100) == {
        "width": 128,
        "max_iter": 100,
    }
    gaps = pd.DataFrame(
        {"gap": [0], "length": [10], "kind": ["single"], "individual": [0], "start": [1],
         "keypoints": [(0,)]}
    )  # fmt: skip
    dist = np.zeros((20, 1, 1))
    dist[1:11, 0, 0] = 4.0
    table = bench.per_gap(dist, gaps)
    rows = []
    for setup, own_px in (("a", 2.0), ("b", 3.0)):  # ratios 0.5 and 0.75 to linear
        for method, px, fit_s in (("linear", 4.0, np.nan), ("default", own_px, 10.0)):
            rows.append(table.assign(setup=setup, part=0, method=method + bench.ALL_DRAWS,
                                     gap_px=px, fit_s=fit_s))  # fmt: skip
    results = pd.concat(rows, ignore_index=True)
    report = ablation.summary_table(bench.summarise(results), results)
    assert "| default | – | – | 0.62 / 0.75 | – | – | – | 10 |" in report


def test_attention_probe_network_sees_its_neighbour_blocks_only():
    import torch

    probe = load_benchmark("keypoint_attention_probe.py")
    torch.manual_seed(0)
    net = probe.attentive_network({"n_keypoints": 3, "width": 8, "n_blocks": 2})
    x = torch.randn(1, 200, net.inp.in_features)
    assert torch.equal(net(x), torch.zeros(1, 200, 6))  # zero output layer: no correction
    torch.nn.init.normal_(net.out.weight)
    base = net(x)
    near, far = x.clone(), x.clone()
    near[0, 2 * probe.BLOCK - 1] += 1.0  # in the block after frame 0's
    far[0, 199] += 1.0  # beyond the 3 blocks and the convolutions' reach of frame 0
    assert not torch.allclose(net(near)[0, 0], base[0, 0])
    assert torch.equal(net(far)[0, 0], base[0, 0])
    assert torch.isfinite(net(x[:, :77])).all()  # not a multiple of the block: padded
