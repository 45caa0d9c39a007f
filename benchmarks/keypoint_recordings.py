"""Keypoint repair on recordings the model has not seen: leave one recording out, per-gap errors.

Usage (from the repository root, after ``make demo`` or ``make test`` created ``.venv``)::

    make bench-keypoints                                   # every set-up, a few processes' worth
    .venv/bin/python benchmarks/keypoint_recordings.py --setups synthetic --steps 300  # quick

Protocol. No public set of several recordings of one set-up could be shared, so the longest
shared recordings are split into disjoint parts of consecutive frames and each part is a
recording: the SLEAP flies (3000 frames, 2 flies, 13 keypoints) in 3 parts, the Lightning Pose
mirror mouse (2000 frames, 8 keypoints; network seed 0) in 2, the IBL paw video (right
camera, 2500 frames, 2 keypoints; network seed 0) in 2, and a generated recording (2000
frames, 9 keypoints) in 2. Points the tracker scored below its cut-off (DeepLabCut/Lightning
Pose likelihood 0.9, SLEAP score 0.5) are missing for every method and never scored. On each
part, :func:`aeimpute.simulate.keypoint_gaps` hides gaps of exactly 1, 3, 10 and 30 frames
over confidently tracked points (one keypoint, and 3 keypoints at once where there are 3).
Methods fill the damaged part: linear and PCHIP interpolation, a constant-velocity Kalman
smoother, ``KeypointImputer`` fitted on the damaged part itself ("own"), and
``KeypointImputer`` fitted on the other parts of the set-up only, as they come (their
low-confidence points missing, no artificial gaps), then applied to the part ("other
recordings", leave one out); each fitted model also repairs the part with
``error_bars="fit"`` (judged on the fit's held-back gaps only, without the check on the
recording being repaired) and with ``guard=False`` (its gap-length blend without the
per-keypoint fallback, limits, envelope and check). Scores, per
gap length and kind: pixel RMSE over the hidden points, and the median and 95th percentile of
the per-gap errors (a gap's error is the RMSE of its points), each also as a ratio to linear
interpolation of the same gaps. Error bars: the share of hidden points inside their 90% error
bars, per recording, gap length and kind, from the same gaps and, for the other recordings'
model, from ``COVERAGE_DRAWS`` further independent gap draws over the same recording (one
draw holds 4-12 gaps per cell, too few to tell 0.85 from 0.95).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("AEIMPUTE_NUM_THREADS", "1")

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data" / "keypoints"
sys.path.insert(0, str(HERE))

LENGTHS = (1, 3, 10, 30)
#: gaps of the longest length per kind and part; a length L gets round(sqrt(30 / L)) times more
GAPS = 12
MAX_HIDDEN = 0.10
#: set-up: (loader name, parts)
SETUPS = {"flies": 3, "mouse": 2, "paw": 2, "synthetic": 2}
OWN, OTHERS = "KeypointImputer (own)", "KeypointImputer (other recordings)"
#: further gap draws per recording for the error bars' coverage (other recordings' model only:
#: the own model trained on the points a new draw hides); a recording's share inside the bars
#: from one draw of 4-12 gaps per cell is too noisy to check against 0.85-0.95
COVERAGE_DRAWS = 8
#: the first draw and the further ones together (other recordings' model, linear, ablation)
ALL_DRAWS = f", {COVERAGE_DRAWS + 1} gap draws"
MORE_DRAWS = OTHERS + ALL_DRAWS
#: the same fitted model with ``guard=False`` (the gap-length blend alone)
UNGUARDED = ", guard=False"
#: the same fitted model judged on the fit's held-back gaps only (no check on the recording)
NO_CHECK = ", error_bars='fit'"
#: the same fitted model with the check keeping the repair wherever it did better
LOOSE = ", guard_confidence=0.5"


def load(setup: str):
    """(PoseData, reliable mask) of a set-up's whole recording, or None when absent."""
    from aeimpute.keypoints import PoseData, read_dlc, read_sleap, simulate_poses

    if setup == "synthetic":
        xy = simulate_poses(n_frames=2000, n_keypoints=9, random_state=0)
        return PoseData(xy), np.ones(xy.shape[:-1], dtype=bool)
    if setup == "flies":
        path, scores = SHARED / "sleap_flies.analysis.h5", SHARED / "sleap_flies.npz"
        if not (path.exists() and scores.exists()):
            return None
        pose = read_sleap(path)
        pose.confidence = np.load(scores)["confidence"].astype(float)
        cut = 0.5
    else:
        name = {
            "mouse": "eks_mirror_mouse/180607_004.train_frames=75.rng=0.csv",
            "paw": "eks_ibl_paw/3f859b5c-e73a-4044-b49e-34bb81e96715.right.rng=0.csv",
        }[setup]
        if not (SHARED / name).exists():
            return None
        pose, cut = read_dlc(SHARED / name), 0.9
    reliable = np.isfinite(pose.xy).all(-1) & (np.nan_to_num(pose.confidence) >= cut)
    return pose, reliable


def parts(pose, reliable, n: int) -> list[tuple]:
    """``n`` disjoint runs of consecutive frames, each ``(PoseData, reliable)``."""
    from aeimpute.keypoints import PoseData

    edges = np.linspace(0, len(pose.xy), n + 1).astype(int)
    out = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        conf = None if pose.confidence is None else pose.confidence[a:b]
        part = PoseData(pose.xy[a:b], conf, list(pose.keypoint_names),
                        list(pose.individual_names))  # fmt: skip
        out.append((part, reliable[a:b]))
    return out


def split_setups(setups: list[str], log=print):
    """Each set-up whose files are found, with its parts: ``(set-up, [(PoseData, reliable),
    ...])``; the others are logged and left out."""
    for setup in setups:
        loaded = load(setup)
        if loaded is None:
            log(f"skipping {setup}: its files are not in {SHARED}")
            continue
        yield setup, parts(*loaded, SETUPS[setup])


def as_tracked(pose, reliable):
    """The recording as a user has it after the confidence cut-off."""
    return pose.with_xy(np.where(reliable[..., None], pose.xy, np.nan))


def others_of(split: list, i: int) -> list:
    """The parts of a set-up but part ``i``, as a user has them to fit on (after the confidence
    cut-off, without the confidence)."""
    others = [as_tracked(p, r) for j, (p, r) in enumerate(split) if j != i]
    for o in others:
        o.confidence = None
    return others


def draw_seed(seed: int, part: int, draw: int) -> int:
    """The gap draw ``draw`` (0 = the first) of part ``part``."""
    return seed + part + 1000 * draw


def gap_draw(pose, reliable, rng: int) -> tuple:
    """Artificial gaps over the reliable points of a part: ``(damaged PoseData, gaps)``.

    Gaps of each of ``LENGTHS`` (a length L gets round(sqrt(30 / L)) times as many as the
    longest, at most ``GAPS`` of those, within ``MAX_HIDDEN`` of the points), one keypoint
    and, with 3 keypoints or more, 3 at once; the damaged part has no confidence.
    """
    from aeimpute.simulate import keypoint_gaps

    factor = [max(1, round((max(LENGTHS) / n) ** 0.5)) for n in LENGTHS]
    block = 3 if pose.xy.shape[2] >= 3 else 0
    budget = int(MAX_HIDDEN * reliable.sum() // sum(f * n * (1 + block)
                 for f, n in zip(factor, LENGTHS, strict=True)))  # fmt: skip
    counts = [max(1, min(GAPS, budget)) * f for f in factor]
    hidden, gaps = keypoint_gaps(reliable, LENGTHS, counts, block or 99, rng=rng)
    damaged = pose.with_xy(np.where((hidden | ~reliable)[..., None], np.nan, pose.xy))
    damaged.confidence = None
    return damaged, gaps


def per_gap(dist: np.ndarray, gaps: pd.DataFrame, radius: np.ndarray | None = None) -> pd.DataFrame:
    """Each gap's pixel RMSE over its points and, with error bars ``radius``, how many of its
    points lie inside them (NaN without)."""
    rows = []
    for g in gaps.itertuples():
        where = (slice(g.start, g.start + g.length), g.individual, list(g.keypoints))
        d = dist[where]
        covered = np.nan if radius is None else float(np.sum(d <= radius[where]))
        rows.append({"gap": g.gap, "length": g.length, "kind": g.kind, "points": d.size,
                     "gap_px": float(np.sqrt(np.mean(d**2))), "covered": covered})  # fmt: skip
    return pd.DataFrame(rows)


def scored(out: np.ndarray, pose, gaps: pd.DataFrame, draw: int, radius=None) -> pd.DataFrame:
    """:func:`per_gap` of a repair ``out`` of the part ``pose`` against its truth, the gaps
    numbered apart per gap draw (``draw``: 0 = the first)."""
    table = per_gap(np.linalg.norm(out - pose.xy, axis=-1), gaps, radius)
    table["gap"] += draw * 100_000
    return table


def transformed(imp, damaged, **params):
    """``imp.transform(damaged)`` with ``params`` set for this call only (the fitted model's
    own values are put back)."""
    before = {name: getattr(imp, name) for name in params}
    try:
        return imp.set_params(**params).transform(damaged)
    finally:
        imp.set_params(**before)


def repair_draw(imp, linear, damaged, seed: int) -> dict:
    """One further gap draw repaired by the other recordings' model (its default check and
    ``guard_confidence=0.5``) and by linear interpolation: ``{method: (xy, error bars)}``."""
    repaired = imp.transform(damaged)
    loose = transformed(imp, damaged, guard_confidence=0.5).xy
    return {MORE_DRAWS: (repaired.xy, repaired.uncertainty),
            "linear" + ALL_DRAWS: (linear(damaged, seed), None),
            OTHERS + LOOSE + ALL_DRAWS: (loose, None)}  # fmt: skip


def run(
    setups: list[str], steps: int | None, seed: int, window: int | None = None, log=print
) -> pd.DataFrame:
    from keypoints import interpolation, kalman

    from aeimpute import KeypointImputer

    baselines = {"linear": interpolation("linear"), "PCHIP": interpolation("pchip"),
                 "Kalman (CV)": kalman()}  # fmt: skip
    kw = {"random_state": seed} | ({} if steps is None else {"max_iter": steps})
    kw |= {} if window is None else {"window": window}
    rows = []
    for setup, split in split_setups(setups, log):
        for i, (pose, reliable) in enumerate(split):
            damaged, gaps = gap_draw(pose, reliable, draw_seed(seed, i, 0))
            fits = {}
            t0 = time.perf_counter()
            fits[OWN] = KeypointImputer(**kw).fit(damaged)
            own_s = time.perf_counter() - t0
            others = others_of(split, i)
            t0 = time.perf_counter()
            fits[OTHERS] = KeypointImputer(**kw).fit(others)
            others_s = time.perf_counter() - t0
            outs = {m: fn(damaged, seed) for m, fn in baselines.items()}
            radii = {}
            for m, imp in fits.items():
                repaired = imp.transform(damaged)
                outs[m], radii[m] = repaired.xy, repaired.uncertainty
                outs[m + UNGUARDED] = transformed(imp, damaged, guard=False).xy
                outs[m + NO_CHECK] = transformed(imp, damaged, error_bars="fit").xy
                outs[m + LOOSE] = transformed(imp, damaged, guard_confidence=0.5).xy
            seen = np.isfinite(damaged.xy).all(-1)
            for m, out in outs.items():
                assert np.array_equal(out[seen], damaged.xy[seen]), f"{m} changed points"
                table = scored(out, pose, gaps, 0, radii.get(m))
                table = table.assign(setup=setup, part=i, method=m)
                table["fit_s"] = {OWN: own_s, OTHERS: others_s}.get(m, np.nan)
                rows.append(table)
            for d in range(COVERAGE_DRAWS + 1):
                if d == 0:  # the draw above, repaired already
                    gaps_d = gaps
                    draws = {MORE_DRAWS: (outs[OTHERS], radii[OTHERS]),
                             "linear" + ALL_DRAWS: (outs["linear"], None),
                             OTHERS + LOOSE + ALL_DRAWS: (outs[OTHERS + LOOSE], None)}  # fmt: skip
                else:
                    damaged_d, gaps_d = gap_draw(pose, reliable, draw_seed(seed, i, d))
                    draws = repair_draw(fits[OTHERS], baselines["linear"], damaged_d, seed)
                for m, (out, radius) in draws.items():
                    table = scored(out, pose, gaps_d, d, radius)
                    rows.append(table.assign(setup=setup, part=i, method=m, fit_s=np.nan))
            log(f"{setup} part {i}: {len(gaps)} gaps; fits {own_s:.0f} s (own), "
                f"{others_s:.0f} s (others)")  # fmt: skip
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """Per set-up, part, method, kind and length: RMSE, median and p95 of per-gap errors."""

    def stats(g: pd.DataFrame) -> pd.Series:
        rmse = np.sqrt(np.sum(g.points * g.gap_px**2) / g.points.sum())
        coverage = g.covered.sum() / g.points.sum() if g.covered.notna().all() else np.nan
        return pd.Series({"gaps": len(g), "points": g.points.sum(), "rmse": rmse,
                          "median": g.gap_px.median(),
                          "p95": g.gap_px.quantile(0.95), "coverage": coverage})  # fmt: skip

    if "covered" not in results:  # results written before error bars existed
        results = results.assign(covered=np.nan)
    keys = ["setup", "part", "kind", "length", "method"]
    cols = ["points", "gap_px", "covered"]
    out = results.groupby(keys, sort=False)[cols].apply(stats).reset_index()
    # each method against linear interpolation of the same gaps (of every draw for the
    # methods run on all of them)
    for col in ("rmse", "median", "p95"):
        out[f"{col}_ratio"] = np.nan
    for suffix in ("", ALL_DRAWS):
        lin = out[out.method == "linear" + suffix].set_index(keys[:-1])
        rows = out.method.str.endswith(ALL_DRAWS) == bool(suffix)
        ref = lin.reindex(pd.MultiIndex.from_frame(out.loc[rows, keys[:-1]]))
        for col in ("rmse", "median", "p95"):
            out.loc[rows, f"{col}_ratio"] = out.loc[rows, col].to_numpy() / ref[col].to_numpy()
    return out


def coverage_table(summary: pd.DataFrame) -> str:
    """Share of hidden points inside their 90% error bars, per recording and gap length."""
    have = summary[summary.coverage.notna()] if "coverage" in summary else summary.iloc[:0]
    if have.empty:
        return ""
    cols = [(k, n) for k in ("single", "block") for n in LENGTHS]
    lines = ["Error bars (`PoseData.uncertainty`, 90% intervals): share of the hidden points "
             "inside them (target 0.85-0.95)\n",
             "| recording | fit | " + " | ".join(f"{k} {n} fr" for k, n in cols) + " |",
             "|---|---|" + "---:|" * len(cols)]  # fmt: skip
    labels = {OWN: "own", OTHERS: "other recordings",
              MORE_DRAWS: f"other recordings, {COVERAGE_DRAWS + 1} draws"}  # fmt: skip
    for method, label in labels.items():
        s = have[have.method == method]
        if s.empty:
            continue
        for (setup, part), g in s.groupby(["setup", "part"], sort=False):
            cells = []
            for k, n in cols:
                r = g[(g.kind == k) & (g.length == n)]
                cells.append("–" if r.empty else f"{r.coverage.iloc[0]:.2f}")
            lines.append(f"| {setup} {part + 1} | {label} | " + " | ".join(cells) + " |")
        pooled = s.assign(inside=s.coverage * s.points).groupby(["kind", "length"])
        share = pooled.inside.sum() / pooled.points.sum()
        cells = [f"**{share.loc[c]:.2f}**" if c in share.index else "–" for c in cols]
        lines.append(f"| **all points** | {label} | " + " | ".join(cells) + " |")
        for name, how in (("lowest", "min"), ("highest", "max")):
            agg = s.groupby(["kind", "length"])["coverage"].agg(how)
            cells = [f"**{agg.loc[c]:.2f}**" if c in agg.index else "–" for c in cols]
            lines.append(f"| **{name}** | {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def ratio_table(summary: pd.DataFrame, method: str) -> list[str]:
    """Lines of ``method``'s table: per recording, gap kind and length, the RMSE ratio to
    linear interpolation (95th-percentile ratio in brackets), then the mean and worst; no
    lines when the results have no such method."""
    s = summary[summary.method == method]
    if s.empty:  # results written before this row existed
        return []
    lines = [
        f"**{method}**: RMSE ratio to linear interpolation (95th-percentile ratio of "
        "per-gap errors in brackets); single = one keypoint, block = 3 keypoints at once\n"
    ]
    cols = [(k, n) for k in ("single", "block") for n in LENGTHS]
    lines.append("| recording | " + " | ".join(f"{k} {n} fr" for k, n in cols) + " |")
    lines.append("|---|" + "---:|" * len(cols))
    for (setup, part), g in s.groupby(["setup", "part"], sort=False):
        cells = []
        for k, n in cols:
            r = g[(g.kind == k) & (g.length == n)]
            cells.append("–" if r.empty else
                         f"{r.rmse_ratio.iloc[0]:.2f} ({r.p95_ratio.iloc[0]:.2f})")  # fmt: skip
        lines.append(f"| {setup} {part + 1} | " + " | ".join(cells) + " |")
    for label, how in (("mean", "mean"), ("worst", "max")):
        agg = s.groupby(["kind", "length"])[["rmse_ratio", "p95_ratio"]].agg(how)
        cells = [f"**{agg.loc[c, 'rmse_ratio']:.2f} ({agg.loc[c, 'p95_ratio']:.2f})**"
                 if c in agg.index else "–" for c in cols]  # fmt: skip
        lines.append(f"| **{label}** | " + " | ".join(cells) + " |")
    return lines + [""]


def tables(summary: pd.DataFrame) -> str:
    """Ratio tables (to linear) for both KeypointImputer fits, every part, and the pixels."""
    parts_ = []
    for method in (OTHERS + ALL_DRAWS, OTHERS + LOOSE + ALL_DRAWS, OWN, OTHERS, OWN + LOOSE,
                   OTHERS + LOOSE, OWN + NO_CHECK, OTHERS + NO_CHECK, OWN + UNGUARDED,
                   OTHERS + UNGUARDED):  # fmt: skip
        parts_ += ratio_table(summary, method)
    parts_.append(coverage_table(summary))
    parts_.append("Pixels, every method: RMSE / median / 95th percentile of per-gap errors "
                  "(single-keypoint gaps)\n")  # fmt: skip
    methods = [m for m in dict.fromkeys(summary.method) if not m.endswith(ALL_DRAWS)]
    parts_.append("| recording | length | " + " | ".join(methods) + " |")
    parts_.append("|---|---:|" + "---:|" * len(methods))
    single = summary[summary.kind == "single"].sort_values(["setup", "part", "length"],
                                                           kind="stable")  # fmt: skip
    for (setup, part, n), g in single.groupby(["setup", "part", "length"], sort=False):
        g = g.set_index("method")
        cells = [f"{g.loc[m, 'rmse']:.1f} / {g.loc[m, 'median']:.1f} / {g.loc[m, 'p95']:.1f}"
                 for m in methods]  # fmt: skip
        parts_.append(f"| {setup} {part + 1} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(parts_)


def common_options(p: argparse.ArgumentParser) -> None:
    """The options the keypoint benchmarks share: steps, seed, output folder, CSVs, note."""
    p.add_argument("--steps", type=int, default=None, help="KeypointImputer max_iter")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=HERE / "results")
    p.add_argument("--from-csv", nargs="+", type=Path, default=None,
                   help="rebuild the report from per-gap CSVs of earlier runs")  # fmt: skip
    p.add_argument("--note", default="", help="a sentence added to the report's header")


def results_of(args: argparse.Namespace, run_it) -> tuple[pd.DataFrame, str]:
    """The per-gap results, run now (``run_it()``) or read from ``--from-csv``, and how."""
    if args.from_csv:
        results = pd.concat([pd.read_csv(f) for f in args.from_csv], ignore_index=True)
        return results, "rebuilt from " + ", ".join(f.name for f in args.from_csv)
    t0 = time.perf_counter()
    results = run_it()
    return results, f"{(time.perf_counter() - t0) / 60:.1f} min"


def write_report(
    args: argparse.Namespace,
    name: str,
    title: str,
    results: pd.DataFrame,
    body: str,
    details: str,
    float_format: str | None = None,
    script: str | None = None,
) -> None:
    """Write ``NAME.csv`` (the per-gap results) and ``NAME.md`` (``title``, the run's header
    with ``details``, ``body``) to ``--out`` and print ``body``; shared by the keypoint
    benchmarks. ``script``: the benchmark's file name without ``.py`` when not ``name``."""
    from tabular import machine

    args.out.mkdir(parents=True, exist_ok=True)
    results.to_csv(args.out / f"{name}.csv", index=False, float_format=float_format)
    header = (
        f"Run on {_dt.date.today()} on {machine()}; seed {args.seed}; {details}. "
        f"Protocol: `benchmarks/{script or name}.py`." + (f" {args.note}" if args.note else "")
    )
    (args.out / f"{name}.md").write_text(f"# {title}\n\n{header}\n\n{body}\n")
    print(body)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--setups", nargs="+", default=list(SETUPS), choices=list(SETUPS))
    p.add_argument("--window", type=int, default=None, help="KeypointImputer window")
    common_options(p)
    args = p.parse_args(argv)
    results, note = results_of(args, lambda: run(args.setups, args.steps, args.seed, args.window))
    if results.empty:
        raise SystemExit("no set-up was available")
    fits = results.dropna(subset=["fit_s"]).drop_duplicates(["setup", "part", "method"])
    secs = fits.groupby("method").fit_s.mean()
    details = (
        f"KeypointImputer max_iter={args.steps or 'default'}, window={args.window or 'default'}; "
        f"{note}; mean fit seconds: " + ", ".join(f"{m} {v:.0f}" for m, v in secs.items())
    )
    write_report(args, "keypoint_recordings", "Keypoint repair on recordings the model has not "
                 "seen", results, tables(summarise(results)), details, "%.5g")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
