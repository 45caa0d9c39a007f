"""Fill what one camera lost from where calibrated cameras saw it, then repair the rest.

    python examples/calibrated_cameras.py CALIBRATION.toml FILE [FILE ...] \\
        [--cameras NAME ...] [-o OUT_FOLDER] [--steps 1500]

Each file is one camera's tracking of the same synchronised frames (DeepLabCut, Lightning
Pose or SLEAP), in the order of the calibration's cameras or of ``--cameras``. Step 1,
``fill_from_cameras``: a point two other cameras saw is triangulated and projected back into
the camera that lost it. Step 2, ``KeypointImputer`` on the views joined side by side: what
no two cameras saw. Without arguments, three generated cameras film a walking animal and the
front camera loses a paw for 40 frames.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from aeimpute import KeypointImputer
from aeimpute.keypoints import (
    Camera,
    CameraGroup,
    PoseData,
    fill_from_cameras,
    join_views,
    read_pose,
    split_views,
    write_pose,
)


def generated() -> tuple[CameraGroup, list[PoseData], np.ndarray]:
    """Three cameras around a walking 4-keypoint animal; the front one loses the paw."""
    lens = np.array([[800.0, 0, 320], [0, 800.0, 240], [0, 0, 1]])
    cameras = CameraGroup(
        tuple(
            Camera(name, lens, np.array([-0.1, 0, 0, 0, 0]), np.array([0.0, turn, 0.0]),
                   np.array([0.0, 0.0, 12.0]))
            for name, turn in (("left", -0.5), ("front", 0.0), ("right", 0.5))
        )
    )  # fmt: skip
    rng = np.random.default_rng(0)
    t = np.arange(600)[:, None]
    body = np.hstack([np.sin(t / 25), 0.3 * np.cos(t / 40), 0.2 * np.sin(t / 9)])
    offsets = np.array([[0.6, 0, 0], [0.3, 0.2, 0], [0.0, -0.3, 0.2], [-0.5, 0, 0]])
    world = body[:, None, None, :] + offsets[None, None]  # (frames, 1, keypoints, 3)
    world[:, 0, 2] += 0.4 * np.sin(t / 3)  # the paw moves fast
    names = ["nose", "ear", "paw", "tail"]
    noise = 0.5  # pixels of tracking noise
    views = [PoseData(c.project(world) + rng.normal(scale=noise, size=(600, 1, 4, 2)),
                      keypoint_names=names) for c in cameras.cameras]  # fmt: skip
    truth = views[1].xy.copy()
    views[1].xy[300:340, 0, 2] = np.nan
    return cameras, views, truth


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("calibration", nargs="?", type=Path, help="Anipose calibration (.toml)")
    p.add_argument("files", nargs="*", type=Path, help="pose files, one per camera")
    p.add_argument("--cameras", nargs="+", help="the calibration's camera of each file")
    p.add_argument("-o", "--output", type=Path, help="folder for the repaired files")
    p.add_argument("--steps", type=int, default=1500, help="KeypointImputer max_iter")
    args = p.parse_args(argv)
    if args.calibration is not None and len(args.files) < 2:
        p.error("give the calibration and at least two pose files, or nothing for the example")
    if args.calibration is None:
        cameras, views, truth = generated()
    else:
        cameras, views, truth = args.calibration, [read_pose(f) for f in args.files], None
    filled = fill_from_cameras(views, cameras, names=args.cameras, random_state=0)
    for i, (before, after) in enumerate(zip(views, filled, strict=True)):
        lost = ~np.isfinite(before.xy).all(-1)
        print(f"view {i}: {int(lost.sum())} points lost, {int(after.imputed.sum())} filled "
              "from the other cameras")  # fmt: skip
    # what no two cameras saw: a model of the views side by side
    joined = join_views(filled)
    if not np.isfinite(joined.xy).all():
        repaired = KeypointImputer(max_iter=args.steps, random_state=0).fit_transform(joined)
        filled = split_views(repaired)
    if truth is not None:
        lost = ~np.isfinite(views[1].xy).all(-1)
        line = views[1].xy.copy()
        line[300:340, 0, 2] = np.linspace(line[299, 0, 2], line[340, 0, 2], 42)[1:-1]
        for label, xy in (("straight line", line), ("cameras", filled[1].xy)):
            err = np.sqrt(np.mean(np.sum((xy - truth)[lost] ** 2, axis=-1)))
            print(f"{label}: RMSE {err:.1f} px on the points the front camera lost")
    if args.output is not None and args.files:
        args.output.mkdir(exist_ok=True)
        for path, pose in zip(args.files, filled, strict=True):
            write_pose(pose, args.output / path.name)


if __name__ == "__main__":
    main()
