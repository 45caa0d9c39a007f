"""Large tables: a folder of Parquet files imputed with Dask and with the command line.

Run with ``python examples/large_tables.py`` (needs ``pip install "aeimpute[dask]"``).
It writes a small partitioned Parquet dataset to a temporary folder, then

1. fits an ``Imputer`` on the Dask DataFrame and fills it lazily on a local
   cluster of two worker processes, writing the result partition by partition;
2. does the same with the ``aeimpute`` command: ``fit`` streams the folder,
   ``transform`` streams one file to another.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd


def make_parts(folder: Path, n_parts: int = 4, rows: int = 5_000, seed: int = 0) -> None:
    """Write ``n_parts`` Parquet files of correlated columns with 20% of cells missing."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n_parts):
        latent = rng.normal(size=(rows, 2))
        values = latent @ rng.normal(size=(2, 6)) + 0.1 * rng.normal(size=(rows, 6))
        values[rng.random(values.shape) < 0.2] = np.nan
        part = pd.DataFrame(values, columns=[f"sensor_{i}" for i in range(6)])
        part.to_parquet(folder / f"part-{k}.parquet", index=False)


def with_dask(folder: Path, out: Path, max_iter: int = 300) -> pd.DataFrame:
    try:
        import dask.dataframe as dd
        from dask.distributed import Client, LocalCluster
    except ImportError as err:
        raise SystemExit(f'this example needs Dask: pip install "aeimpute[dask]" ({err})') from err

    from aeimpute import Imputer

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster,
        Client(cluster),
    ):
        ddf = dd.read_parquet(folder)
        imputer = Imputer(max_iter=max_iter, random_state=0).fit(ddf)
        filled = imputer.transform(ddf)  # lazy
        filled.to_parquet(out)  # computed here, one partition per task
    return pd.read_parquet(out)


def with_command_line(folder: Path, work: Path, max_iter: int = 300) -> pd.DataFrame:
    model, filled = work / "model.aeimpute", work / "part-0-filled.parquet"
    cli = [sys.executable, "-m", "aeimpute.cli"]
    steps = ["--max-iter", str(max_iter)]
    subprocess.run([*cli, "fit", str(folder), "-o", str(model), *steps], check=True)
    source = folder / "part-0.parquet"
    subprocess.run([*cli, "transform", str(model), str(source), "-o", str(filled)], check=True)
    return pd.read_parquet(filled)


def main(max_iter: int = 300, rows: int = 5_000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        make_parts(work / "raw", rows=rows)
        before = pd.read_parquet(work / "raw")
        print(f"{int(before.isna().sum().sum())} missing cells in {len(before)} rows")
        dask_out = with_dask(work / "raw", work / "filled", max_iter)
        print(f"Dask: {int(dask_out.isna().sum().sum())} missing cells left")
        cli_out = with_command_line(work / "raw", work, max_iter)
        print(f"command line, part-0: {int(cli_out.isna().sum().sum())} missing cells left")


if __name__ == "__main__":
    main()
