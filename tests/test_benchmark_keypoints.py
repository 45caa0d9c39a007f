"""Smoke test of the keypoint benchmark script: it damages, repairs, scores, reports and plots."""

import numpy as np
import pytest
from conftest import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("keypoints.py")


def test_gap_counts_respect_the_hidden_share(bench):
    small = np.ones((2000, 1, 8), dtype=bool)
    counts = bench.gap_counts(small, 40)
    hidden = sum(c * n * 4 for c, n in zip(counts, bench.LENGTHS, strict=True))
    assert hidden <= bench.MAX_HIDDEN * small.sum()
    assert counts[0] > counts[-1] >= 1  # more short gaps than long ones


def test_benchmark_runs_and_reports(bench, tmp_path, monkeypatch):
    from aeimpute.keypoints import PoseData, simulate_poses

    xy = simulate_poses(n_frames=600, n_keypoints=5, random_state=0)
    monkeypatch.setattr(bench, "load", lambda name: (PoseData(xy), np.ones(xy.shape[:-1], bool)))
    monkeypatch.setattr(bench, "_aeimpute", lambda steps: _small_imputer())
    results, keep = bench.run(["tiny"], [0], None, 3)
    assert set(results["method"]) == set(bench.methods(None))
    assert (results["rmse_px"] >= 0).all() and results["pck"].between(0, 1).all()
    text = bench.tables(results)
    assert "KeypointImputer / linear" in text and "**tiny**" in text
    bench.plot(keep, results, tmp_path / "t.png")
    assert (tmp_path / "t.png").stat().st_size > 1000


def _small_imputer():
    from aeimpute import KeypointImputer

    def run(pose, seed):
        imp = KeypointImputer(window=32, width=8, max_iter=5, random_state=seed)
        out = imp.fit_transform(pose)
        run.history = imp.history_
        return out.xy

    return run
