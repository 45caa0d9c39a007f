"""Scale benchmark: transform throughput, streaming memory and fit time against rows.

Usage (from the repository root, after ``make test`` created ``.venv``)::

    .venv/bin/python benchmarks/scale.py                      # 10^4 .. 10^6 rows
    .venv/bin/python benchmarks/scale.py --rows 10000000      # the 10-million-row file

Data: generated low-rank tables (rank 5 plus noise) with 20% of cells missing
at random, written to Parquet in pieces so the generator itself never holds
the whole file. Measured:

* ``aeimpute transform`` of a Parquet file to a Parquet file (the command
  line, streaming record batches), in a child process: wall time and peak
  resident memory (``ru_maxrss`` of the child);
* in-memory ``Imputer.transform`` of a DataFrame: rows per second;
* ``Imputer.fit`` on the largest table (``--fit-rows``), default settings.

The model used for the transforms is fitted once on 20,000 rows.
"""

from __future__ import annotations

import argparse
import datetime as _dt
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


def stream(model: Path, src: Path, dst: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of a command-line transform in a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "aeimpute.cli", "transform", str(model), str(src), "-o", str(dst)],
        check=True,
        capture_output=True,
    )
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024


def main(argv: list[str] | None = None) -> int:
    from tabular import machine

    from aeimpute import Imputer

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", nargs="+", type=int, default=[10_000, 100_000, 1_000_000])
    p.add_argument("--cols", type=int, default=20, help="columns of the streamed files")
    p.add_argument("--memory-cols", type=int, default=50, help="columns for rows/s in memory")
    p.add_argument("--fit-rows", type=int, default=0, help="also time fit on this many rows")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=HERE / "results")
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore")
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = tmp / "model.aeimpute"
        Imputer(random_state=0, n_threads=args.threads).fit(make_table(20_000, args.cols, 0)).save(
            model
        )
        wide = Imputer(random_state=0, n_threads=args.threads).fit(
            make_table(20_000, args.memory_cols, 0)
        )
        for n in args.rows:
            src, dst = tmp / f"in_{n}.parquet", tmp / f"out_{n}.parquet"
            write_parquet(src, n, args.cols)
            seconds, peak = stream(model, src, dst)
            row = f"| {n:,} | {seconds:.1f} | {n / seconds:,.0f} | {peak:,.0f} |"
            if n <= 1_000_000:
                df = make_table(n, args.memory_cols, 1)
                t0 = time.perf_counter()
                wide.transform(df)
                row += f" {n / (time.perf_counter() - t0):,.0f} |"
            else:
                row += " – |"
            print(row, flush=True)
            lines.append(row)
            src.unlink()
            dst.unlink()
        fit_line = ""
        if args.fit_rows:
            df = make_table(args.fit_rows, args.memory_cols, 2)
            t0 = time.perf_counter()
            Imputer(random_state=0, n_threads=args.threads).fit(df)
            fit_line = (
                f"\nFit with default settings on {args.fit_rows:,} x {args.memory_cols}: "
                f"{time.perf_counter() - t0:.0f} s.\n"
            )
    table = (
        f"| rows | streamed transform, {args.cols} columns (s) | rows/s | peak RSS (MB) | "
        f"in-memory transform, {args.memory_cols} columns (rows/s) |\n"
        "|---:|---:|---:|---:|---:|\n" + "\n".join(lines)
    )
    text = (
        f"# Scale benchmark\n\nRun on {_dt.date.today()} on {machine()}; "
        f"n_threads={args.threads}. Generated rank-5 tables with 20% MCAR; the Parquet "
        "transform is `aeimpute transform` in a child process (record batches of 65,536 rows); "
        f"its peak RSS includes Python, torch and pyarrow.\n\n{table}\n{fit_line}"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scale.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
