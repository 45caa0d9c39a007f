"""Other camera views as evidence: a point hidden in one view, repaired with and without the other.

Usage (from the repository root, after ``make test`` created ``.venv``)::

    .venv/bin/python benchmarks/keypoint_views.py                 # both parts, both views
    .venv/bin/python benchmarks/keypoint_views.py --parts 0 --steps 300   # quicker

Protocol. The Lightning Pose mirror mouse (2000 frames, network seed 0) is filmed directly
("top", 4 paws) and through a 45-degree mirror ("bot", the same 4 paws): two synchronised
views in one file. It is split into its two views, as two files from two cameras would be,
and into 2 parts of 1000 frames (each a recording). Points under the likelihood cut-off 0.9
are missing for every method and never scored. For each part and each view, gaps of 1, 3, 10
and 30 frames of one keypoint are hidden in that view only
(:func:`aeimpute.simulate.keypoint_gaps` over its confident points); the other view keeps
everything it tracked. Methods: linear interpolation of the damaged view; ``KeypointImputer``
fitted on the damaged view alone ("one view"); ``KeypointImputer`` fitted on both views joined
with :func:`aeimpute.keypoints.join_views` ("both views"), the damaged view then taken back with
:func:`aeimpute.keypoints.split_views`. Both models use defaults and the same seed. Scores:
pixel RMSE over the hidden points per gap length, the ratio of both views to one view (target
<= 0.5 at 10 and 30 frames), each to linear, and the share of hidden points inside the error
bars of each model.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("AEIMPUTE_NUM_THREADS", "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

LENGTHS = (1, 3, 10, 30)
#: gaps of the longest length per part and view; a length L gets round(sqrt(30 / L)) times more
GAPS = 12
VIEWS = ("top", "bot")
ONE, BOTH = "one view", "both views"


def views_of(pose, reliable):
    """The mirror recording as two views (PoseData, reliable mask), keypoints without suffix."""
    from aeimpute.keypoints import PoseData

    out = {}
    for view in VIEWS:
        cols = [k for k, name in enumerate(pose.keypoint_names) if name.endswith(f"_{view}")]
        conf = None if pose.confidence is None else pose.confidence[:, :, cols]
        names = [pose.keypoint_names[k].rsplit("_", 1)[0] for k in cols]
        part = PoseData(pose.xy[:, :, cols], conf, names, list(pose.individual_names))
        out[view] = (part, reliable[:, :, cols])
    return out


def run(parts_: list[int], steps: int | None, seed: int, log=print) -> pd.DataFrame:
    from keypoint_recordings import load, parts
    from keypoints import interpolation

    from aeimpute import KeypointImputer
    from aeimpute.keypoints import join_views, split_views
    from aeimpute.simulate import keypoint_gaps

    loaded = load("mouse")
    if loaded is None:
        raise SystemExit("the mirror-mouse files are not in ../shared/data/keypoints")
    linear = interpolation("linear")
    kw = {"random_state": seed} | ({} if steps is None else {"max_iter": steps})
    rows = []
    for i, (pose, reliable) in enumerate(parts(*loaded, 2)):
        if i not in parts_:
            continue
        views = views_of(pose, reliable)
        for damaged_view in VIEWS:
            truth, ok = views[damaged_view]
            counts = [GAPS * max(1, round((max(LENGTHS) / n) ** 0.5)) for n in LENGTHS]
            hidden, gaps = keypoint_gaps(ok, LENGTHS, counts, 99, rng=seed + i)
            damaged = {}
            for view, (p, r) in views.items():
                gone = ~r | (hidden if view == damaged_view else False)
                damaged[view] = p.with_xy(np.where(gone[..., None], np.nan, p.xy))
                damaged[view].confidence = None
            t0 = time.perf_counter()
            one = KeypointImputer(**kw).fit_transform(damaged[damaged_view])
            one_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            joined = join_views([damaged[v] for v in VIEWS], names=list(VIEWS))
            both = split_views(KeypointImputer(**kw).fit_transform(joined))[
                VIEWS.index(damaged_view)
            ]
            both_s = time.perf_counter() - t0
            outs = {"linear": (linear(damaged[damaged_view], seed), None),
                    ONE: (one.xy, one.uncertainty), BOTH: (both.xy, both.uncertainty)}  # fmt: skip
            for method, (xy, radius) in outs.items():
                dist = np.linalg.norm(xy - truth.xy, axis=-1)
                for g in gaps.itertuples():
                    where = (slice(g.start, g.start + g.length), g.individual, list(g.keypoints))
                    d = dist[where]
                    rows.append({
                        "part": i, "view": damaged_view, "method": method, "length": g.length,
                        "points": d.size, "sq": float(np.sum(d**2)),
                        "covered": np.nan if radius is None else float(np.sum(d <= radius[where])),
                        "fit_s": {ONE: one_s, BOTH: both_s}.get(method, np.nan),
                    })  # fmt: skip
            log(f"part {i}, gaps in the {damaged_view} view: {len(gaps)} gaps; fits "
                f"{one_s:.0f} s (one view), {both_s:.0f} s (both)")  # fmt: skip
    return pd.DataFrame(rows)


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """Per part, view, length and method: RMSE, ratios and error-bar coverage."""
    keys = ["part", "view", "length", "method"]
    g = results.groupby(keys, sort=False)
    rmse = np.sqrt(g.sq.sum() / g.points.sum())
    coverage = g.covered.sum(min_count=1) / g.points.sum()
    out = pd.DataFrame({"rmse": rmse, "coverage": coverage}).reset_index()
    wide = out.pivot_table(index=keys[:-1], columns="method", values="rmse")
    ratios = pd.DataFrame({
        "both_to_one": wide[BOTH] / wide[ONE],
        "one_to_linear": wide[ONE] / wide["linear"],
        "both_to_linear": wide[BOTH] / wide["linear"],
    })  # fmt: skip
    return out.merge(ratios.reset_index(), on=keys[:-1])


def report(summary: pd.DataFrame) -> str:
    lines = [
        "| part | view with gaps | gap length | linear (px) | one view (px) | both views (px) | "
        "both / one | one / linear | both / linear | error bars hold (one / both) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (part, view, length), g in summary.groupby(["part", "view", "length"], sort=False):
        px = g.set_index("method")
        r = px.iloc[0]
        lines.append(
            f"| {part + 1} | {view} | {length} | {px.loc['linear', 'rmse']:.1f} | "
            f"{px.loc[ONE, 'rmse']:.1f} | {px.loc[BOTH, 'rmse']:.1f} | "
            f"**{r.both_to_one:.2f}** | {r.one_to_linear:.2f} | {r.both_to_linear:.2f} | "
            f"{px.loc[ONE, 'coverage']:.2f} / {px.loc[BOTH, 'coverage']:.2f} |"
        )
    first = summary.drop_duplicates(["part", "view", "length"])
    agg = first.groupby("length").both_to_one.agg(["mean", "max"])
    lines.append("")
    lines.append("Both views / one view, over parts and views: " + "; ".join(
        f"{n} frames mean {agg.loc[n, 'mean']:.2f}, worst {agg.loc[n, 'max']:.2f}"
        for n in agg.index))  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from keypoint_recordings import common_options, results_of, write_report

    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--parts", nargs="+", type=int, default=[0, 1], choices=[0, 1])
    common_options(p)
    args = p.parse_args(argv)
    results, note = results_of(args, lambda: run(args.parts, args.steps, args.seed))
    details = f"KeypointImputer max_iter={args.steps or 'default'}; {note}"
    write_report(args, "keypoint_views", "Keypoint repair with a second camera view", results,
                 report(summarise(results)), details)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
