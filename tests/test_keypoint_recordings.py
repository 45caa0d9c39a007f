"""KeypointImputer on several recordings: fit on a list, repair recordings it never saw."""

from __future__ import annotations

import numpy as np
import pytest

from aeimpute import KeypointImputer
from aeimpute.keypoints import PoseData, simulate_poses, write_dlc
from aeimpute.keypoints.imputer import _stack_recordings

FAST = {"window": 32, "max_iter": 20, "n_jobs": 1, "random_state": 0}


def _recording(frames: int, seed: int, individuals: int = 1) -> np.ndarray:
    return simulate_poses(
        n_frames=frames, n_keypoints=4, n_individuals=individuals, random_state=seed
    )


def test_recordings_become_separate_padded_series():
    a, b = _recording(50, 0), _recording(80, 1, individuals=2)
    xy, observed = _stack_recordings([(a, np.isfinite(a).all(-1)), (b, np.isfinite(b).all(-1))])
    assert xy.shape == (80, 3, 4, 2)
    np.testing.assert_array_equal(xy[:50, 0], a[:, 0])
    np.testing.assert_array_equal(xy[:, 1:], b)
    # frames after the end of the shorter recording are missing, never another recording's
    assert not observed[50:, 0].any() and np.isnan(xy[50:, 0]).all()
    assert observed[:50, 0].all() and observed[:, 1:].all()


def test_fit_on_a_list_then_repair_a_recording_never_seen(tmp_path):
    recs = [_recording(120, 0), _recording(90, 1)[:, 0]]  # 4-D and 3-D arrays mixed
    new = _recording(100, 2)
    new[40:50, 0, 1] = np.nan
    imp = KeypointImputer(**FAST).fit(recs)
    assert imp.n_recordings_ == 2
    out = imp.transform(new)
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[:40], new[:40])
    # a list in gives a list out, recording by recording
    both = imp.transform([new, new[:, 0]])
    np.testing.assert_array_equal(both[0], out)
    np.testing.assert_array_equal(both[1], out[:, 0])
    # saved and loaded, it remembers how many recordings it learned from
    imp.save(tmp_path / "m.aeimpute")
    assert KeypointImputer.load(tmp_path / "m.aeimpute").n_recordings_ == 2


def test_fit_reads_a_list_of_pose_files(tmp_path):
    names = ["nose", "neck", "hip", "tail"]
    paths = []
    for i in range(2):
        pose = PoseData(_recording(80, i), keypoint_names=names)
        path = tmp_path / f"rec{i}.csv"
        write_dlc(pose, path)
        paths.append(path)
    imp = KeypointImputer(**FAST).fit(paths)
    assert imp.keypoint_names_ == names and imp.n_recordings_ == 2


def test_recordings_must_share_their_keypoints():
    with pytest.raises(ValueError, match="recording 1 has 3 keypoints"):
        KeypointImputer(**FAST).fit([_recording(60, 0), _recording(60, 1)[:, :, :3]])
    a = PoseData(_recording(60, 0), keypoint_names=["a", "b", "c", "d"])
    b = PoseData(_recording(60, 1), keypoint_names=["a", "b", "c", "x"])
    with pytest.raises(ValueError, match="recording 1 names its keypoints"):
        KeypointImputer(**FAST).fit([a, b])


def test_a_list_of_recordings_needs_a_matching_list_of_confidences():
    recs = [_recording(60, 0), _recording(60, 1)]
    with pytest.raises(ValueError, match="one entry per recording"):
        KeypointImputer(**FAST).fit(recs, confidence=np.ones((60, 1, 4)))
    with pytest.raises(ValueError, match="empty list"):
        KeypointImputer(**FAST).fit([])
