"""Scale benchmark: time and memory against rows, streaming, throughput, fit time.

Usage (from the repository root, after ``make test`` created ``.venv``)::

    .venv/bin/python benchmarks/scale.py                        # 10^4 .. 10^6 rows
    .venv/bin/python benchmarks/scale.py --rows 10000 100000 1000000 10000000

Data: generated low-rank tables (rank 5 plus noise) with 20% of cells missing
at random; Parquet files are written in pieces so the generator never holds a
whole file. Every measurement runs in a child process of its own, which
reports its wall time and its peak resident memory (``ru_maxrss``, so
Python, torch, the table and the result are all included). Measured:

* fit_transform of an in-memory table, 20 columns: ``Imputer`` (default
  settings) against scikit-learn's ``KNNImputer`` and ``IterativeImputer``
  (defaults); a method that exceeds ``--budget`` seconds is stopped and not
  tried on larger tables;
* the command line on Parquet, 20 columns: ``aeimpute fit`` (streams the file,
  fits on at most 1,000,000 sampled rows) and ``aeimpute transform`` (record
  batches of 65,536 rows, Parquet to Parquet);
* in-memory ``Imputer.transform`` throughput with 50 columns (default width
  and ``width=128``), and ``Imputer.fit`` time on ``--fit-rows`` x 50.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

METHODS = ("aeimpute", "KNNImputer", "IterativeImputer")


def make_table(n: int, p: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 5)) @ np.random.default_rng(0).normal(size=(5, p))
    z += 0.1 * rng.normal(size=(n, p))
    z[rng.random((n, p)) < 0.2] = np.nan
    return pd.DataFrame(z, columns=[f"c{i}" for i in range(p)])


def write_parquet(path: Path, n: int, p: int, piece: int = 500_000) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    for k, start in enumerate(range(0, n, piece)):
        table = pa.Table.from_pandas(
            make_table(min(piece, n - start), p, seed=k + 1), preserve_index=False
        )
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()


# ---------------------------------------------------------------- child processes
def _imputer(threads: int, steps: int, **kw):
    import aeimpute.network  # noqa: F401  (torch imported before any clock starts)
    from aeimpute import Imputer

    if steps:
        kw["max_iter"] = steps
    return Imputer(random_state=0, n_jobs=threads, **kw)


def _estimator(method: str, threads: int, steps: int):
    if method == "aeimpute":
        return _imputer(threads, steps)
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer, KNNImputer

    return KNNImputer() if method == "KNNImputer" else IterativeImputer(random_state=0)


def _child(argv: list[str]) -> dict:
    """Run one measurement in this (child) process; return what it measured."""
    kind, rest = argv[0], argv[1:]
    t0 = time.perf_counter()
    result: dict = {}
    if kind == "cli":
        from aeimpute.cli import main

        if main(rest) != 0:
            raise SystemExit("the command failed")
        return {"seconds": time.perf_counter() - t0, **_rss()}
    # the other kinds: METHOD ROWS COLS THREADS STEPS [WIDTH ...]; STEPS 0 is the default
    n, p, threads, steps = (int(a) for a in rest[1:5])
    if kind == "impute":  # fit_transform of a generated table
        df, est = make_table(n, p, 1), _estimator(rest[0], threads, steps)
        t0 = time.perf_counter()  # table made and libraries imported before the clock starts
        est.fit_transform(df)
    elif kind == "throughput":  # rows/s of Imputer.transform for each WIDTH
        train, df = make_table(20_000, p, 0), make_table(n, p, 1)
        for width in rest[5:]:
            kw = {} if width == "default" else {"width": int(width)}
            imp = _imputer(threads, steps, **kw).fit(train)
            imp.transform(df.iloc[:10_000])  # warm-up
            best = min(_timed(imp.transform, df) for _ in range(2))
            result[width] = n / best
    elif kind == "fit":
        df, est = make_table(n, p, 2), _imputer(threads, steps)
        t0 = time.perf_counter()
        est.fit(df)
    return {**result, "seconds": time.perf_counter() - t0, **_rss()}


def _rss() -> dict:
    return {"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def measure(argv: list[str], budget: float | None = None) -> dict | None:
    """Run ``argv`` in a child process; None if it took longer than ``budget`` seconds."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", *argv]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=budget, check=False)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- the report
def _plot(rows: pd.DataFrame, path: Path, budget: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for label, part in rows.groupby("method", sort=False):
        done = part.dropna(subset=["seconds"])
        for ax, col in zip(axes, ("seconds", "rss_mb"), strict=True):
            ax.plot(done["rows"], done[col], marker="o", label=label)
    axes[0].axhline(budget, color="grey", linestyle=":", linewidth=1)
    axes[0].text(1e4, budget * 1.1, f"budget {budget:.0f} s", color="grey", fontsize=8)
    for ax, title in zip(axes, ("wall time (s)", "peak RSS (MB)"), strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("rows (20 columns, 20% missing)")
        ax.set_title(title)
        ax.grid(True, which="major", alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _md(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---:|" * len(cols)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.to_numpy()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        print(json.dumps(_child(argv[1:])))
        return 0
    from tabular import machine

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", nargs="+", type=int, default=[10_000, 100_000, 1_000_000])
    p.add_argument("--cols", type=int, default=20, help="columns of the compared tables")
    p.add_argument("--memory-cols", type=int, default=50, help="columns for rows/s in memory")
    p.add_argument("--fit-rows", type=int, default=1_000_000, help="rows for the fit time")
    p.add_argument("--speed-rows", nargs="+", type=int, default=[100_000, 1_000_000])
    p.add_argument("--budget", type=float, default=600.0, help="seconds per run before stopping")
    p.add_argument("--max-iter", type=int, default=0, help="Imputer max_iter (0: default)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=HERE / "results")
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore")
    t_all = time.perf_counter()
    records = []
    stopped: set[str] = set()
    steps = str(args.max_iter)
    common = [str(args.threads), steps]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for n in args.rows:
            for method in METHODS:
                got = None
                if method not in stopped:
                    got = measure(["impute", method, str(n), str(args.cols), *common], args.budget)
                    if got is None:
                        stopped.add(method)
                records.append({"method": f"{method}, in memory", "rows": n, **(got or {})})
                print(records[-1], flush=True)
            src, dst, model = tmp / "in.parquet", tmp / "out.parquet", tmp / "m.aeimpute"
            write_parquet(src, n, args.cols)
            options = ["--threads", str(args.threads), "--progress", "off"]
            if args.max_iter:
                options += ["--max-iter", steps]
            fit = measure(["cli", "fit", str(src), "-o", str(model), *options])
            records.append({"method": "aeimpute fit, Parquet file", "rows": n, **fit})
            tr = measure(["cli", "transform", str(model), str(src), "-o", str(dst)])
            records.append({"method": "aeimpute transform, Parquet stream", "rows": n, **tr})
            print(records[-2:], flush=True)
            src.unlink()
            dst.unlink()
        cols = str(args.memory_cols)
        speed = {
            n: measure(["throughput", "-", str(n), cols, *common, "default", "128"])
            for n in args.speed_rows
        }
        fit = measure(["fit", "-", str(args.fit_rows), cols, *common])
    rows = pd.DataFrame(records)
    args.out.mkdir(parents=True, exist_ok=True)
    rows.to_csv(args.out / "scale.csv", index=False)
    _plot(rows, args.out / "scale.png", args.budget)

    def fmt(values: pd.Series, spec: str, missing: str = "–") -> list[str]:
        return [missing if pd.isna(v) else format(v, spec) for v in values]

    table = pd.DataFrame(
        {
            "method": rows["method"],
            "rows": rows["rows"].map("{:,}".format),
            "seconds": fmt(rows["seconds"], ".1f", f"> {args.budget:.0f} s (stopped)"),
            "rows/s": fmt(rows["rows"] / rows["seconds"], ",.0f"),
            "peak RSS (MB)": fmt(rows["rss_mb"], ",.0f"),
        }
    )
    speed_lines = "\n".join(
        f"| {n:,} | {s['default']:,.0f} | {s['128']:,.0f} |" for n, s in speed.items()
    )
    body = f"""Run on {_dt.date.today()} on {machine()}; here n_jobs={args.threads}.
Generated rank-5 tables with 20% of cells missing at random. Every number comes from a
child process of its own: wall time of the work (the in-memory table is generated before the
clock starts) and the process's peak RSS (Python, torch, the data and the result included).
Budget per run: {args.budget:.0f} s; a method that runs out of it is not tried on larger tables.
Total time of this run: {(time.perf_counter() - t_all) / 60:.0f} min.

#### Time and memory against rows ({args.cols} columns)

![time and memory against rows](scale.png)

{_md(table)}

"in memory" is `fit_transform` of a DataFrame with default settings (scikit-learn's
`KNNImputer()` and `IterativeImputer()`; aeimpute's `Imputer()`). "aeimpute fit, Parquet file"
is `aeimpute fit FILE -o MODEL` (streams record batches, fits on at most 1,000,000 rows
sampled from them); "aeimpute transform, Parquet stream" is `aeimpute transform MODEL FILE -o
OUT.parquet` (record batches of 65,536 rows).

#### In-memory transform throughput ({args.memory_cols} numeric columns, rows/s)

| rows | default width | width=128 |
|---:|---:|---:|
{speed_lines}

#### Fit time

`Imputer().fit` on {args.fit_rows:,} x {args.memory_cols}: {fit["seconds"]:.0f} s
(peak RSS {fit["rss_mb"]:,.0f} MB).
"""
    (args.out / "scale.md").write_text(f"# Scale benchmark\n\n{body}")
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
