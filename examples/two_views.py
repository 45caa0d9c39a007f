"""Repair one camera's keypoints with what a second camera saw of the same frames.

    python examples/two_views.py TOP_FILE SIDE_FILE [-o OUT_FOLDER] [--steps 1500]

Each file is one camera's tracking of the same synchronised frames (DeepLabCut, Lightning
Pose or SLEAP). Without files, two generated views of one animal are used: the second camera
sees the first one's scene shifted, and the first loses a paw for 30 frames.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from aeimpute import KeypointImputer
from aeimpute.keypoints import (
    PoseData,
    join_views,
    read_pose,
    simulate_poses,
    split_views,
    write_pose,
)


def generated() -> tuple[PoseData, PoseData, np.ndarray]:
    xy = simulate_poses(n_frames=1500, n_keypoints=4, random_state=0)
    side = xy + [0.0, 300.0] + np.random.default_rng(0).normal(scale=0.3, size=xy.shape)
    top = xy.copy()
    top[700:730, 0, 2] = np.nan  # the paw, out of the top camera's sight
    names = ["nose", "ear", "paw", "tail"]
    return PoseData(top, keypoint_names=names), PoseData(side, keypoint_names=names), xy


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("files", nargs="*", type=Path, help="two pose files, one per camera")
    p.add_argument("-o", "--output", type=Path, help="folder for the repaired files")
    p.add_argument("--steps", type=int, default=1500, help="KeypointImputer max_iter")
    args = p.parse_args(argv)
    if args.files and len(args.files) != 2:
        p.error("give two pose files (one per camera), or none for the generated example")
    top, side, truth = (*(read_pose(f) for f in args.files), None) if args.files else generated()
    one = KeypointImputer(max_iter=args.steps, random_state=0).fit_transform(top)
    both = split_views(
        KeypointImputer(max_iter=args.steps, random_state=0).fit_transform(join_views([top, side]))
    )
    lost = ~np.isfinite(top.xy).all(-1)
    for label, pose in (("one view", one), ("both views", both[0])):
        line = f"{label}: {int(pose.imputed.sum())} points repaired"
        if truth is not None:
            err = np.sqrt(np.mean(np.sum((pose.xy - truth)[lost] ** 2, axis=-1)))
            line += f", RMSE {err:.1f} px on the points the top camera lost"
        print(line)
    if args.output is not None and args.files:
        args.output.mkdir(exist_ok=True)
        for path, pose in zip(args.files, both, strict=True):
            write_pose(pose, args.output / path.name)
            print(f"written to {args.output / path.name}")


if __name__ == "__main__":
    main()
