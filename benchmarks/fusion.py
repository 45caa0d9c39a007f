"""Fused multi-channel benchmark: sensor outages in UCI Air Quality, every method in one run.

Usage (from the repository root, after ``make demo`` or ``make test`` created ``.venv``)::

    make bench-fusion                                   # updates results/ (shown on the docs site)
    .venv/bin/python benchmarks/fusion.py --steps 300 --seeds 0 --out /tmp/fusion   # quick look

Data: ``../shared/data/tabular/air_quality.csv`` (hourly readings, March 2004 to
April 2005, with real outages). Channels: the five metal-oxide ``sensors`` of
the device, the ``reference`` analysers (CO, NMHC, benzene, NOx, NO2) and the
``weather`` readings (T, RH, AH).

Protocol: on top of the real gaps, two scenarios are drawn per seed.
``outage``: each channel is hidden, all its columns at once, for runs of 24 to
168 consecutive hours until 10% of its rows are hidden
(:func:`aeimpute.simulate.channel_blocks`). ``mcar``: 20% of the observed
cells are hidden at random. Every method fills the same damaged table; the
score is the RMSE on the hidden cells that were observed, after min-max
scaling each column by its observed range, per channel and overall, plus the
wall time of ``fit_transform``.

Downstream (``examples/fusion_preprocessing.py``, one run per seed): the
reference CO is predicted from the sensors, the weather and the time of day
by gradient boosting trained on the first 60% of the hours, after each way of
handling the holes in its inputs (real gaps plus sensor and weather outages
of 24-168 hours on 15% of the rows); RMSE in mg/m^3 on the later hours.
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
DATA = ROOT.parent / "shared" / "data" / "tabular" / "air_quality.csv"
sys.path.insert(0, str(HERE))

CHANNELS = {
    "sensors": ["PT08.S1(CO)", "PT08.S2(NMHC)", "PT08.S3(NOx)", "PT08.S4(NO2)", "PT08.S5(O3)"],
    "reference": ["CO(GT)", "NMHC(GT)", "C6H6(GT)", "NOx(GT)", "NO2(GT)"],
    "weather": ["T", "RH", "AH"],
}
OUTAGE_RATE = 0.10
OUTAGE_HOURS = (24, 168)
MCAR_RATE = 0.20
DESCRIBE = {
    "outage": "whole channels hidden for 24-168 h runs, 10% of rows per channel",
    "mcar": "20% of observed cells hidden at random",
}


def load_air_quality(path: Path = DATA) -> pd.DataFrame | None:
    """The hourly table with a DatetimeIndex, or None when the file is absent."""
    if not path.exists():
        return None
    return pd.read_csv(path, parse_dates=["timestamp"], index_col="timestamp")


def damage(df: pd.DataFrame, scenario: str, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The table with extra cells hidden, and the mask of hidden cells that were observed."""
    from aeimpute import simulate

    if scenario == "outage":
        damaged, mask = simulate.channel_blocks(
            df, CHANNELS, OUTAGE_RATE, OUTAGE_HOURS, rng=np.random.default_rng(seed)
        )
    elif scenario == "mcar":
        damaged, mask = simulate.mcar(df, MCAR_RATE, rng=np.random.default_rng(seed))
    else:
        raise ValueError(f"unknown scenario {scenario!r}")
    return damaged, mask & df.notna().to_numpy()


# ----------------------------------------------------------------------------- methods
def methods(seed: int, steps: int | None) -> dict[str, Callable[[], object]]:
    """Factories of every method, seeded; aeimpute in three variants."""
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer
    from sklearn.linear_model import BayesianRidge
    from tabular import ScaledKNN

    from aeimpute import Imputer
    from aeimpute.baselines import InterpolationImputer, LowRankImputer

    extra = {} if steps is None else {"max_iter": steps}
    return {
        "time interpolation": lambda: InterpolationImputer(method="linear", along="index"),
        "low-rank": lambda: LowRankImputer(random_state=seed),
        "KNN": lambda: ScaledKNN(n_neighbors=5),
        "MICE": lambda: IterativeImputer(estimator=BayesianRidge(), max_iter=10, random_state=seed),
        "aeimpute, rows only": lambda: Imputer(temporal=False, random_state=seed, **extra),
        "aeimpute, rows + channels": lambda: Imputer(
            channels=CHANNELS, temporal=False, random_state=seed, **extra
        ),
        "aeimpute, temporal": lambda: Imputer(random_state=seed, **extra),
        "aeimpute, temporal + channels": lambda: Imputer(
            channels=CHANNELS, random_state=seed, **extra
        ),
    }


def channel_rmse(df: pd.DataFrame, out: pd.DataFrame, mask: np.ndarray) -> dict[str, float]:
    """RMSE on the hidden cells per channel and overall, columns min-max scaled."""
    from aeimpute.metrics import rmse

    truth, filled = df.to_numpy(dtype=float), np.asarray(out, dtype=float)
    res = {"all": rmse(truth, filled, mask)}
    for name, cols in CHANNELS.items():
        pos = [df.columns.get_loc(c) for c in cols]
        res[name] = rmse(truth[:, pos], filled[:, pos], mask[:, pos])
    return res


def run(df: pd.DataFrame, scenarios: list[str], seeds: list[int], steps: int | None):
    rows = []
    for scenario in scenarios:
        for seed in seeds:
            damaged, mask = damage(df, scenario, seed)
            for name, make in methods(seed, steps).items():
                t0 = time.perf_counter()
                out = make().fit_transform(damaged)
                seconds = time.perf_counter() - t0
                scores = channel_rmse(df, out, mask)
                rows.append({"scenario": scenario, "seed": seed, "method": name,
                             "seconds": seconds, **scores})  # fmt: skip
                print(f"{scenario} seed {seed} {name:30s} all {scores['all']:.4f} "
                      f"({seconds:.1f} s)", flush=True)  # fmt: skip
    return pd.DataFrame(rows)


def tables(results: pd.DataFrame) -> str:
    """One markdown table per scenario: mean RMSE per channel, best in bold, ratio to the best."""
    parts = []
    cols = ["all", *CHANNELS]
    for scenario, sub in results.groupby("scenario", sort=False):
        mean = sub.groupby("method", sort=False)[[*cols, "seconds"]].mean()
        ours = "aeimpute, temporal + channels"
        others = mean.drop(index=[m for m in mean.index if m.startswith("aeimpute")])
        best_other = others[cols].min()
        lines = [
            f"**{scenario}** ({DESCRIBE[scenario]})",
            "",
            "| method | " + " | ".join(cols) + " | seconds |",
            "|---|" + "---:|" * (len(cols) + 1),
        ]
        for method, row in mean.iterrows():
            cells = []
            for c in cols:
                text = f"{row[c]:.4f}"
                cells.append(f"**{text}**" if row[c] == mean[c].min() else text)
            lines.append(f"| {method} | " + " | ".join(cells) + f" | {row['seconds']:.1f} |")
        if ours in mean.index:
            ratio = mean.loc[ours, cols] / best_other
            lines.append(
                f"| *{ours} / best non-aeimpute* | "
                + " | ".join(f"*{r:.2f}*" for r in ratio)
                + " | |"
            )
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def downstream(df: pd.DataFrame, seeds: list[int], steps: int | None) -> str:
    """Mean downstream CO error per preprocessing over ``seeds``, as a markdown table."""
    sys.path.insert(0, str(ROOT / "examples"))
    from fusion_preprocessing import compare

    tables, incomplete, n_test = [], [], 0
    for seed in seeds:
        table, n_test, n_incomplete = compare(df, steps, seed, echo=False)
        tables.append(table.assign(seed=seed))
        incomplete.append(n_incomplete)
        print(f"downstream seed {seed}:\n{table.round(3).to_string(index=False)}", flush=True)
    mean = (
        pd.concat(tables)
        .groupby("preprocessing", sort=False)[["RMSE", "RMSE + indicators", "seconds"]]
        .mean()
    )
    best = np.nanmin(mean[["RMSE", "RMSE + indicators"]].to_numpy())
    lines = [
        f"**downstream**: CO(GT) test RMSE in mg/m^3 (gradient boosting; {n_test} test hours, "
        f"{np.mean(incomplete):.0f} of them with incomplete inputs; mean over seeds {seeds})",
        "",
        "| preprocessing | RMSE | RMSE with missing indicators | seconds |",
        "|---|---:|---:|---:|",
    ]
    for name, row in mean.iterrows():
        cells = []
        for c in ("RMSE", "RMSE + indicators"):
            text = "–" if np.isnan(row[c]) else f"{row[c]:.3f}"
            cells.append(f"**{text}**" if row[c] == best else text)
        lines.append(f"| {name} | {cells[0]} | {cells[1]} | {row['seconds']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from tabular import machine, publish

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--scenarios", nargs="*", default=["outage", "mcar"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=None, help="Imputer max_iter (default: its own)")
    p.add_argument("--downstream-seeds", nargs="*", type=int, default=[0, 1, 2])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--out", type=Path, default=HERE / "results")
    p.add_argument(
        "--merge", nargs="+", type=Path, metavar="DIR",
        help="do not run: combine the fusion.csv and fusion_downstream.md of earlier runs "
        "(e.g. one per scenario, run side by side) into one report",
    )  # fmt: skip
    args = p.parse_args(argv)
    df = load_air_quality(args.data)
    if df is None:
        print(f"skipping: {args.data} not found", flush=True)
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    if args.merge:
        results = pd.concat([pd.read_csv(d / "fusion.csv") for d in args.merge])
        parts = [d / "fusion_downstream.md" for d in args.merge]
        down = "\n\n".join(f.read_text().strip() for f in parts if f.exists())
    else:
        results = run(df, args.scenarios, args.seeds, args.steps) if args.scenarios else None
        down = downstream(df, args.downstream_seeds, args.steps) if args.downstream_seeds else ""
        if down:
            (args.out / "fusion_downstream.md").write_text(down + "\n")
        if results is None:
            print(down)
            return 0
    results.to_csv(args.out / "fusion.csv", index=False)
    seeds = sorted(results["seed"].unique().tolist())
    header = (
        f"Run on {_dt.date.today()} on {machine()}; UCI Air Quality ({len(df)} hourly rows x "
        f"{df.shape[1]} columns, real gaps kept); seeds {seeds}; Imputer "
        f"max_iter={args.steps or 'default'}; {results['seconds'].sum() / 60:.0f} min of "
        "imputation in all. RMSE on the hidden cells, columns min-max scaled; best per "
        "column in bold; seconds = fit_transform on one core."
    )
    body = tables(results) + (f"\n\n{down}" if down else "")
    publish(args.out / "fusion.md", "Fusion benchmark: sensor outages", header, body, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
