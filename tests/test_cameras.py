"""Calibrated cameras: reading Anipose calibrations, triangulation, filling one view from others."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aeimpute.keypoints import Camera, CameraGroup, PoseData, fill_from_cameras
from aeimpute.keypoints.cameras import reprojections

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "keypoints"
EYE = np.array([[800.0, 0, 320], [0, 800.0, 240], [0, 0, 1]])
DISTORTED = np.array([-0.2, 0.05, 0.001, -0.002, 0.0])


def _ring(distortions=DISTORTED) -> CameraGroup:
    """Three cameras 10 units from the origin, looking at it from different sides."""
    cams = []
    for i, angle in enumerate((-0.4, 0.0, 0.4)):
        cams.append(Camera(f"cam{i}", EYE, distortions, np.array([0.0, angle, 0.0]),
                           np.array([0.2 * i, -0.1, 10.0])))  # fmt: skip
    return CameraGroup(tuple(cams))


def _walk(n_frames=200, n_keypoints=3, seed=0) -> np.ndarray:
    """World points (frames, 1, keypoints, 3) moving smoothly."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames)[:, None, None, None]
    base = rng.normal(scale=0.5, size=(1, 1, n_keypoints, 3))
    return base + 0.8 * np.sin(t / 15 + np.arange(3)) * np.array([1.0, 0.6, 0.3])


def _toml(path: Path, group: CameraGroup) -> Path:
    lines = []
    for i, c in enumerate(group.cameras):
        lines += [f"[cam_{i}]", f'name = "{c.name}"', "size = [640, 480]",
                  f"matrix = {c.matrix.tolist()}", f"distortions = {c.distortions.tolist()}",
                  f"rotation = {c.rotation.tolist()}",
                  f"translation = {c.translation.tolist()}", ""]  # fmt: skip
    path.write_text("\n".join(lines + ["[metadata]"]))
    return path


def test_undistort_inverts_the_distortion_of_project():
    cam = _ring().cameras[0]
    world = _walk().reshape(-1, 3)
    cam_xyz = world @ cam.rotation_matrix().T + cam.translation
    flat = cam_xyz[:, :2] / cam_xyz[:, 2:]
    np.testing.assert_allclose(cam.undistort(cam.project(world)), flat, atol=1e-9)


def test_triangulation_recovers_world_points_and_needs_two_views():
    group = _ring()
    world = _walk()
    pixels = group.project(world)
    np.testing.assert_allclose(group.triangulate(pixels), world, atol=1e-6)
    pixels[1:, 5, 0, 2] = np.nan  # only camera 0 saw it
    pixels[2, 6, 0, 1] = np.nan  # two cameras still saw this one
    out = group.triangulate(pixels)
    assert np.isnan(out[5, 0, 2]).all()
    np.testing.assert_allclose(out[6, 0, 1], world[6, 0, 1], atol=1e-6)


def test_calibration_file_round_trip_and_errors(tmp_path):
    group = _ring()
    read = CameraGroup.from_toml(_toml(tmp_path / "calibration.toml", group))
    assert read.names == ["cam0", "cam1", "cam2"]
    assert read.cameras[0].size == (640, 480)
    world = _walk()
    np.testing.assert_allclose(read.project(world), group.project(world))
    assert read.subset(["cam2", "cam0"]).names == ["cam2", "cam0"]
    with pytest.raises(ValueError, match=r"camera\(s\) \['cam9'\] are not in the calibration"):
        read.subset(["cam9"])
    with pytest.raises(FileNotFoundError, match="no calibration file"):
        CameraGroup.from_toml(tmp_path / "missing.toml")
    (tmp_path / "empty.toml").write_text("[metadata]\n")
    with pytest.raises(ValueError, match=r"no \[cam_N\] tables"):
        CameraGroup.from_toml(tmp_path / "empty.toml")
    (tmp_path / "bad.toml").write_text('[cam_0]\nname = "a"\nmatrix = [[1, 0, 0]]\n')
    with pytest.raises(ValueError, match=r"\[cam_0\] lacks rotation, translation"):
        CameraGroup.from_toml(tmp_path / "bad.toml")
    (tmp_path / "text.toml").write_text("this is = = not toml")
    with pytest.raises(ValueError, match="is not a TOML file"):
        CameraGroup.from_toml(tmp_path / "text.toml")


def _views(group: CameraGroup, world: np.ndarray, noise: float = 0.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    shape = (*world.shape[:3], 2)
    pixels = group.project(world)
    names = ["a", "b", "c"]
    return [PoseData(p + rng.normal(scale=noise, size=shape), keypoint_names=names)
            for p in pixels]  # fmt: skip


def test_fill_puts_the_exact_point_where_the_calibration_is_exact():
    group, world = _ring(), _walk()
    views = _views(group, world)
    truth = [v.xy.copy() for v in views]
    views[0].xy[50:60, 0, 1] = np.nan  # a 10-frame gap in camera 0
    views[1].xy[70, 0, 2] = np.nan
    views[2].xy[70, 0, 2] = np.nan  # frame 70, keypoint 2: only camera 0 saw it
    before = [v.xy.copy() for v in views]
    for anchor in (True, False):
        out = fill_from_cameras(views, group, anchor=anchor, guard=False)
        np.testing.assert_allclose(out[0].xy[50:60, 0, 1], truth[0][50:60, 0, 1], atol=1e-6)
        assert out[0].imputed[50:60, 0, 1].all() and out[0].imputed.sum() == 10
        assert np.isnan(out[1].xy[70, 0, 2]).all() and not out[1].imputed[70, 0, 2]
        seen = np.isfinite(before[0]).all(-1)
        np.testing.assert_array_equal(out[0].xy[seen], before[0][seen])  # observed untouched
        assert np.isfinite(out[0].uncertainty[50:60, 0, 1]).all()
        assert np.isnan(out[0].uncertainty[~out[0].imputed]).all()
    for v, b in zip(views, before, strict=True):  # inputs not changed
        np.testing.assert_array_equal(v.xy, b)
        assert v.imputed is None


def test_anchoring_removes_a_calibration_bias_the_plain_reprojection_keeps():
    world = _walk(n_frames=300)
    true_group = _ring()
    views = _views(true_group, world, noise=0.3)
    # the calibration the user has is off: camera 0 moved a little
    cams = list(true_group.cameras)
    cams[0] = Camera("cam0", EYE, DISTORTED, cams[0].rotation + [0.0, 0.01, 0.0],
                     cams[0].translation + [0.05, 0.0, 0.0])  # fmt: skip
    biased = CameraGroup(tuple(cams))
    truth = views[0].xy.copy()
    gaps = [(s, k) for s, k in zip(range(20, 280, 40), [0, 1, 2] * 3, strict=False)]
    for s, k in gaps:
        views[0].xy[s : s + 10, 0, k] = np.nan
    err = {}
    for anchor in (True, False):
        out = fill_from_cameras(views, biased, anchor=anchor, guard=False, random_state=1)[0]
        hidden = out.imputed
        d = np.linalg.norm(out.xy - truth, axis=-1)[hidden]
        err[anchor] = np.sqrt(np.mean(d**2))
        assert np.mean(d <= out.uncertainty[hidden]) >= 0.7  # the error bars are not made up
    assert err[False] > 3.0  # the bias is there
    assert err[True] < 0.5 * err[False]


def test_fill_checks_its_input():
    group, world = _ring(), _walk(n_frames=30)
    views = _views(group, world)
    with pytest.raises(ValueError, match="at least two views"):
        fill_from_cameras(views[:1], group, names=["cam0"])
    with pytest.raises(ValueError, match="2 views but the calibration has 3 cameras"):
        fill_from_cameras(views[:2], group)
    with pytest.raises(ValueError, match="names has 1 entries for 2 views"):
        fill_from_cameras(views[:2], group, names=["cam0"])
    short = PoseData(views[1].xy[:20], keypoint_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="view 1 does not match view 0"):
        fill_from_cameras([views[0], short], group, names=["cam0", "cam1"])
    assert len(fill_from_cameras(views[:2], group, names=["cam0", "cam1"])) == 2


def test_max_error_leaves_points_of_a_camera_the_calibration_does_not_fit():
    group, world = _ring(), _walk()
    views = _views(group, world)
    cams = list(group.cameras)
    cams[2] = Camera("cam2", EYE, DISTORTED, cams[2].rotation + [0.0, 0.2, 0.0],
                     cams[2].translation)  # a wrong entry  # fmt: skip
    wrong = CameraGroup(tuple(cams))
    views[2].xy[40:50, 0, 0] = np.nan
    out = fill_from_cameras(views, wrong, max_error=5.0, anchor=False, guard=False)
    assert not out[2].imputed.any() and np.isnan(out[2].xy[40:50, 0, 0]).all()
    assert fill_from_cameras(views, wrong, anchor=False, guard=False)[2].imputed[40:50, 0, 0].all()


def test_the_guard_keeps_the_fill_where_it_beats_the_straight_line_and_only_there():
    group = _ring()
    rng = np.random.default_rng(3)
    jumpy = rng.normal(scale=0.5, size=(300, 1, 3, 3))  # every frame somewhere else
    still = _walk(n_frames=300) * 0.01  # hardly moves
    cams = list(group.cameras)
    cams[0] = Camera("cam0", EYE, DISTORTED, cams[0].rotation + [0.0, 0.01, 0.0],
                     cams[0].translation)  # a calibration a little off  # fmt: skip
    biased = CameraGroup(tuple(cams))
    for world, filled in ((jumpy, True), (still, False)):
        views = _views(group, world, noise=0.2)
        views[0].xy[100:110, 0, 1] = np.nan
        views[0].xy[:, 0, 2] = np.nan  # never seen by camera 0: no line to fall back on
        out = fill_from_cameras(views, biased)[0]
        assert out.imputed[100:110, 0, 1].all() == filled
        assert not out.imputed[100:110, 0, 1].any() or filled
        assert out.imputed[:, 0, 2].all()
        unguarded = fill_from_cameras(views, biased, guard=False)[0]
        assert unguarded.imputed[100:110, 0, 1].all()


@pytest.mark.skipif(not (SHARED / "sleap_mouse_4view" / "calibration.toml").exists(),
                    reason="the shared four-camera set is not here")  # fmt: skip
def test_the_shared_four_camera_calibration_places_points_where_the_views_saw_them():
    group = CameraGroup.from_toml(SHARED / "sleap_mouse_4view" / "calibration.toml")
    assert group.names == ["back", "mid", "side", "top"]
    pixels = {n: np.load(SHARED / f"sleap_mouse_4view_{n}.npz")["xy"] for n in group.names}
    good = group.subset(["back", "mid", "top"])
    top = reprojections(good, np.stack([pixels[n] for n in good.names]), 2)
    err = np.linalg.norm(top - pixels["top"], axis=-1)
    assert np.nanmedian(err) < 15  # SOURCES.md: about 8 px from back + mid
    # the side entry is a copy of top's: the others place its points far off
    side = reprojections(group.subset(["back", "mid", "side"]),
                         np.stack([pixels[n] for n in ("back", "mid", "side")]), 2)  # fmt: skip
    assert np.nanmedian(np.linalg.norm(side - pixels["side"], axis=-1)) > 50
