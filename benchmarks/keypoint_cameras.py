"""Calibrated cameras as evidence: a point hidden in one view, filled from where the others saw it.

Usage (from the repository root, after ``make test`` created ``.venv``)::

    .venv/bin/python benchmarks/keypoint_cameras.py

Protocol. The SLEAP four-camera mouse (120 synchronised frames, 15 keypoints) with its Anipose
calibration; the ``side`` entry of that calibration is a copy of ``top``'s (see the data's
SOURCES.md), so the three consistent cameras ``back``, ``mid`` and ``top`` are used. In each
of the views ``mid`` and ``top`` (no missing points), gaps of 1, 3, 10 and 30 frames of one
keypoint are hidden (:func:`aeimpute.simulate.keypoint_gaps`; ``DRAWS`` independent draws,
as the clip is short); the other views keep what they tracked. Methods: linear interpolation
of the damaged view, and :func:`aeimpute.keypoints.fill_from_cameras` with the plain
reprojection (``anchor=False, guard=False``), anchored at the gap's ends (``guard=False``),
and with its defaults (anchored, and only in the ranges of gap lengths where it beat the
straight line on artificial gaps of the same recording); points it leaves go to linear
interpolation. Only points the other two cameras both saw are scored (the others cannot be
filled from geometry). Scores per gap length: pixel RMSE, median and 95th percentile of the
per-gap errors (a gap's error is the RMSE of its points), the ratio of RMSE to linear
interpolation, the share filled by the cameras and the share of those inside their error bars.
No learned model: 120 frames are too few to train one.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("AEIMPUTE_NUM_THREADS", "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

CAMERAS = ("back", "mid", "top")
DAMAGED = ("mid", "top")
LENGTHS = (1, 3, 10, 30)
GAPS = (12, 12, 8, 4)
DRAWS = 10
PLAIN, ANCHORED = "reprojection", "reprojection, anchored"
GUARDED = "anchored where it wins, else linear"


def load():
    """(CameraGroup, [PoseData per camera]) or None when the shared files are absent."""
    from keypoint_recordings import SHARED

    from aeimpute.keypoints import CameraGroup, PoseData

    calibration = SHARED / "sleap_mouse_4view" / "calibration.toml"
    if not calibration.exists():
        return None
    group = CameraGroup.from_toml(calibration).subset(list(CAMERAS))
    views = []
    for name in CAMERAS:
        d = np.load(SHARED / f"sleap_mouse_4view_{name}.npz")
        views.append(PoseData(d["xy"], keypoint_names=list(d["keypoint_names"])))
    return group, views


def run(seed: int, log=print) -> pd.DataFrame:
    from keypoints import interpolation

    from aeimpute.keypoints import fill_from_cameras
    from aeimpute.keypoints.cameras import reprojections
    from aeimpute.simulate import keypoint_gaps

    loaded = load()
    if loaded is None:
        raise SystemExit("the four-camera files are not in ../shared/data/keypoints")
    group, views = loaded
    linear = interpolation("linear")
    pixels = np.stack([v.xy for v in views])
    rows = []
    for damaged_name in DAMAGED:
        v = CAMERAS.index(damaged_name)
        truth = views[v].xy
        placed = np.isfinite(reprojections(group, pixels, v)).all(-1)
        ok = np.isfinite(truth).all(-1) & placed
        for draw in range(DRAWS):
            hidden, gaps = keypoint_gaps(ok, LENGTHS, list(GAPS), 99, rng=seed + 100 * draw + v)
            damaged = list(views)
            damaged[v] = views[v].with_xy(np.where(hidden[..., None], np.nan, truth))
            line = linear(damaged[v], seed)
            outs = {"linear": (line, None)}
            for name, anchor, guard in ((PLAIN, False, False), (ANCHORED, True, False),
                                        (GUARDED, True, True)):  # fmt: skip
                out = fill_from_cameras(damaged, group, anchor=anchor, guard=guard,
                                        random_state=seed)[v]  # fmt: skip
                # what the cameras left (the guard) goes to the straight line
                xy = np.where(out.imputed[..., None], out.xy, line)
                outs[name] = (xy, np.where(out.imputed, out.uncertainty, np.inf))
            for method, (xy, radius) in outs.items():
                dist = np.linalg.norm(xy - truth, axis=-1)
                for g in gaps.itertuples():
                    where = (slice(g.start, g.start + g.length), g.individual, list(g.keypoints))
                    d = dist[where].ravel()
                    bar = np.full(d.shape, np.inf) if radius is None else radius[where].ravel()
                    by_cameras = bar < np.inf
                    rows.append({"view": damaged_name, "draw": draw, "method": method,
                                 "length": g.length, "points": d.size, "sq": float(np.sum(d**2)),
                                 "gap_px": float(np.sqrt(np.mean(d**2))),
                                 "by_cameras": int(by_cameras.sum()),
                                 "inside": int(np.sum(by_cameras & (d <= bar)))})  # fmt: skip
        log(f"gaps in the {damaged_name} view: {DRAWS} draws")
    return pd.DataFrame(rows)


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """Per view, gap length and method: RMSE, median and p95 of per-gap errors, share filled
    by the cameras, coverage of their error bars and RMSE / linear."""
    keys = ["view", "length", "method"]
    g = results.groupby(keys, sort=False)
    filled = g.by_cameras.sum()
    out = pd.DataFrame({
        "points": g.points.sum(),
        "rmse": np.sqrt(g.sq.sum() / g.points.sum()),
        "median": g.gap_px.median(),
        "p95": g.gap_px.quantile(0.95),
        "by_cameras": filled / g.points.sum(),
        "coverage": g.inside.sum() / filled.where(filled > 0),
    }).reset_index()  # fmt: skip
    lin = out[out.method == "linear"].set_index(keys[:-1]).rmse
    out["to_linear"] = (
        out.rmse.to_numpy() / lin.reindex(pd.MultiIndex.from_frame(out[keys[:-1]])).to_numpy()
    )
    return out


def report(summary: pd.DataFrame) -> str:
    lines = ["| view with gaps | gap length | method | points | filled by cameras | RMSE (px) | "
             "median gap | 95th pct gap | RMSE / linear | error bars hold |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in summary.sort_values(["view", "length"], kind="stable").itertuples():
        cover = "–" if np.isnan(r.coverage) else f"{r.coverage:.2f}"
        lines.append(f"| {r.view} | {r.length} | {r.method} | {r.points} | {r.by_cameras:.2f} | "
                     f"{r.rmse:.1f} | {r.median:.1f} | {r.p95:.1f} | {r.to_linear:.2f} | "
                     f"{cover} |")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from keypoint_recordings import common_options, results_of, write_report

    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    common_options(p)
    args = p.parse_args(argv)
    results, note = results_of(args, lambda: run(args.seed))
    write_report(args, "keypoint_cameras", "Keypoint repair from calibrated cameras", results,
                 report(summarise(results)), note)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
