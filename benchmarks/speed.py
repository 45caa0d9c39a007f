"""Time against accuracy: every method on every core, one process, the same masks.

Usage (from the repository root, after ``make demo`` or ``make test`` created ``.venv``)::

    make bench-speed                                   # about 20 minutes on 2 cores
    .venv/bin/python benchmarks/speed.py --datasets wine diabetes --seeds 1   # quick look

Protocol: the tables and 20% MCAR masks of ``benchmarks/tabular.py``; each method runs
alone in this process with every core it may use (``n_jobs=-1`` where the method has it:
MissForest-style ``IterativeImputer`` over 50 ``ExtraTreesRegressor`` and aeimpute, whose
default ``n_jobs=None`` also means every core), as a user who wants the answer fast would run
it. aeimpute runs with its defaults and with faster settings (fewer training steps, no tree
candidate), which draw a time-accuracy curve. The score is the RMSE on the hidden cells after
per-column min-max scaling, and the wall time of ``fit_transform``, mean over seeds.

Writes ``results/speed.csv``, ``results/speed.md`` and ``results/speed.png`` (one panel per
table: seconds against RMSE, every method a point, aeimpute's settings a line).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

_THREAD_VARIABLES = ("AEIMPUTE_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                     "MKL_NUM_THREADS")  # fmt: skip
_PINNED = {v for v in _THREAD_VARIABLES if v in os.environ}
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from tabular import (  # noqa: E402  (the path above makes the sibling importable)
    LETTER_ROWS,
    SKLEARN_SETS,
    ScaledKNN,
    load_datasets,
    machine,
    masked_tables,
)

for _variable in set(_THREAD_VARIABLES) - _PINNED:  # tabular.py pins one thread for its
    os.environ.pop(_variable, None)  # side-by-side processes; here each method has every core

#: aeimpute settings on the curve, from the defaults down to the fastest
AEIMPUTE_SETTINGS: dict[str, dict] = {
    "aeimpute": {},
    "aeimpute, 300 steps": {"max_iter": 300},
    "aeimpute, 300 steps, no trees": {"max_iter": 300, "trees": False},
    "aeimpute, 150 steps, no trees": {"max_iter": 150, "trees": False},
}


def methods(seed: int) -> dict[str, Callable[[], object]]:
    """Factories of every method, seeded, each on every core it can use."""
    from sklearn.ensemble import ExtraTreesRegressor
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer
    from sklearn.linear_model import BayesianRidge

    from aeimpute import Imputer
    from aeimpute.baselines import LowRankImputer

    found: dict[str, Callable[[], object]] = {
        "low-rank": lambda: LowRankImputer(random_state=seed),
        "KNN": lambda: ScaledKNN(n_neighbors=5),
        "MICE": lambda: IterativeImputer(estimator=BayesianRidge(), max_iter=10, random_state=seed),
        "MissForest": lambda: IterativeImputer(
            estimator=ExtraTreesRegressor(n_estimators=50, n_jobs=-1, random_state=seed),
            max_iter=10,
            random_state=seed,
        ),
    }
    for name, kw in AEIMPUTE_SETTINGS.items():
        found[name] = lambda kw=kw: Imputer(random_state=seed, n_jobs=-1, **kw)
    return found


def run(data: dict[str, pd.DataFrame], seeds: list[int], log=print) -> pd.DataFrame:
    """One row per (dataset, seed, method): RMSE and seconds."""
    from aeimpute.metrics import rmse

    rows = []
    for name, X, _setting, seed, X_missing, mask in masked_tables(data, ["mcar20"], seeds):
        for method, make in methods(seed).items():
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = make().fit_transform(X_missing)
            seconds = time.perf_counter() - start
            err = rmse(X, np.asarray(out, dtype=float), mask)
            rows.append(
                {"dataset": name, "seed": seed, "method": method, "rmse": err, "seconds": seconds}
            )
            log(f"{name:14s} seed {seed} {method:32s} rmse {err:.4f} {seconds:7.1f} s")
    return pd.DataFrame(rows)


def summary(results: pd.DataFrame) -> str:
    """Markdown: per table, each method's mean RMSE and seconds, and aeimpute's time ratios."""
    stats = results.groupby(["dataset", "method"], sort=False)[["rmse", "seconds"]].mean()
    lines = [
        "| dataset | method | RMSE | seconds | seconds / MissForest | RMSE / MissForest |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for ds in dict.fromkeys(results.dataset):
        mf = stats.loc[(ds, "MissForest")] if (ds, "MissForest") in stats.index else None
        for method in dict.fromkeys(results.method):
            if (ds, method) not in stats.index:
                continue
            r = stats.loc[(ds, method)]
            ratio = (
                f"{r.seconds / mf.seconds:.2f} | {r.rmse / mf.rmse:.3f}"
                if mf is not None
                else "– | –"
            )
            lines.append(f"| {ds} | {method} | {r.rmse:.4f} | {r.seconds:.1f} | {ratio} |")
    return "\n".join(lines)


def plot(results: pd.DataFrame, path: Path) -> None:
    """Seconds (log) against RMSE, one panel per table; aeimpute's settings joined by a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stats = results.groupby(["dataset", "method"], sort=False)[["rmse", "seconds"]].mean()
    datasets = list(dict.fromkeys(results.dataset))
    fig, axes = plt.subplots(1, len(datasets), figsize=(3.4 * len(datasets), 3.3), squeeze=False)
    for ax, ds in zip(axes[0], datasets, strict=True):
        sub = stats.loc[ds]
        ours = [m for m in AEIMPUTE_SETTINGS if m in sub.index]
        ax.plot(
            sub.loc[ours, "seconds"], sub.loc[ours, "rmse"], "-o", color="black", lw=2, ms=4,
            label="aeimpute (defaults, then faster settings)",
        )  # fmt: skip
        ax.plot(*sub.loc["aeimpute", ["seconds", "rmse"]], "*", color="black", ms=12)
        for method in sub.index:
            if method in AEIMPUTE_SETTINGS:
                continue
            ax.plot(sub.loc[method, "seconds"], sub.loc[method, "rmse"], "o", ms=6, label=method)
        ax.set_xscale("log")
        ax.set_title(ds)
        ax.set_xlabel("seconds (fit_transform, all cores)")
        ax.grid(alpha=0.3, which="both")
    axes[0][0].set_ylabel("RMSE, 20% MCAR (lower is better)")
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--datasets", nargs="+", default=[*SKLEARN_SETS, "letter"])
    p.add_argument("--seeds", type=int, default=3, help="number of seeds (default 3)")
    p.add_argument("--out", type=Path, default=HERE / "results")
    p.add_argument(
        "--from-csv", type=Path, default=None, help="skip running: rebuild from a result CSV"
    )
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.from_csv is not None:
        results = pd.read_csv(args.from_csv)
        note = f"rebuilt from {args.from_csv.name}"
    else:
        data = load_datasets(args.datasets, [])
        started = time.perf_counter()
        results = run(data, list(range(args.seeds)))
        note = f"total {(time.perf_counter() - started) / 60:.1f} min"
        results.to_csv(args.out / "speed.csv", index=False)
    header = (
        f"Run on {_dt.date.today().isoformat()} on {machine()}; 20% MCAR, "
        f"{results.seed.nunique()} seed(s), one process, every method on every core "
        f"(letter: {LETTER_ROWS} random rows of 20,000); {note}. Mean over seeds."
    )
    body = summary(results)
    text = f"# Time against accuracy\n\n{header}\n\n{body}\n\n![time vs RMSE](speed.png)\n"
    (args.out / "speed.md").write_text(text)
    plot(results, args.out / "speed.png")
    print(f"wrote {args.out / 'speed.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
