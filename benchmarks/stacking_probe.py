"""Probe for issue 5: would stacking the DAE with a local estimate (KNN) on held-back cells help?

Usage::

    .venv/bin/python benchmarks/stacking_probe.py [--datasets digits letter] [--seeds 0]

On the benchmark's 20% MCAR masks, a further 5% of the observed cells is held
back; ``Imputer`` and scaled KNN fill the table without them; per column, the
weight ``w`` in ``(1 - w) * dae + w * knn`` (grid of 0.05) that minimises the
squared error on the held-back cells is applied to the truly hidden cells.
The table compares DAE alone, KNN alone and the stack, all fitted on the same
reduced table (so the DAE number is a little worse than the suite's). This is
a measurement to decide whether to build the stack into ``Imputer``, not a
feature.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

# each method gets one thread (benchmark processes run side by side on the cores);
# set AEIMPUTE_NUM_THREADS to change it
os.environ.setdefault("AEIMPUTE_NUM_THREADS", "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def probe(name: str, X: pd.DataFrame, Xm: pd.DataFrame, mask: np.ndarray, seed: int) -> dict:
    from tabular import ScaledKNN

    from aeimpute import Imputer
    from aeimpute.metrics import rmse

    rng = np.random.default_rng(1000 + seed)
    observed = ~Xm.isna().to_numpy()
    held = observed & (rng.random(observed.shape) < 0.05)
    Xr = Xm.mask(held)
    t0 = time.perf_counter()
    dae = np.asarray(Imputer(random_state=seed).fit_transform(Xr), dtype=float)
    t_dae = time.perf_counter() - t0
    knn = ScaledKNN().fit_transform(Xr)
    truth = X.to_numpy(dtype=float)
    grid = np.linspace(0, 1, 21)
    w = np.zeros(X.shape[1])
    for j in range(X.shape[1]):
        rows = held[:, j]
        if rows.sum() < 5:
            continue
        err = [
            np.sum(((1 - g) * dae[rows, j] + g * knn[rows, j] - truth[rows, j]) ** 2) for g in grid
        ]
        w[j] = grid[int(np.argmin(err))]
    stack = (1 - w) * dae + w * knn
    out = {
        "dataset": name,
        "seed": seed,
        "dae_seconds": round(t_dae, 1),
        "mean_knn_weight": w.mean(),
    }
    for label, est in (("dae", dae), ("knn", knn), ("stack", stack)):
        out[label] = rmse(X, pd.DataFrame(est, columns=X.columns, index=X.index), mask)
    return out


def _markdown(table: pd.DataFrame) -> str:
    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in table.iterrows():
        cells = [f"{v:.4f}" if isinstance(v, float) else str(v) for v in r]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    import tabular

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["wine", "diabetes", "digits", "letter"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--out", type=Path, default=HERE / "results" / "stacking_probe.md")
    args = p.parse_args(argv)
    data = tabular.load_datasets(args.datasets, [])
    rows = [
        probe(name, X, Xm, mask, seed)
        for name, X, _, seed, Xm, mask in tabular.masked_tables(data, ["mcar20"], args.seeds)
    ]
    table = pd.DataFrame(rows)
    text = (
        "# Stacking probe (issue 5)\n\n"
        f"Run on {tabular.machine()}; 20% MCAR masks of the suite, seeds {args.seeds}; RMSE on "
        "the hidden cells (min-max scaled). See the script's docstring for the protocol.\n\n"
        + _markdown(table)
    )
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
