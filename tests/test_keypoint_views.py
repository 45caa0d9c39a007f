"""Camera views side by side: join_views / split_views bookkeeping and a repair that uses them."""

from __future__ import annotations

import numpy as np
import pytest

from aeimpute import KeypointImputer
from aeimpute.keypoints import (
    PoseData,
    join_views,
    read_dlc,
    simulate_poses,
    split_views,
    write_dlc,
    write_pose,
)


def _views():
    xy = simulate_poses(n_frames=300, n_keypoints=3, random_state=0)
    top = PoseData(xy, np.full(xy.shape[:3], 0.9), ["nose", "ear", "tail"], ["mouse"], fps=30.0)
    side = PoseData(xy[:, :, :2] + [0, 300], None, ["nose", "ear"], ["mouse"])
    return top, side


def test_join_then_split_gives_every_view_back():
    top, side = _views()
    both = join_views([top, side], names=["top", "side"])
    assert both.keypoint_names == ["nose@top", "ear@top", "tail@top", "nose@side", "ear@side"]
    assert both.xy.shape == (300, 1, 5, 2) and both.fps == 30.0
    np.testing.assert_array_equal(both.confidence[:, :, 3:], 1.0)  # side had none: observed = 1
    back_top, back_side = split_views(both)
    np.testing.assert_array_equal(back_top.xy, top.xy)
    np.testing.assert_array_equal(back_side.xy, side.xy)
    np.testing.assert_array_equal(back_top.confidence, top.confidence)
    assert back_side.confidence is None and back_side.keypoint_names == ["nose", "ear"]
    assert back_top.fps == 30.0 and back_side.fps is None


def test_split_views_of_a_repair_carries_the_masks_and_file_formats(tmp_path):
    top, side = _views()
    write_dlc(top, tmp_path / "top.csv")
    top = read_dlc(tmp_path / "top.csv")
    top.xy[50:60, 0, 1] = np.nan
    imp = KeypointImputer(window=64, width=16, max_iter=20, random_state=0, n_jobs=1)
    repaired_top, repaired_side = split_views(imp.fit_transform(join_views([top, side])))
    assert repaired_top.imputed[50:60, 0, 1].all() and repaired_top.imputed.sum() == 10
    assert not repaired_side.imputed.any()
    assert np.isfinite(repaired_top.uncertainty[50:60, 0, 1]).all()
    assert np.isnan(repaired_side.uncertainty).all()
    write_pose(repaired_top, tmp_path / "top_repaired.csv")  # DeepLabCut again, as read
    lines_in = (tmp_path / "top.csv").read_text().splitlines()
    lines_out = (tmp_path / "top_repaired.csv").read_text().splitlines()
    assert lines_in[:3] == lines_out[:3] and lines_in[10] == lines_out[10]


def test_views_that_do_not_match_are_refused_by_name():
    top, side = _views()
    with pytest.raises(ValueError, match="at least two views"):
        join_views([top])
    short = PoseData(side.xy[:200], keypoint_names=["nose", "ear"])
    with pytest.raises(ValueError, match="view 'side' has 200 frames, view 'top' 300"):
        join_views([top, short], names=["top", "side"])
    two = PoseData(np.zeros((300, 2, 2, 2)))
    with pytest.raises(ValueError, match="individuals"):
        join_views([top, two])
    with pytest.raises(ValueError, match="one distinct name per view"):
        join_views([top, side], names=["a", "a"])
    with pytest.raises(TypeError, match="not a PoseData"):
        join_views([top, side.xy])
    with pytest.raises(ValueError, match="not made by join_views"):
        split_views(top)


def test_a_second_view_that_saw_the_point_helps_the_repair():
    xy = simulate_poses(n_frames=1500, n_keypoints=4, random_state=0)
    side = xy + [0, 300] + np.random.default_rng(0).normal(scale=0.3, size=xy.shape)
    top, hidden = xy.copy(), np.zeros(xy.shape[:3], bool)
    for start in range(100, 1400, 100):
        hidden[start : start + 30, 0, start // 100 % 4] = True
    top[hidden] = np.nan
    kw = {"window": 64, "width": 16, "max_iter": 200, "batch_size": 8, "random_state": 0,
          "n_jobs": 1}  # fmt: skip
    one = KeypointImputer(**kw).fit_transform(PoseData(top))
    joined = join_views([PoseData(top), PoseData(side)])
    both = split_views(KeypointImputer(**kw).fit_transform(joined))[0]

    def rmse(pose):
        return np.sqrt(np.mean(np.sum((pose.xy - xy)[hidden] ** 2, axis=-1)))

    assert rmse(both) < 0.9 * rmse(one)
