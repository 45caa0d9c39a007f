"""Ablation of the ``Imputer`` ingredients: which setting buys how much accuracy, at what cost.

Usage (from the repository root)::

    .venv/bin/python benchmarks/ablation.py                       # all variants, 3 seeds
    .venv/bin/python benchmarks/ablation.py --variants default refine1 --datasets wine

Every variant is scored on the same masks as ``benchmarks/tabular.py`` (same mechanism and
seeds), so the rows can be read beside the baselines of the last tabular run, which are
repeated from ``results/tabular_results.csv`` when it exists (their times come from that run).
Writes ``results/ablation.md`` and ``results/ablation_results.csv``.
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from tabular import SETTINGS, load_datasets, masked_tables  # noqa: E402

# each method gets one thread (benchmark processes run side by side on the cores);
# set AEIMPUTE_NUM_THREADS to change it
os.environ.setdefault("AEIMPUTE_NUM_THREADS", "1")

VARIANTS: dict[str, dict] = {
    "default": {},
    "no refinement pass (refine=0)": {"refine": 0},
    "refine=1 at lr 2e-3, 2000 steps": {"learning_rate": 2e-3, "max_iter": 2000},
    "0.1.0 defaults (refine=0, lr 2e-3, 2000 steps)": {
        "refine": 0,
        "learning_rate": 2e-3,
        "max_iter": 2000,
    },
    "refine=2": {"refine": 2},
    "no input noise (noise_std=0)": {"noise_std": 0.0},
    "no visible-cell loss (visible_weight=0)": {"visible_weight": 0.0},
    "no early stopping (validation_fraction=0)": {"validation_fraction": 0.0},
    "2 residual blocks": {"n_blocks": 2},
    "width 64": {"width": 64},
    "width 128": {"width": 128},
    "width 128, 1000 steps": {"width": 128, "max_iter": 1000},
    "300 steps": {"max_iter": 300},
    "500 steps": {"max_iter": 500},
    "600 steps": {"max_iter": 600},
    "1000 steps": {"max_iter": 1000},
    "2000 steps": {"max_iter": 2000},
    "3000 steps": {"max_iter": 3000},
    "5000 steps": {"max_iter": 5000},
    "width 256": {"width": 256},
    "no neighbour blend (neighbors=0)": {"neighbors": 0},
    "batch 2048": {"batch_size": 2048},
    "batch 256": {"batch_size": 256},
    "inference_passes=10": {"inference_passes": 10},
    "ensemble of 3": {"n_models": 3},
    "no refinement pass, 600 steps": {"refine": 0, "max_iter": 600},
    "no refinement pass, 300 steps": {"refine": 0, "max_iter": 300},
    "width 64, 300 steps": {"width": 64, "max_iter": 300},
    "width 64, no refinement pass": {"width": 64, "refine": 0},
    "no trees (trees=False)": {"trees": False},
    "400 steps, no trees": {"max_iter": 400, "trees": False},
    "300 steps, no trees": {"max_iter": 300, "trees": False},
}


def run(data, variants, settings, seeds, log=print) -> pd.DataFrame:
    """Score each variant on each (dataset, setting, seed)."""
    from aeimpute import Imputer
    from aeimpute.metrics import rmse

    rows = []
    for name, X, setting, seed, X_missing, mask in masked_tables(data, settings, seeds):
        for variant in variants:
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                imp = Imputer(random_state=seed, **VARIANTS[variant])
                out = imp.fit_transform(X_missing)
            seconds = time.perf_counter() - start
            err = rmse(X, np.asarray(out, dtype=float), mask)
            rows.append(
                {
                    "dataset": name,
                    "setting": setting,
                    "seed": seed,
                    "variant": variant,
                    "rmse": err,
                    "seconds": seconds,
                    "steps": imp.history_[0]["steps"],
                }
            )
            log(f"{name:14s} {setting} seed {seed} {variant:45s} {err:.4f} {seconds:6.1f}s")
    return pd.DataFrame(rows)


def table(results: pd.DataFrame, baselines: pd.DataFrame | None) -> str:
    """Markdown: variants x datasets, mean RMSE (and seconds); baselines appended."""
    stats = results.groupby(["variant", "dataset"], sort=False).agg(
        rmse=("rmse", "mean"), seconds=("seconds", "mean")
    )
    datasets = list(dict.fromkeys(results.dataset))
    variants = list(dict.fromkeys(results.variant))
    lines = [
        "| variant | " + " | ".join(datasets) + " |",
        "|---" + "|---:" * len(datasets) + "|",
    ]
    for v in variants:
        cells = []
        for d in datasets:
            if (v, d) in stats.index:
                r = stats.loc[(v, d)]
                cells.append(f"{r.rmse:.4f} ({r.seconds:.0f} s)")
            else:
                cells.append("–")
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    if baselines is not None and not baselines.empty:
        for method in ("MICE", "MissForest", "KNN", "low-rank"):
            sub = baselines[baselines.method == method].groupby("dataset")
            if sub.ngroups == 0:
                continue
            m, t = sub.rmse.mean(), sub.seconds.mean()
            cells = [f"{m[d]:.4f} ({t[d]:.0f} s)" if d in m.index else "–" for d in datasets]
            lines.append(f"| *{method} (tabular run)* | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--datasets", nargs="+", default=["breast_cancer", "wine", "diabetes"])
    p.add_argument("--settings", nargs="+", default=["mcar20"], choices=list(SETTINGS))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--out", type=Path, default=HERE / "results")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    data = load_datasets(args.datasets, [])
    if not data:
        raise SystemExit(f"none of the datasets {args.datasets} is available")
    seeds = list(range(args.seeds))
    results = run(data, args.variants, args.settings, seeds)
    results.to_csv(args.out / "ablation_results.csv", index=False)
    text = report(results, args.settings, seeds)
    (args.out / "ablation.md").write_text(text)
    print(text)
    return 0


def report(results: pd.DataFrame, settings: list[str], seeds: list[int]) -> str:
    """The ablation table, with the baselines of the last tabular run on the same masks."""
    base_path = HERE / "results" / "tabular_results.csv"
    baselines = None
    if base_path.exists():
        b = pd.read_csv(base_path)
        baselines = b[b.setting.isin(settings) & b.seed.isin(seeds)]
    return (
        f"Ablation of `Imputer` settings: settings {settings}, {len(seeds)} seed(s), mean "
        "RMSE on hidden cells (min-max scaled) and mean seconds per fit_transform.\n\n"
        + table(results, baselines)
        + "\n"
    )


if __name__ == "__main__":
    sys.exit(main())
