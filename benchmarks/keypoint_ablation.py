"""Keypoint model ablation: what a wider, longer-trained, longer- or shorter-sighted network,
training occlusions of other lengths, noisy training inputs, or two models averaged, buys on a
recording the model has not seen.

Usage (from the repository root, after ``make demo`` or ``make test`` created ``.venv``)::

    .venv/bin/python benchmarks/keypoint_ablation.py                       # every set-up
    .venv/bin/python benchmarks/keypoint_ablation.py --setups synthetic --steps 60  # quick
    .venv/bin/python benchmarks/keypoint_ablation.py --variants "windows 256 and 64, averaged" \
        --parts 0 1 2 --report keypoint_ablation_windows            # the two windows, every part

Protocol: that of ``benchmarks/keypoint_recordings.py`` (the longest shared recordings split
into parts; the same confidence cut-offs and artificial gaps). For each set-up, the parts
named by ``--parts`` are repaired by ``KeypointImputer`` fitted on the other parts of the
set-up, once per variant of the model (``VARIANTS``; defaults otherwise, guard and check on);
"two seeds, averaged" is the mean of the default model's repair and that of a second default
model fitted with the next seed, "windows 256 and 64, averaged" the mean of the default
model's repair (256-frame window) and the 64-frame window's (each model with its own blend,
guard and check). ``--variants`` runs some of them (with the fits they need). Every variant
and linear interpolation repair the same
``COVERAGE_DRAWS + 1`` gap draws of the part; scores are pooled over the draws, as ratios to
linear interpolation of the same gaps. Fit seconds are those of one thread per process.
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

from keypoint_recordings import (  # noqa: E402
    ALL_DRAWS,
    COVERAGE_DRAWS,
    SETUPS,
    common_options,
    draw_seed,
    gap_draw,
    others_of,
    ratio_table,
    results_of,
    scored,
    split_setups,
    summarise,
    write_report,
)

#: variant name: KeypointImputer parameters (``max_iter`` as a multiple of the default's)
VARIANTS = {
    "default": {},
    "width=128": {"width": 128},
    "twice the steps": {"max_iter": 2},
    "window=512": {"window": 512},
    "window=64": {"window": 64},
    "gap_range=(1, 30)": {"gap_range": (1, 30)},
    "noise_std=0.02": {"noise_std": 0.02},
}
ENSEMBLE = "two seeds, averaged"
WINDOWS = "windows 256 and 64, averaged"
#: averaged variants: the variants whose repairs are averaged (``ENSEMBLE``'s second model is
#: the default fitted with the next seed)
AVERAGED = {ENSEMBLE: ("default",), WINDOWS: ("default", "window=64")}
#: the columns of the summary table: (kind, gap length)
SUMMARY_COLUMNS = [("single", 1), ("single", 3), ("single", 10), ("single", 30),
                   ("block", 10), ("block", 30)]  # fmt: skip


def params_of(variant: dict, steps: int) -> dict:
    """KeypointImputer parameters of a variant, ``steps`` being the default's ``max_iter``."""
    return variant | {"max_iter": steps * variant.get("max_iter", 1)}


def fitted_variants(chosen: list[str]) -> list[str]:
    """The variants of ``VARIANTS`` to fit for the ``chosen`` variants (averaged ones need
    theirs)."""
    need = {v for c in chosen for v in AVERAGED.get(c, (c,))}
    return [v for v in VARIANTS if v in need]


def run(
    setups: list[str],
    part_ids: list[int],
    steps: int | None,
    seed: int,
    chosen: list[str] | None = None,
    log=print,
):
    from keypoints import interpolation

    from aeimpute import KeypointImputer

    steps = steps or KeypointImputer().max_iter
    chosen = chosen or methods()
    linear = interpolation("linear")
    rows = []
    for setup, split in split_setups(setups, log):
        for i in [p for p in part_ids if p < len(split)]:
            pose, reliable = split[i]
            others = others_of(split, i)
            fits, seconds = {}, {}
            for name in fitted_variants(chosen):
                t0 = time.perf_counter()
                kw = params_of(VARIANTS[name], steps)
                fits[name] = KeypointImputer(random_state=seed, **kw).fit(others)
                seconds[name] = time.perf_counter() - t0
            second = None  # the default model fitted with the next seed
            if ENSEMBLE in chosen:
                t0 = time.perf_counter()
                second = KeypointImputer(random_state=seed + 1, max_iter=steps).fit(others)
                seconds[ENSEMBLE] = seconds["default"] + time.perf_counter() - t0
            if WINDOWS in chosen:
                seconds[WINDOWS] = sum(seconds[v] for v in AVERAGED[WINDOWS])
            for d in range(COVERAGE_DRAWS + 1):
                damaged, gaps = gap_draw(pose, reliable, draw_seed(seed, i, d))
                outs = {name: imp.transform(damaged).xy for name, imp in fits.items()}
                if second is not None:
                    outs[ENSEMBLE] = (outs["default"] + second.transform(damaged).xy) / 2
                if WINDOWS in chosen:
                    outs[WINDOWS] = sum(outs[v] for v in AVERAGED[WINDOWS]) / 2
                outs["linear"] = linear(damaged, seed)
                for m, out in outs.items():
                    table = scored(out, pose, gaps, d)
                    rows.append(table.assign(setup=setup, part=i, method=m + ALL_DRAWS,
                                             fit_s=seconds.get(m, np.nan)))  # fmt: skip
            log(f"{setup} part {i}: fits " + ", ".join(f"{m} {s:.0f} s" for m, s in
                                                        seconds.items()))  # fmt: skip
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def methods() -> list[str]:
    return list(VARIANTS) + list(AVERAGED)


def summary_table(summary: pd.DataFrame, results: pd.DataFrame) -> str:
    """One row per variant: mean and worst RMSE ratio over the recordings, fit seconds."""
    head = " | ".join(f"{k} {n} fr" for k, n in SUMMARY_COLUMNS)
    lines = [
        "RMSE ratio to linear interpolation of the same gaps, mean / worst over the "
        "recordings (single = one keypoint, block = 3 at once); mean fit seconds\n",
        f"| variant | {head} | fit s |",
        "|---|" + "---:|" * (len(SUMMARY_COLUMNS) + 1),
    ]
    for m in methods():
        s = summary[summary.method == m + ALL_DRAWS]
        if s.empty:
            continue
        agg = s.groupby(["kind", "length"]).rmse_ratio.agg(["mean", "max"])
        cells = [f"{agg.loc[c, 'mean']:.2f} / {agg.loc[c, 'max']:.2f}" if c in agg.index
                 else "–" for c in SUMMARY_COLUMNS]  # fmt: skip
        fit = results[results.method == m + ALL_DRAWS].drop_duplicates(["setup", "part"]).fit_s
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {fit.mean():.0f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--setups", nargs="+", default=list(SETUPS), choices=list(SETUPS))
    p.add_argument(
        "--parts", nargs="+", type=int, default=[0],
        help="the parts repaired (0 = the first), each by a model of the others",
    )  # fmt: skip
    p.add_argument("--variants", nargs="+", default=methods(), choices=methods(),
                   help="the variants run (with the fits they need)")  # fmt: skip
    p.add_argument("--report", default="keypoint_ablation", help="name of the .md and .csv")
    common_options(p)
    args = p.parse_args(argv)
    results, note = results_of(
        args, lambda: run(args.setups, args.parts, args.steps, args.seed, args.variants)
    )
    if results.empty:
        raise SystemExit("no set-up was available")
    summary = summarise(results)
    tables = [line for m in methods() for line in ratio_table(summary, m + ALL_DRAWS)]
    body = "\n".join([summary_table(summary, results), *tables])
    details = f"KeypointImputer max_iter={args.steps or 'default'}; {note}"
    write_report(args, args.report, "Keypoint model ablation on recordings the model has not "
                 "seen", results, body, details, "%.5g", script="keypoint_ablation")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
