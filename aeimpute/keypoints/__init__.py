"""Pose keypoints: the imputer, file readers/writers and a synthetic sample.

``KeypointImputer`` is importable from here and from the package root;
readers and writers live in :mod:`aeimpute.keypoints.io` and are re-exported.
"""

from __future__ import annotations

import numpy as np

from aeimpute.keypoints.cameras import Camera, CameraGroup, fill_from_cameras
from aeimpute.keypoints.imputer import KeypointImputer
from aeimpute.keypoints.io import (
    PoseData,
    read_dlc,
    read_pose,
    read_sleap,
    read_slp,
    write_dlc,
    write_pose,
    write_sleap,
    write_slp,
)
from aeimpute.keypoints.views import join_views, split_views
from aeimpute.keypoints.xarray_poses import from_movement, to_movement

__all__ = [
    "Camera",
    "CameraGroup",
    "KeypointImputer",
    "PoseData",
    "fill_from_cameras",
    "from_movement",
    "join_views",
    "read_dlc",
    "read_pose",
    "read_sleap",
    "read_slp",
    "simulate_poses",
    "split_views",
    "to_movement",
    "write_dlc",
    "write_pose",
    "write_sleap",
    "write_slp",
]


def simulate_poses(
    n_frames: int = 3000,
    n_keypoints: int = 9,
    n_individuals: int = 1,
    body_size: float = 40.0,
    noise_px: float = 0.5,
    random_state: int | None = None,
) -> np.ndarray:
    """Generate walking, turning animals seen from above (a bundled stand-in for tracking data).

    Each animal has a rigid body plan (keypoints scattered around its centre)
    whose points also swing periodically, like limbs in a gait cycle with a
    slowly varying speed; the animal wanders with a smooth random velocity
    and turns with a smooth random heading. Tracker noise is added to every
    point. Nothing is missing: hide points yourself (for example with
    :func:`aeimpute.simulate.keypoint_gaps`) to make a test problem.

    Parameters
    ----------
    n_frames, n_keypoints, n_individuals : int
    body_size : float
        Typical distance of a keypoint from the body centre, in pixels.
    noise_px : float
        Standard deviation of the tracker noise, in pixels.
    random_state : int, optional

    Returns
    -------
    ndarray of shape (n_frames, n_individuals, n_keypoints, 2)

    Examples
    --------
    >>> xy = simulate_poses(n_frames=100, n_keypoints=4, n_individuals=2, random_state=0)
    >>> xy.shape
    (100, 2, 4, 2)
    """
    if n_frames < 1 or n_keypoints < 1 or n_individuals < 1:
        raise ValueError("n_frames, n_keypoints and n_individuals must be >= 1")
    rng = np.random.default_rng(random_state)
    out = np.empty((n_frames, n_individuals, n_keypoints, 2))
    for i in range(n_individuals):
        plan = rng.normal(scale=body_size, size=(n_keypoints, 2))
        swing = rng.normal(scale=0.25 * body_size, size=(n_keypoints, 2))
        phase = rng.uniform(0, 2 * np.pi, size=n_keypoints)
        # smooth speed of the gait cycle and of the walk
        rate = 0.15 + 0.1 * np.tanh(np.cumsum(rng.normal(scale=0.05, size=n_frames)))
        cycle = np.cumsum(rate)
        turns = rng.normal(scale=0.02, size=max(n_frames, 25))  # at least the kernel's length
        heading = np.cumsum(np.convolve(turns, np.ones(25) / 25, "same")[:n_frames])
        speed = 2.0 * (1 + np.sin(cycle / 7.0)) / 2
        step = speed[:, None] * np.column_stack([np.cos(heading), np.sin(heading)])
        centre = np.cumsum(step, axis=0) + rng.uniform(200, 400, size=2)
        local = plan[None] + swing[None] * np.sin(cycle[:, None] + phase[None])[..., None]
        c, s = np.cos(heading)[:, None], np.sin(heading)[:, None]
        rotated = np.stack(
            [c * local[..., 0] - s * local[..., 1], s * local[..., 0] + c * local[..., 1]], axis=-1
        )
        out[:, i] = centre[:, None, :] + rotated
    out += rng.normal(scale=noise_px, size=out.shape)
    return out
