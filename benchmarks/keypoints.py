"""Keypoint repair benchmark: every method on the same occlusion gaps, in one run.

Usage (from the repository root, after ``make demo`` or ``make test`` created ``.venv``)::

    make bench-keypoints            # all data sets, updates results/ (shown on the docs site)
    .venv/bin/python benchmarks/keypoints.py --datasets synthetic --steps 300   # quick look

Protocol: points the tracker was confident about serve as ground truth
(DeepLabCut likelihood >= 0.9; SLEAP point score >= 0.5; every point of the
synthetic sample). :func:`aeimpute.simulate.keypoint_gaps` hides gaps of
exactly 1, 3, 10, 30 and 60 frames on them, for one keypoint at a time and
for blocks of 3 keypoints at once, with every gap's neighbouring frames kept,
so every gap keeps its length. Points below the confidence cut-off are
removed too (as a user's cut-off would), for every method alike. Each method
then fills the same damaged recording, and the pixel error on the hidden points is reported by gap
length and kind: RMSE, and PCK (share within 5 px). ``KeypointImputer`` is
fitted on the damaged recording itself, as a user would.

Data: ``../shared/data/keypoints`` when present (SLEAP flies; the Lightning
Pose mouse in DeepLabCut CSV format, read with the library's own readers),
and a generated sample (:func:`aeimpute.keypoints.simulate_poses`) always.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

# each method gets one thread (benchmark processes run side by side on the cores);
# set AEIMPUTE_NUM_THREADS to change it
os.environ.setdefault("AEIMPUTE_NUM_THREADS", "1")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared" / "data" / "keypoints"
sys.path.insert(0, str(HERE))

LENGTHS = (1, 3, 10, 30, 60)
PCK_PX = 5.0
MOUSE_CSV = "eks_mirror_mouse/180607_004.train_frames=75.rng={seed}.csv"


# ----------------------------------------------------------------------------- data
def load(name: str):
    """(PoseData, reliable mask) for a data set name, or None when its file is absent."""
    from aeimpute.keypoints import PoseData, read_dlc, read_sleap, simulate_poses

    if name == "synthetic":
        xy = simulate_poses(n_frames=3000, n_keypoints=9, n_individuals=2, random_state=0)
        pose = PoseData(xy)
        return pose, np.ones(xy.shape[:-1], dtype=bool)
    if name == "sleap_flies":
        path = SHARED / "sleap_flies.analysis.h5"
        if not path.exists():
            return None
        pose = read_sleap(path)
        scores = SHARED / "sleap_flies.npz"  # the point scores come from the .slp
        if scores.exists():
            pose.confidence = np.load(scores)["confidence"].astype(float)
            reliable = np.isfinite(pose.xy).all(-1) & (np.nan_to_num(pose.confidence) >= 0.5)
        else:
            reliable = np.isfinite(pose.xy).all(-1)
        return pose, reliable
    if name.startswith("mouse"):
        seed = int(name.split("rng")[-1]) if "rng" in name else 0
        path = SHARED / MOUSE_CSV.format(seed=seed)
        if not path.exists():
            return None
        pose = read_dlc(path)
        reliable = np.isfinite(pose.xy).all(-1) & (np.nan_to_num(pose.confidence) >= 0.9)
        return pose, reliable
    raise SystemExit(f"unknown data set {name!r}")


# ----------------------------------------------------------------------------- methods
def _table(method: Callable[[pd.DataFrame], np.ndarray]) -> Callable:
    """Run a table imputer on the (frames x coordinates) view of a pose."""

    def run(pose, seed):
        frame = pose.to_frame()
        filled = np.asarray(method(frame, seed), dtype=float)
        return filled.reshape(pose.xy.shape)

    return run


def interpolation(kind: str):
    """Interpolation of each coordinate over its gaps (``"linear"``, ``"pchip"``)."""
    from aeimpute.baselines import InterpolationImputer

    return _table(lambda f, s: InterpolationImputer(method=kind).fit_transform(f))


def _lowrank():
    from aeimpute.baselines import LowRankImputer

    return _table(lambda f, s: LowRankImputer(random_state=s).fit_transform(f))


def kalman():
    """Constant-velocity Kalman (RTS) smoother of each coordinate."""
    from aeimpute.baselines import kalman_smooth

    return _table(lambda f, s: kalman_smooth(f.to_numpy(dtype=float)))


def _aeimpute(steps: int | None):
    from aeimpute import KeypointImputer

    def run(pose, seed):
        kw = {} if steps is None else {"max_iter": steps}
        imp = KeypointImputer(random_state=seed, **kw)
        out = imp.fit_transform(pose)
        run.history = imp.history_
        return out.xy

    return run


def methods(steps: int | None) -> dict[str, Callable]:
    return {
        "linear": interpolation("linear"),
        "PCHIP": interpolation("pchip"),
        "low-rank": _lowrank(),
        "Kalman (CV)": kalman(),
        "KeypointImputer": _aeimpute(steps),
    }


# ----------------------------------------------------------------------------- run
def gap_labels(shape: tuple[int, ...], gaps: pd.DataFrame) -> np.ndarray:
    """Gap id of every hidden point (-1 elsewhere)."""
    label = np.full(shape, -1)
    for g in gaps.itertuples():
        for k in g.keypoints:
            label[g.start : g.start + g.length, g.individual, k] = g.gap
    return label


#: at most this share of the reliable points is hidden, so the damaged recording stays typical
MAX_HIDDEN = 0.10


def gap_counts(reliable: np.ndarray, gaps: int) -> list[int]:
    """Gaps per length and kind: ``gaps`` of the longest length, more of shorter ones.

    A length L gets ``gaps * round(sqrt(60 / L))``; all counts shrink together
    when the single and 3-keypoint gaps would hide more than ``MAX_HIDDEN`` of
    the reliable points (short recordings).
    """
    factor = [max(1, round((max(LENGTHS) / n) ** 0.5)) for n in LENGTHS]
    points = sum(f * n * 4 for f, n in zip(factor, LENGTHS, strict=True))  # 1 + 3 keypoints
    affordable = int(MAX_HIDDEN * reliable.sum() // points)
    g = max(1, min(gaps, affordable))
    return [g * f for f in factor]


def run(datasets: list[str], seeds: list[int], steps: int | None, gaps_per_length: int):
    from aeimpute.simulate import keypoint_gaps

    rows, keep = [], {}
    for name in datasets:
        loaded = load(name)
        if loaded is None:
            print(f"skipping {name}: its file is not in {SHARED.relative_to(ROOT.parent)}")
            continue
        pose, reliable = loaded
        for seed in seeds:
            counts = gap_counts(reliable, gaps_per_length)
            hidden, gaps = keypoint_gaps(reliable, LENGTHS, counts, 3, rng=seed)
            # unreliable points are missing for every method, as after a confidence cut-off
            gone = hidden | ~reliable
            damaged = pose.with_xy(np.where(gone[..., None], np.nan, pose.xy))
            if damaged.confidence is not None:
                damaged.confidence = np.where(gone, np.nan, damaged.confidence)
            label = gap_labels(hidden.shape, gaps)
            for method, fn in methods(steps).items():
                t0 = time.perf_counter()
                out = fn(damaged, seed)
                seconds = time.perf_counter() - t0
                seen = np.isfinite(damaged.xy).all(-1)
                assert np.array_equal(out[seen], damaged.xy[seen]), f"{method} changed points"
                dist = np.linalg.norm(out - pose.xy, axis=-1)
                for (length, kind), ids in gaps.groupby(["length", "kind"])["gap"]:
                    d = dist[np.isin(label, ids.to_numpy())]
                    rows.append(
                        {
                            "dataset": name, "seed": seed, "method": method, "length": length,
                            "kind": kind, "gaps": len(ids), "points": d.size,
                            "rmse_px": float(np.sqrt(np.mean(d**2))),
                            "median_px": float(np.median(d)), "pck": float(np.mean(d <= PCK_PX)),
                            "seconds": seconds,
                        }
                    )  # fmt: skip
                if method == "KeypointImputer":
                    hist = fn.history
                    print(
                        f"  KeypointImputer: {hist['steps']} steps, best {hist['best_step']}, "
                        f"blend {hist['blend']}\n  calibration {hist['calibration']}", flush=True,
                    )  # fmt: skip
                print(f"{name} seed {seed} {method}: {seconds:.1f} s", flush=True)
                keep[(name, seed, method)] = out
            keep[(name, seed, "truth")] = pose.xy
            keep[(name, seed, "gaps")] = gaps
    return pd.DataFrame(rows), keep


# ----------------------------------------------------------------------------- report
def family(dataset: str) -> str:
    """Data sets reported together: the five mouse network seeds are one recording."""
    return "mouse (5 network seeds)" if dataset.startswith("mouse") else dataset


def pooled(sub: pd.DataFrame) -> pd.Series:
    """RMSE and PCK over all points of a group (not the mean of per-run RMSEs)."""
    pts = sub["points"].to_numpy(float)
    rmse = np.sqrt(np.sum(pts * sub["rmse_px"].to_numpy() ** 2) / pts.sum())
    pck = np.sum(pts * sub["pck"].to_numpy()) / pts.sum()
    return pd.Series({"rmse_px": rmse, "pck": pck, "gaps": sub["gaps"].sum()})


def tables(results: pd.DataFrame) -> str:
    parts = []
    results = results.assign(family=results["dataset"].map(family))
    for name, r in results.groupby("family", sort=False):
        for kind in ("single", "block"):
            sub = r[r["kind"] == kind]
            if sub.empty:
                continue
            agg = sub.groupby(["method", "length"])[["points", "rmse_px", "pck", "gaps"]].apply(
                pooled
            )
            piv = agg["rmse_px"].unstack("length")
            pck = agg["pck"].unstack("length")
            n_gaps = agg["gaps"].unstack("length").iloc[0].astype(int)
            order = [m for m in methods(None) if m in piv.index]
            piv, pck = piv.loc[order], pck.loc[order]
            lin = piv.loc["linear"]
            what = "one keypoint" if kind == "single" else "3 keypoints at once"
            counts = ", ".join(f"{n} of {c}" for c, n in n_gaps.items())
            parts.append(
                f"**{name}**, gaps of {what} ({counts} frames): pixel RMSE (PCK@{PCK_PX:g}px)\n"
            )
            parts.append(
                "| method | " + " | ".join(f"{c} fr" for c in piv.columns) + " | seconds |"
            )
            parts.append("|---|" + "---:|" * (len(piv.columns) + 1))
            runs = r.drop_duplicates(["dataset", "seed", "method"])
            secs = runs.groupby("method")["seconds"].mean()
            for m in order:
                cells = []
                for c in piv.columns:
                    best = piv[c].min() == piv.loc[m, c]
                    cell = f"{piv.loc[m, c]:.2f} ({pck.loc[m, c]:.2f})"
                    cells.append(f"**{cell}**" if best else cell)
                parts.append(f"| {m} | " + " | ".join(cells) + f" | {secs[m]:.1f} |")
            ratio = piv.loc["KeypointImputer"] / lin
            parts.append(
                "| *KeypointImputer / linear* | " + " | ".join(f"*{x:.2f}*" for x in ratio) + " | |"
            )
            parts.append("")
    return "\n".join(parts)


def plot(keep: dict, results: pd.DataFrame, path: Path) -> None:
    """Truth, gap and each method's repair of the first 60-frame single gap of each data set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(results["dataset"]))
    fig, axes = plt.subplots(len(names), 1, figsize=(8, 2.8 * len(names)), squeeze=False)
    for ax, name in zip(axes[:, 0], names, strict=True):
        seed = int(results[results["dataset"] == name]["seed"].iloc[0])
        gaps = keep[(name, seed, "gaps")]
        g = gaps[(gaps["kind"] == "single") & (gaps["length"] == max(LENGTHS))]
        if g.empty:
            continue
        g = g.iloc[0]
        k, ind = g["keypoints"][0], g["individual"]
        lo, hi = max(0, g["start"] - 40), g["start"] + g["length"] + 40
        t = np.arange(lo, hi)
        truth = keep[(name, seed, "truth")][lo:hi, ind, k, 0]
        ax.plot(t, truth, color="black", lw=2, label="truth")
        ax.axvspan(g["start"], g["start"] + g["length"] - 1, color="0.9")
        for m in methods(None):
            ax.plot(t, keep[(name, seed, m)][lo:hi, ind, k, 0], lw=1, label=m)
        ax.set_title(f"{name}: keypoint {k}, individual {ind}, {g['length']}-frame gap (x)")
        ax.set_xlabel("frame")
        ax.set_ylabel("x (px)")
    axes[0, 0].legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


#: transforms timed per setting; the median is reported
TIMING_REPEATS = 3
#: the transform settings timed: (error_bars, precision, second_window)
TIMING_SETTINGS = (("recording", "auto", None), ("recording", "float32", None),
                   ("fit", "auto", None), ("recording", "auto", 64))  # fmt: skip
TIMING_HEADER = (
    "| frames x keypoints | threads | steps | fit (s) | transform (s) | frames/s | "
    "transform, precision='float32' (s) | frames/s | transform, error_bars='fit' (s) | "
    "frames/s | second_window=64: fit (s) | transform (s) | frames/s | "
    "largest move, auto vs float32 (px) |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def timing(n_frames: int, n_keypoints: int, n_threads: int) -> str:
    """Fit and transform time of KeypointImputer on a generated recording (transform: the
    median of ``TIMING_REPEATS`` runs per setting of ``TIMING_SETTINGS``, the settings taking
    turns), with one network and with ``second_window=64``, and how far the default precision
    moves repaired points from float32's."""
    from aeimpute import KeypointImputer
    from aeimpute.keypoints import simulate_poses
    from aeimpute.simulate import keypoint_gaps

    xy = simulate_poses(n_frames=n_frames, n_keypoints=n_keypoints, random_state=0)
    hidden, _ = keypoint_gaps(np.ones(xy.shape[:-1], bool), LENGTHS, n_frames // 500, 3, rng=0)
    xy[hidden] = np.nan
    models, fit_s = {}, {}
    for second in dict.fromkeys(s[2] for s in TIMING_SETTINGS):
        t0 = time.perf_counter()
        models[second] = KeypointImputer(random_state=0, n_jobs=n_threads, second_window=second)
        models[second].fit(xy)
        fit_s[second] = time.perf_counter() - t0
        models[second].transform(xy[:1000])  # warm-up
    runs = {setting: [] for setting in TIMING_SETTINGS}
    outs = {}
    for _ in range(TIMING_REPEATS):
        for setting in TIMING_SETTINGS:
            error_bars, precision, second = setting
            imp = models[second].set_params(error_bars=error_bars, precision=precision)
            t0 = time.perf_counter()
            outs[setting] = imp.transform(xy)
            runs[setting].append(time.perf_counter() - t0)
    cells = []
    for setting in TIMING_SETTINGS:
        tr_s = float(np.median(runs[setting]))
        if setting[2] is not None:
            cells.append(f"{fit_s[setting[2]]:.1f}")
        cells.append(f"{tr_s:.2f} | {n_frames / tr_s:,.0f}")
    move = np.abs(outs["recording", "auto", None] - outs["recording", "float32", None]).max()
    return (
        f"| {n_frames:,} x {n_keypoints} | {n_threads} | {models[None].history_['steps']} | "
        f"{fit_s[None]:.1f} | " + " | ".join(cells) + f" | {move:.3f} |"
    )


def main(argv: list[str] | None = None) -> int:
    from tabular import machine, publish

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--datasets", nargs="+",
        default=["synthetic", "sleap_flies"] + [f"mouse_rng{i}" for i in range(5)],
        help="synthetic, sleap_flies, mouse_rng0 ... mouse_rng4",
    )  # fmt: skip
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--steps", type=int, default=None, help="KeypointImputer max_iter")
    p.add_argument(
        "--gaps", type=int, default=40,
        help="gaps of the longest length per kind; shorter lengths get more (x sqrt(60 / length))",
    )  # fmt: skip
    p.add_argument("--out", type=Path, default=HERE / "results")
    p.add_argument(
        "--timing", action="store_true",
        help="only time fit and transform on a generated 50,000 x 9 recording",
    )  # fmt: skip
    p.add_argument("--threads", type=int, default=2, help="torch threads for --timing")
    args = p.parse_args(argv)
    if args.timing:
        from aeimpute.runtime import native_bfloat16

        table = TIMING_HEADER + "\n" + timing(50_000, 9, args.threads)
        auto = "bfloat16" if native_bfloat16("cpu") else "float32"
        print(table)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "keypoints_timing.md").write_text(
            f"# KeypointImputer timing\n\nRun on {_dt.date.today()} on {machine()}; this run "
            f"sets n_jobs={args.threads}. A generated recording (simulate_poses) with "
            f"occlusion gaps; fit with default settings, then transform of all frames: with "
            f"the default error_bars='recording' (error bars measured again on the recording: "
            f"occlusion draws over at most 16,384 of its frames) and with error_bars='fit'; "
            f"the default precision='auto' ({auto} on this machine) and precision='float32'; "
            f"and a model with second_window=64 (two networks, repairs averaged); "
            f"transform times are the median of {TIMING_REPEATS} runs, the settings taking "
            f"turns.\n\n"
            f"{table}\n"
        )
        return 0
    t0 = time.perf_counter()
    results, keep = run(args.datasets, args.seeds, args.steps, args.gaps)
    if results.empty:
        raise SystemExit("no data set was available")
    args.out.mkdir(parents=True, exist_ok=True)
    results.to_csv(args.out / "keypoints.csv", index=False)
    minutes = (time.perf_counter() - t0) / 60
    header = (
        f"Run on {_dt.date.today()} on {machine()}; seeds {args.seeds}; per kind {args.gaps} gaps "
        f"of 60 and 30 frames, 2x as many of 10, 4x of 3 and 8x of 1 frame; "
        f"KeypointImputer max_iter={args.steps or 'default'}; "
        f"{minutes:.1f} min in all. Pixel RMSE on the hidden points (PCK = share within "
        f"{PCK_PX:g} px); best per column in bold; seconds = fit + transform per recording."
    )
    body = tables(results)
    publish(args.out / "keypoints.md", "Keypoint repair benchmark", header, body, None)
    short = {"sleap_flies": "flies", "synthetic": "synthetic"}
    names = dict.fromkeys(short.get(d, "mouse") for d in results["dataset"])
    plot(keep, results, args.out / f"keypoints_trajectory_{'_'.join(sorted(names))}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
