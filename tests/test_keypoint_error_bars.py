"""Error bars on repaired keypoints: the radius table, its power law, and what transform returns."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aeimpute import KeypointImputer
from aeimpute.keypoints import PoseData, simulate_poses
from aeimpute.keypoints import error_bars as km
from aeimpute.simulate import keypoint_gaps

FAST = {"window": 64, "width": 16, "max_iter": 60, "batch_size": 8, "random_state": 0, "n_jobs": 1}


def _planted(n: int, power: float, sigmas: list[float], seed: int = 0):
    """Errors whose 2-D spread is sigma_k * length ** (power / 2), lengths 1..40."""
    rng = np.random.default_rng(seed)
    length = torch.as_tensor(rng.integers(1, 41, size=n))
    keypoint = torch.as_tensor(rng.integers(0, len(sigmas), size=n))
    sigma = torch.as_tensor(sigmas, dtype=torch.float64)[keypoint] * length.double() ** (power / 2)
    err = sigma * torch.as_tensor(np.linalg.norm(rng.normal(size=(n, 2)), axis=1))
    edges = torch.as_tensor(km.RADIUS_EDGES)
    group = (torch.bucketize(length, edges, right=True) - 1).clamp(0, len(km.RADIUS_EDGES) - 1)
    position = torch.zeros(n, dtype=torch.long)
    return err, group, keypoint, position, length


def test_length_power_recovers_a_planted_power_law():
    for power in (0.5, 1.0, 2.0):
        err, *_, length = _planted(40_000, power, [1.0])
        assert km.length_power(err, length) == pytest.approx(power, abs=0.1)


def test_error_radius_holds_ninety_percent_per_keypoint_and_length():
    err, group, keypoint, position, length = _planted(60_000, 1.0, [1.0, 4.0])
    radius, power = km.error_radius(err, group, keypoint, position, length, n_keypoints=2)
    assert power == pytest.approx(1.0, abs=0.1)
    shortest = torch.as_tensor(km.RADIUS_EDGES)[group]
    r = radius[group, keypoint, position].double() * km.stretch(length, group, power)
    inside = (err <= r).numpy()
    for k in (0, 1):  # the wide keypoint's radii are its own, not the pooled ones
        for lo, hi in ((1, 3), (8, 11), (23, 32)):
            sel = ((keypoint == k) & (length >= lo) & (length < hi)).numpy()
            assert 0.86 <= inside[sel].mean() <= 0.94, (k, lo, inside[sel].mean())
    # a Rayleigh's 90% quantile is 2.146 sigma: the radius at a group's shortest length
    assert float(radius[0, 1, 0]) == pytest.approx(4.0 * 2.146, rel=0.1)
    assert torch.all(shortest >= 1)


def test_error_radius_leaves_groups_without_points_nan():
    err, group, keypoint, position, length = _planted(5_000, 1.0, [1.0])
    keep = length < 20
    radius, _ = km.error_radius(err[keep], group[keep], keypoint[keep], position[keep],
                                length[keep], n_keypoints=1)  # fmt: skip
    assert torch.isfinite(radius[:7]).all() and torch.isnan(radius[-1]).all()


@pytest.fixture(scope="module")
def fitted():
    train = PoseData(simulate_poses(n_frames=1200, n_keypoints=5, random_state=1))
    return KeypointImputer(**FAST).fit(train)


def _damaged(seed: int, noise: float = 0.0):
    xy = simulate_poses(n_frames=1200, n_keypoints=5, random_state=seed)
    xy = xy + np.random.default_rng(seed).normal(scale=noise, size=xy.shape)
    hidden, gaps = keypoint_gaps(np.ones(xy.shape[:3], bool), (1, 3, 10, 30), [60, 40, 20, 8],
                                 99, rng=seed)  # fmt: skip
    return xy, np.where(hidden[..., None], np.nan, xy), hidden


def test_transform_gives_error_bars_for_repaired_points_only(fitted):
    truth, damaged, hidden = _damaged(2)
    out, radius = fitted.transform(damaged, return_uncertainty=True)
    assert np.isfinite(radius[hidden]).all() and (radius[hidden] > 0).all()
    assert np.isnan(radius[~hidden]).all()
    pose = fitted.transform(PoseData(damaged))
    np.testing.assert_array_equal(pose.uncertainty, radius)
    # the true point is inside the error bar about 9 times in 10
    inside = np.linalg.norm(out - truth, axis=-1)[hidden] <= radius[hidden]
    assert 0.8 <= inside.mean() <= 0.98
    fitted.set_params(guard=False)
    try:
        _, off = fitted.transform(damaged, return_uncertainty=True)
    finally:
        fitted.set_params(guard=True)
    assert np.isnan(off).all()  # the radii describe the guarded repair only


def test_error_bars_widen_on_a_recording_harder_than_the_fit(fitted):
    _, calm, hidden = _damaged(3)
    _, shaky, _ = _damaged(3, noise=3.0)
    shaky[hidden] = np.nan
    _, r_calm = fitted.transform(calm, return_uncertainty=True)
    _, r_shaky = fitted.transform(shaky, return_uncertainty=True)
    # about 2x (3 px of tracking noise); measured on the fit alone, both would be the same
    assert np.median(r_shaky[hidden]) > 1.5 * np.median(r_calm[hidden])
    fitted.set_params(error_bars="fit")
    try:
        _, fit_calm = fitted.transform(calm, return_uncertainty=True)
        _, fit_shaky = fitted.transform(shaky, return_uncertainty=True)
    finally:
        fitted.set_params(error_bars="recording")
    assert np.median(fit_shaky[hidden]) < 1.2 * np.median(fit_calm[hidden])


def test_error_bars_are_reproducible_and_survive_save_and_load(fitted, tmp_path):
    _, damaged, _ = _damaged(4)
    _, a = fitted.transform(damaged, return_uncertainty=True)
    _, b = fitted.transform(damaged, return_uncertainty=True)
    np.testing.assert_array_equal(a, b)
    fitted.save(tmp_path / "m.aeimpute")
    _, c = KeypointImputer.load(tmp_path / "m.aeimpute").transform(damaged, return_uncertainty=True)
    np.testing.assert_allclose(c, a, rtol=1e-6)


def test_posedata_checks_the_uncertainty_shape():
    with pytest.raises(ValueError, match="PoseData.uncertainty must have shape"):
        PoseData(np.zeros((4, 1, 2, 2)), uncertainty=np.zeros((4, 2)))


def test_error_bars_from_the_fit_alone_do_not_adapt_and_bad_options_are_named(fitted):
    _, calm, hidden = _damaged(3)
    _, shaky, _ = _damaged(3, noise=3.0)
    shaky[hidden] = np.nan
    fitted.set_params(error_bars="fit")
    try:
        _, r_calm = fitted.transform(calm, return_uncertainty=True)
        _, r_shaky = fitted.transform(shaky, return_uncertainty=True)
    finally:
        fitted.set_params(error_bars="recording")
    np.testing.assert_allclose(r_shaky[hidden], r_calm[hidden], rtol=1e-5)
    fitted.set_params(error_bars="everywhere")
    try:
        with pytest.raises(ValueError, match="error_bars"):
            fitted.transform(calm)
    finally:
        fitted.set_params(error_bars="recording")
