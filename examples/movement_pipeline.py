"""Repair keypoints inside a movement pipeline: confidence filter -> repair -> kinematics.

movement (https://movement.neuroinformatics.dev) keeps poses in an xarray dataset;
KeypointImputer takes one and gives one back with the repaired positions, ``imputed`` and
``uncertainty`` (error bars in pixels). With movement installed, its own loader, filter and
kinematics are used; without it, the same steps are done with xarray.

    python examples/movement_pipeline.py [POSE_FILE] [--threshold 0.9] [--steps 300]
"""

from __future__ import annotations

import argparse

import numpy as np

from aeimpute import KeypointImputer
from aeimpute.keypoints import PoseData, read_pose, simulate_poses, to_movement


def load(path: str | None):
    """A movement poses dataset: from a file, or a generated recording with unsure points."""
    if path is not None:
        try:
            from movement.io import load_poses

            return load_poses.from_file(path, source_software="DeepLabCut")
        except ImportError:
            return to_movement(read_pose(path))
    xy = simulate_poses(n_frames=1000, n_keypoints=6, random_state=0)
    confidence = np.full(xy.shape[:3], 0.98)
    confidence[300:325, 0, 2] = 0.2  # a paw the tracker lost sight of
    names = ["nose", "ear_l", "paw_l", "paw_r", "tail_base", "tail_tip"]
    return to_movement(PoseData(xy, confidence, keypoint_names=names, fps=30.0))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("pose_file", nargs="?", help="a DeepLabCut/Lightning Pose/SLEAP file")
    p.add_argument("--threshold", type=float, default=0.9)
    p.add_argument("--steps", type=int, default=300, help="KeypointImputer max_iter")
    args = p.parse_args(argv)
    ds = load(args.pose_file)
    try:  # movement's own steps when it is installed
        from movement.filtering import filter_by_confidence
        from movement.kinematics import compute_velocity

        ds["position"] = filter_by_confidence(ds.position, ds.confidence, args.threshold)
    except ImportError:
        ds["position"] = ds.position.where(ds.confidence >= args.threshold)

        def compute_velocity(position):
            return position.differentiate("time")

    repaired = KeypointImputer(max_iter=args.steps, random_state=0).fit_transform(ds)
    velocity = compute_velocity(repaired.position)
    bars = repaired.uncertainty.where(repaired.imputed)
    print(f"{int(repaired.imputed.sum())} points repaired; median error bar "
          f"{float(bars.median()):.1f} px; velocity defined at "
          f"{float(velocity.notnull().mean()):.0%} of points")  # fmt: skip


if __name__ == "__main__":
    main()
