"""Repair occluded keypoints in a pose-tracking file, end to end.

Read a DeepLabCut or SLEAP file, fit ``KeypointImputer`` on the recording
itself, fill the missing and low-confidence points, write the repaired file
in the same format, and plot one repaired trajectory::

    .venv/bin/python examples/pose_repair.py     # shared mouse file, or a generated one
    .venv/bin/python examples/pose_repair.py tracks.csv -o tracks_repaired.csv --threshold 0.9
    .venv/bin/python examples/pose_repair.py flies.analysis.h5 -o flies_repaired.analysis.h5

Without a file it uses the DeepLabCut-format mouse tracks of the shared data
when present, and otherwise a generated recording saved as a DeepLabCut CSV
first, so the example always runs without downloads.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from aeimpute import KeypointImputer
from aeimpute.keypoints import PoseData, read_pose, simulate_poses, write_dlc, write_sleap

SHARED_MOUSE = (
    Path(__file__).resolve().parents[1].parent
    / "shared/data/keypoints/eks_mirror_mouse/180607_004.train_frames=75.rng=0.csv"
)


def default_input(folder: Path) -> tuple[Path, float | None]:
    if SHARED_MOUSE.exists():
        return SHARED_MOUSE, 0.9
    xy = simulate_poses(n_frames=2000, n_keypoints=8, random_state=0)
    conf = np.full(xy.shape[:-1], 0.99)
    rng = np.random.default_rng(0)
    for _ in range(40):  # occlusions: runs of low confidence
        start, k = rng.integers(0, 1950), rng.integers(8)
        conf[start : start + rng.integers(1, 40), 0, k] = 0.05
    path = folder / "generated_tracks.csv"
    write_dlc(PoseData(xy, conf, [f"kp{j}" for j in range(8)], ["animal"]), path)
    return path, 0.9


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("path", nargs="?", type=Path, help="DeepLabCut .csv/.h5 or SLEAP analysis .h5")
    p.add_argument("-o", "--output", type=Path, help="repaired file (same format as the input)")
    p.add_argument("--threshold", type=float, help="treat points below this confidence as missing")
    p.add_argument("--steps", type=int, default=1500, help="training steps")
    p.add_argument("--plot", type=Path, help="PNG of one repaired trajectory")
    args = p.parse_args()

    work = Path(tempfile.mkdtemp())
    path, threshold = (args.path, args.threshold) if args.path else default_input(work)
    pose = read_pose(path)
    print(
        f"read {path.name}: {pose.n_frames} frames, {pose.n_individuals} individual(s), "
        f"{pose.n_keypoints} keypoints"
    )
    if threshold is not None and pose.confidence is None:
        threshold = None  # the file has no scores
    imp = KeypointImputer(confidence_threshold=threshold, max_iter=args.steps, random_state=0)
    t0 = time.perf_counter()
    repaired = imp.fit_transform(pose)
    print(
        f"fitted and repaired in {time.perf_counter() - t0:.1f} s; "
        f"{int(repaired.imputed.sum())} points filled"
    )

    out = args.output or work / f"repaired{path.suffix if path.suffix != '.slp' else '.h5'}"
    if pose.meta.get("format") == "sleap":
        write_sleap(repaired, out)
    else:
        write_dlc(repaired, out)
    print(f"wrote {out}")

    # plot the keypoint with the most repaired points around its longest repaired run
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = repaired.imputed.sum(axis=0)
    ind, k = np.unravel_index(np.argmax(counts), counts.shape)
    frames = np.flatnonzero(repaired.imputed[:, ind, k])
    centre = int(frames[len(frames) // 2]) if len(frames) else pose.n_frames // 2
    lo, hi = max(0, centre - 100), min(pose.n_frames, centre + 100)
    t = np.arange(lo, hi)
    fig, ax = plt.subplots(figsize=(8, 3))
    kept = ~repaired.imputed[lo:hi, ind, k]
    ax.plot(t, repaired.xy[lo:hi, ind, k, 0], color="tab:red", lw=1, label="repaired")
    ax.plot(t[kept], pose.xy[lo:hi, ind, k, 0][kept], ".", color="black", ms=3, label="kept")
    ax.set_title(f"{pose.keypoint_names[k]} ({pose.individual_names[ind]}): x over frames")
    ax.set_xlabel("frame")
    ax.legend()
    fig.tight_layout()
    png = args.plot or work / "pose_repair.png"
    fig.savefig(png, dpi=110)
    print(f"plotted {png}")


if __name__ == "__main__":
    main()
