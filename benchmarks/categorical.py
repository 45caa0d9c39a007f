"""Accuracy on hidden categorical cells of a mixed table.

A mixed table is made from a numeric scikit-learn table by binning some columns into quartile
categories ("q1".."q4", `str` dtype); 20% of all cells are hidden (MCAR) and the accuracy on the
hidden categorical cells is compared for mode imputation, MissForest-style (IterativeImputer +
ExtraTrees on the category codes, rounded to the nearest code) and `aeimpute.Imputer`.

Usage: ``.venv/bin/python benchmarks/categorical.py [--seeds 3]``; writes
``results/categorical.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

# each method gets one thread (benchmark processes run side by side on the cores);
# set AEIMPUTE_NUM_THREADS to change it
os.environ.setdefault("AEIMPUTE_NUM_THREADS", "1")

HERE = Path(__file__).resolve().parent
LEVELS = ["q1", "q2", "q3", "q4"]


def mixed_table(name: str, n_binned: int = 3) -> tuple[pd.DataFrame, list[str]]:
    """A scikit-learn table with its first ``n_binned`` columns turned into quartile labels."""
    from sklearn import datasets

    X = getattr(datasets, f"load_{name}")(as_frame=True).data.astype(float)
    cats = list(X.columns[:n_binned])
    for c in cats:
        X[c] = pd.array(pd.qcut(X[c], 4, labels=LEVELS).astype(str), dtype="str")
    return X, cats


def _codes(df: pd.DataFrame, cats: list[str]) -> pd.DataFrame:
    out = df.copy()
    for c in cats:
        out[c] = df[c].map({lv: float(i) for i, lv in enumerate(LEVELS)}).astype(float)
    return out


def mode_impute(df: pd.DataFrame, cats: list[str]) -> pd.DataFrame:
    out = df.copy()
    for c in df.columns:
        fill = df[c].mode().iloc[0] if c in cats else df[c].mean()
        out[c] = df[c].fillna(fill)
    return out


def missforest_impute(df: pd.DataFrame, cats: list[str], seed: int) -> pd.DataFrame:
    from sklearn.ensemble import ExtraTreesRegressor
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer

    codes = _codes(df, cats)
    imp = IterativeImputer(
        estimator=ExtraTreesRegressor(n_estimators=50, n_jobs=1, random_state=seed),
        max_iter=10,
        random_state=seed,
    )
    filled = pd.DataFrame(imp.fit_transform(codes), columns=df.columns, index=df.index)
    out = df.copy()
    for c in cats:
        idx = np.clip(np.rint(filled[c].to_numpy()), 0, len(LEVELS) - 1).astype(int)
        out[c] = df[c].where(df[c].notna(), pd.Series(np.array(LEVELS)[idx], index=df.index))
    return out


def report(res: pd.DataFrame, n_seeds: int) -> str:
    """Markdown table: datasets x methods, mean ± std accuracy and seconds, best in bold."""
    stats = res.groupby(["dataset", "method"], sort=False).agg(
        acc=("accuracy", "mean"), sd=("accuracy", "std"), sec=("seconds", "mean")
    )
    lines = [
        f"Accuracy on hidden categorical cells (3 columns binned into quartiles, 20% MCAR over "
        f"all cells), mean ± std over {n_seeds} seeds; higher is better, best in bold.",
        "",
        "| dataset | " + " | ".join(dict.fromkeys(res.method)) + " |",
        "|---" + "|---:" * res.method.nunique() + "|",
    ]
    for name in dict.fromkeys(res.dataset):
        sub = stats.loc[name]
        best = sub.acc.max()
        cells = []
        for _, r in sub.iterrows():
            t = f"{r.acc:.3f} ± {r.sd:.3f} ({r.sec:.0f} s)"
            cells.append(f"**{t}**" if r.acc == best else t)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


METHODS = ("mode / mean", "MissForest", "aeimpute")


def impute(method: str, Xm: pd.DataFrame, cats: list[str], seed: int) -> pd.DataFrame:
    """Complete ``Xm`` with one of :data:`METHODS`."""
    from aeimpute import Imputer

    if method == "mode / mean":
        return mode_impute(Xm, cats)
    if method == "MissForest":
        return missforest_impute(Xm, cats, seed)
    return Imputer(random_state=seed).fit_transform(Xm)


def main(argv: list[str] | None = None) -> int:
    from aeimpute.metrics import categorical_accuracy

    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--datasets", nargs="+", default=["wine", "breast_cancer"])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--out", type=Path, default=HERE / "results")
    args = p.parse_args(argv)
    rows = []
    for name in args.datasets:
        X, cats = mixed_table(name)
        for seed in range(args.seeds):
            rng = np.random.default_rng(seed)
            mask = rng.random(X.shape) < 0.2
            Xm = X.mask(mask)
            for method in METHODS:
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    out = impute(method, Xm, cats, seed)
                seconds = time.perf_counter() - start
                accs = [
                    categorical_accuracy(X[c], out[c], mask[:, X.columns.get_loc(c)]) for c in cats
                ]
                rows.append(
                    {
                        "dataset": name,
                        "seed": seed,
                        "method": method,
                        "accuracy": float(np.mean(accs)),
                        "seconds": seconds,
                    }
                )
                print(
                    f"{name:14s} seed {seed} {method:12s} {rows[-1]['accuracy']:.3f} {seconds:.1f}s"
                )
    res = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    res.to_csv(args.out / "categorical_results.csv", index=False)
    text = report(res, args.seeds)
    (args.out / "categorical.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
