"""movement poses datasets (xarray) in and out of KeypointImputer."""

from __future__ import annotations

import numpy as np
import pytest

from aeimpute import KeypointImputer
from aeimpute.keypoints import PoseData, from_movement, simulate_poses, to_movement

xr = pytest.importorskip("xarray")

FAST = {"window": 32, "width": 16, "max_iter": 15, "batch_size": 8, "random_state": 0, "n_jobs": 1}
NAMES = ["nose", "ear", "tail", "paw"]


def _dataset(n: int = 200, seed: int = 0, order=("time", "space", "keypoints", "individuals")):
    """A movement-style dataset at 50 fps with a likelihood and an extra variable."""
    xy = simulate_poses(n_frames=n, n_keypoints=4, n_individuals=2, random_state=seed)
    conf = np.full(xy.shape[:3], 0.95)
    conf[60:70, 0, 1] = 0.3  # the tracker was unsure of one ear
    position = xr.DataArray(np.transpose(xy, (0, 3, 2, 1)),
                            dims=("time", "space", "keypoints", "individuals"))  # fmt: skip
    ds = xr.Dataset(
        {"position": position.transpose(*order),
         "confidence": (("time", "keypoints", "individuals"), np.transpose(conf, (0, 2, 1))),
         "speed": (("time",), np.arange(n, dtype=float))},
        coords={"time": np.arange(n) / 50.0, "space": ["x", "y"], "keypoints": NAMES,
                "individuals": ["m1", "m2"]},
        attrs={"ds_type": "poses", "fps": 50.0, "source_software": "DeepLabCut"},
    )  # fmt: skip
    return ds, xy


def test_a_dataset_round_trips_through_posedata():
    ds, xy = _dataset()
    pose = from_movement(ds)
    np.testing.assert_array_equal(pose.xy, xy)
    assert pose.keypoint_names == NAMES and pose.individual_names == ["m1", "m2"]
    assert pose.fps == 50.0 and pose.confidence[65, 0, 1] == 0.3
    back = to_movement(pose)
    xr.testing.assert_identical(back, ds)  # nothing added: no imputed mask, no error bars
    fresh = to_movement(PoseData(xy, keypoint_names=NAMES, fps=25.0))
    assert fresh.attrs["time_unit"] == "seconds"
    np.testing.assert_allclose(fresh.time.to_numpy()[:3], [0.0, 0.04, 0.08])


@pytest.mark.parametrize("order", [("time", "space", "keypoints", "individuals"),
                                   ("time", "individuals", "keypoints", "space")])  # fmt: skip
def test_filter_repair_then_kinematics_like_a_movement_pipeline(order):
    ds, xy = _dataset(order=order)
    # movement.filtering.filter_by_confidence: positions under the threshold become NaN
    filtered = ds.copy()
    filtered["position"] = ds.position.where(ds.confidence >= 0.9)
    repaired = KeypointImputer(**FAST).fit_transform(filtered)
    assert repaired.position.dims == order
    assert repaired.attrs == ds.attrs and "speed" in repaired
    xr.testing.assert_identical(repaired.time, ds.time)
    ear = repaired.position.sel(keypoints="ear", individuals="m1")
    assert bool(np.isfinite(ear).all())
    kept = ds.confidence >= 0.9
    np.testing.assert_array_equal(
        repaired.position.where(kept).to_numpy(), ds.position.where(kept).to_numpy()
    )
    assert int(repaired.imputed.sum()) == 10
    assert bool(repaired.imputed.sel(keypoints="ear", individuals="m1", time=slice(1.2, 1.38))
                .all())  # fmt: skip
    bars = repaired.uncertainty.where(repaired.imputed)
    assert bool((bars.where(repaired.imputed, 1.0) > 0).all())
    # movement.kinematics.compute_velocity: the time derivative, now defined everywhere
    velocity = repaired.position.differentiate("time")
    assert bool(np.isfinite(velocity).all())
    # the repaired ear is near the truth (the tracker's positions there were not used)
    truth = xy[60:70, 0, 1]
    got = ear.transpose("time", "space").to_numpy()[60:70]
    assert np.sqrt(np.mean(np.sum((got - truth) ** 2, axis=-1))) < 5.0


def test_fit_takes_a_list_of_datasets():
    a, _ = _dataset(seed=0)
    b, _ = _dataset(seed=1)
    imp = KeypointImputer(**FAST).fit([a, b])
    assert imp.n_recordings_ == 2 and imp.keypoint_names_ == NAMES


def test_datasets_that_are_not_2d_poses_are_refused_by_name():
    ds, _ = _dataset()
    with pytest.raises(ValueError, match=r"missing \['individuals'\]"):
        from_movement(ds.isel(individuals=0, drop=True))
    three = xr.Dataset(
        {"position": (("time", "space", "keypoints", "individuals"), np.zeros((5, 3, 2, 1)))},
        coords={"space": ["x", "y", "z"]},
    )
    with pytest.raises(ValueError, match="3-D"):
        from_movement(three)
    with pytest.raises(ValueError, match="with 'position'"):
        from_movement(xr.Dataset({"speed": (("time",), np.zeros(3))}))


def test_with_movement_itself_when_installed():
    movement = pytest.importorskip("movement")
    from movement.filtering import filter_by_confidence
    from movement.kinematics import compute_velocity

    ds, _ = _dataset()
    ds["position"] = filter_by_confidence(ds.position, ds.confidence, threshold=0.9)
    repaired = KeypointImputer(**FAST).fit_transform(ds)
    assert bool(np.isfinite(compute_velocity(repaired.position)).all()), movement.__name__
