"""Tabular imputation benchmark: every method on the same masks, in one run.

Usage (from the repository root, after ``make demo`` or ``make test`` created ``.venv``)::

    make bench                 # full suite, updates benchmarks/results/ and the README table
    make bench-quick           # a smaller run (under 2 minutes), results/quick/ only
    .venv/bin/python benchmarks/tabular.py --help

Protocol: each complete table gets cells hidden by a missingness mechanism
(MCAR, MAR or MNAR from :mod:`aeimpute.simulate`) at a rate; every method
fills the same incomplete table; the score is the RMSE (and MAE) on the
hidden cells after per-column min-max scaling to [0, 1] (the GAIN protocol),
plus the wall time of ``fit_transform``. Mean and standard deviation over
seeds are reported, and the best mean in each row is bold, whoever it is.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

# each method gets one thread (benchmark processes run side by side on the cores, and two
# processes whose BLAS/OpenMP pools each take every core slow each other down many times over);
# set these variables to change it. Set before numpy is imported, which reads them then.
for _variable in ("AEIMPUTE_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                  "MKL_NUM_THREADS"):  # fmt: skip
    os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared" / "data" / "tabular"

SETTINGS = {
    "mcar20": ("mcar", 0.2),
    "mar20": ("mar", 0.2),
    "mnar20": ("mnar", 0.2),
    "mcar50": ("mcar", 0.5),
}
HEADLINE = "mcar20"
SKLEARN_SETS = ("breast_cancer", "wine", "diabetes", "digits")
LETTER_ROWS = 5000


# ----------------------------------------------------------------------------- data
def load_datasets(names: list[str], extra: list[Path]) -> dict[str, pd.DataFrame]:
    """Complete numeric tables by name; ``letter`` from shared data when present."""
    from sklearn import datasets

    out: dict[str, pd.DataFrame] = {}
    for name in names:
        if name in SKLEARN_SETS:
            out[name] = getattr(datasets, f"load_{name}")(as_frame=True).data.astype(float)
        elif name == "letter":
            path = SHARED / "letter.csv"
            if not path.exists():
                print(f"skipping letter: {path.relative_to(ROOT.parent)} not found", flush=True)
                continue
            df = pd.read_csv(path)
            df = df.select_dtypes("number").astype(float)
            out[name] = df.sample(n=min(LETTER_ROWS, len(df)), random_state=0).reset_index(
                drop=True
            )
        else:
            raise SystemExit(f"unknown dataset {name!r}; known: {[*SKLEARN_SETS, 'letter']}")
    for path in extra:
        df = pd.read_parquet(path) if path.suffix in (".parquet", ".pq") else pd.read_csv(path)
        df = df.select_dtypes("number").dropna().astype(float)
        df = df.loc[:, df.nunique() > 1]
        if df.empty:
            raise SystemExit(f"{path}: no complete numeric columns to benchmark on")
        out[path.stem] = df.reset_index(drop=True)
    return out


# ----------------------------------------------------------------------------- methods
class ScaledKNN:
    """KNNImputer on min-max-scaled columns (distances in raw units would favour big columns)."""

    def __init__(self, n_neighbors: int = 5) -> None:
        self.n_neighbors = n_neighbors

    def fit_transform(self, X: pd.DataFrame) -> np.ndarray:
        from sklearn.impute import KNNImputer

        M = X.to_numpy(dtype=float)
        lo, hi = np.nanmin(M, axis=0), np.nanmax(M, axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        out = KNNImputer(n_neighbors=self.n_neighbors).fit_transform((M - lo) / span)
        return out * span + lo


def methods(seed: int, include: list[str] | None = None) -> dict[str, Callable[[], object]]:
    """Factories of every method, seeded."""
    from sklearn.ensemble import ExtraTreesRegressor
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer, SimpleImputer
    from sklearn.linear_model import BayesianRidge

    from aeimpute import Imputer
    from aeimpute.baselines import InterpolationImputer, LowRankImputer

    all_methods = {
        "mean": lambda: SimpleImputer(strategy="mean"),
        "interpolation": lambda: InterpolationImputer(method="linear"),
        "low-rank": lambda: LowRankImputer(random_state=seed),
        "KNN": lambda: ScaledKNN(n_neighbors=5),
        "MICE": lambda: IterativeImputer(estimator=BayesianRidge(), max_iter=10, random_state=seed),
        "MissForest": lambda: IterativeImputer(
            estimator=ExtraTreesRegressor(n_estimators=50, n_jobs=1, random_state=seed),
            max_iter=10,
            random_state=seed,
        ),
        "aeimpute": lambda: Imputer(random_state=seed),
    }
    if include is None:
        return all_methods
    unknown = set(include) - set(all_methods)
    if unknown:
        raise SystemExit(f"unknown methods {sorted(unknown)}; known: {list(all_methods)}")
    return {k: f for k, f in all_methods.items() if k in include}


# ----------------------------------------------------------------------------- run
def masked_tables(data: dict[str, pd.DataFrame], settings: list[str], seeds: list[int]):
    """Yield ``(name, X, setting, seed, X_missing, mask)``: the same masks for every caller."""
    from aeimpute import simulate

    for name, X in data.items():
        for setting in settings:
            mechanism, rate = SETTINGS[setting]
            for seed in seeds:
                X_missing, mask = getattr(simulate, mechanism)(
                    X, rate, rng=np.random.default_rng(seed)
                )
                yield name, X, setting, seed, X_missing, mask


def run(
    data: dict[str, pd.DataFrame],
    settings: list[str],
    seeds: list[int],
    include: list[str] | None,
    log: Callable[[str], None] = print,
    partial: Path | None = None,
) -> pd.DataFrame:
    """Score every method on every (dataset, setting, seed); one row per result.

    With ``partial``, the rows so far are rewritten to that CSV after each result, so an
    interrupted run keeps what it measured.
    """
    from aeimpute.metrics import mae, rmse

    rows = []
    for name, X, setting, seed, X_missing, mask in masked_tables(data, settings, seeds):
        for method, make in methods(seed, include).items():
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = make().fit_transform(X_missing)
            seconds = time.perf_counter() - start
            out = np.asarray(out, dtype=float)
            rows.append(
                {
                    "dataset": name,
                    "setting": setting,
                    "seed": seed,
                    "method": method,
                    "rmse": rmse(X, out, mask),
                    "mae": mae(X, out, mask),
                    "seconds": seconds,
                }
            )
            log(
                f"{name:14s} {setting:7s} seed {seed} {method:14s} "
                f"rmse {rows[-1]['rmse']:.4f} {seconds:7.1f} s"
            )
            if partial is not None:
                pd.DataFrame(rows).to_csv(partial, index=False)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- report
def summary_table(results: pd.DataFrame, setting: str, value: str = "rmse") -> str:
    """Markdown table for one setting: datasets x methods, mean ± std, best in bold."""
    sub = results[results.setting == setting]
    order = list(dict.fromkeys(sub.method))
    stats = sub.groupby(["dataset", "method"], sort=False)[value].agg(["mean", "std", "count"])
    lines = ["| dataset | " + " | ".join(order) + " |", "|---" + "|---:" * len(order) + "|"]
    for dataset in dict.fromkeys(sub.dataset):
        row = stats.loc[dataset]
        best = row["mean"].min()
        cells = []
        for m in order:
            if m not in row.index:
                cells.append("–")
                continue
            mean, std = row.loc[m, "mean"], row.loc[m, "std"]
            digits = 4 if value != "seconds" else 1
            text = f"{mean:.{digits}f}"
            if row.loc[m, "count"] > 1:
                text += f" ± {std:.{digits}f}"
            if value != "seconds" and mean == best:
                text = f"**{text}**"
            cells.append(text)
        lines.append(f"| {dataset} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ratios(results: pd.DataFrame, method: str = "aeimpute") -> pd.DataFrame:
    """RMSE of ``method`` divided by the best other method, per dataset and setting."""
    means = results.groupby(["setting", "dataset", "method"], sort=False)["rmse"].mean()
    rows = []
    for (setting, dataset), grp in means.groupby(level=[0, 1], sort=False):
        grp = grp.droplevel([0, 1])
        if method not in grp.index:
            continue
        others = grp.drop(method)
        if others.empty:  # a run of aeimpute alone has nothing to compare with
            continue
        best_other = others.idxmin()
        rows.append(
            {
                "setting": setting,
                "dataset": dataset,
                "aeimpute": grp[method],
                "best other": best_other,
                "best other rmse": others.min(),
                "ratio": grp[method] / others.min(),
            }
        )
    return pd.DataFrame(rows)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import sklearn
    import torch

    from aeimpute.runtime import n_threads

    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"torch {torch.__version__} (aeimpute on {n_threads(None)} thread(s): "
        f"AEIMPUTE_NUM_THREADS={os.environ.get('AEIMPUTE_NUM_THREADS', 'unset')}), "
        f"scikit-learn {sklearn.__version__}, pandas {pd.__version__}"
    )


def plot(results: pd.DataFrame, path: Path) -> None:
    """RMSE against MCAR missing rate, one panel per dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mcar = results[results.setting.str.startswith("mcar")].copy()
    if mcar.empty:
        return
    mcar["rate"] = mcar.setting.map(lambda s: SETTINGS[s][1])
    datasets = list(dict.fromkeys(mcar.dataset))
    fig, axes = plt.subplots(
        1, len(datasets), figsize=(3.6 * len(datasets), 3.4), squeeze=False, sharey=False
    )
    for ax, ds in zip(axes[0], datasets, strict=True):
        sub = mcar[mcar.dataset == ds]
        for method, grp in sub.groupby("method", sort=False):
            m = grp.groupby("rate")["rmse"].agg(["mean", "std"]).fillna(0.0)
            style = {"lw": 2.5, "color": "black"} if method == "aeimpute" else {"lw": 1.2}
            ax.errorbar(m.index, m["mean"], yerr=m["std"], marker="o", ms=3, label=method, **style)
        ax.set_title(ds)
        ax.set_xlabel("MCAR missing rate")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("RMSE on hidden cells (min-max scaled)")
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(results: pd.DataFrame, seeds: list[int], header: str) -> str:
    parts = [header, ""]
    titles = {
        "mcar20": "20% MCAR (headline, GAIN protocol)",
        "mar20": "20% MAR (logistic on observed columns)",
        "mnar20": "20% MNAR (self-masking by quantile)",
        "mcar50": "50% MCAR",
    }
    for setting in dict.fromkeys(results.setting):
        parts += [
            f"### RMSE, {titles.get(setting, setting)}",
            "",
            summary_table(results, setting),
            "",
        ]
    parts += [
        f"### Seconds per fit_transform, {titles.get(HEADLINE, HEADLINE)}",
        "",
        summary_table(
            results if HEADLINE in set(results.setting) else results,
            HEADLINE if HEADLINE in set(results.setting) else results.setting.iloc[0],
            "seconds",
        ),
        "",
    ]
    r = ratios(results)
    if not r.empty:
        parts += [
            "### aeimpute against the best other method (RMSE ratio; < 1 means aeimpute wins)",
            "",
            "| setting | dataset | aeimpute | best other | ratio |",
            "|---|---|---:|---|---:|",
        ]
        for _, row in r.iterrows():
            parts.append(
                f"| {row.setting} | {row.dataset} | {row.aeimpute:.4f} | "
                f"{row['best other']} ({row['best other rmse']:.4f}) | {row.ratio:.3f} |"
            )
        parts.append("")
    return "\n".join(parts)


def update_readme(block: str, readme: Path = ROOT / "README.md", name: str = "benchmark") -> None:
    """Replace the text between the ``<!-- {name}:start/end -->`` markers of the README."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = readme.read_text()
    if start not in text or end not in text:
        raise SystemExit(f"{readme} has no {start} ... {end} markers")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{block}\n{end}{tail}")


def publish(path: Path, title: str, header: str, body: str, readme: str | None) -> None:
    """Write a report (``# title``, header, body), print the body, refresh the README block."""
    path.write_text(f"# {title}\n\n{header}\n\n{body}\n")
    print(body)
    if readme is not None:
        update_readme(f"{header}\n\n{body}", name=readme)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help="small run: wine and diabetes, 1 seed, headline setting",
    )
    p.add_argument("--datasets", nargs="+", default=None, help="names (default: all)")
    p.add_argument("--data", nargs="+", type=Path, default=[], help="extra CSV/Parquet files")
    p.add_argument("--settings", nargs="+", default=None, choices=list(SETTINGS))
    p.add_argument("--seeds", type=int, default=3, help="number of seeds (default 3)")
    p.add_argument("--methods", nargs="+", default=None, help="subset of methods")
    p.add_argument("--out", type=Path, default=None, help="output folder")
    p.add_argument("--no-readme", action="store_true", help="do not update README.md")
    p.add_argument("--note", default="", help="a sentence added to the report's header")
    p.add_argument(
        "--from-csv",
        nargs="+",
        type=Path,
        default=None,
        help="skip running: rebuild the report from result CSVs of earlier runs (merged)",
    )
    args = p.parse_args(argv)

    if args.quick:
        names = args.datasets or ["wine", "diabetes"]
        settings = args.settings or [HEADLINE]
        seeds = [0]
        out = args.out or HERE / "results" / "quick"
    else:
        names = args.datasets or [*SKLEARN_SETS, "letter"]
        settings = args.settings or list(SETTINGS)
        seeds = list(range(args.seeds))
        out = args.out or HERE / "results"
    out.mkdir(parents=True, exist_ok=True)
    if args.from_csv:
        results = pd.concat([pd.read_csv(f) for f in args.from_csv], ignore_index=True)
        seeds = sorted(results.seed.unique().tolist())
        names = list(dict.fromkeys(results.dataset))
        data = load_datasets([n for n in names if n in (*SKLEARN_SETS, "letter")], [])
        note = "rebuilt from " + ", ".join(f.name for f in args.from_csv)
    else:
        data = load_datasets(names, args.data)
        if not data:
            raise SystemExit("no dataset to run on")
        started = time.perf_counter()
        results = run(data, settings, seeds, args.methods, partial=out / "partial.csv")
        note = f"total {(time.perf_counter() - started) / 60:.1f} min"
        (out / "partial.csv").unlink(missing_ok=True)
    results.to_csv(out / "tabular_results.csv", index=False)
    shapes = ", ".join(f"{k} {v.shape[0]}x{v.shape[1]}" for k, v in data.items())
    header = (
        f"Run on {_dt.date.today().isoformat()} on {machine()}; {len(seeds)} seed(s); "
        f"datasets {shapes}"
        + (f" (letter: {LETTER_ROWS} random rows of 20,000)" if "letter" in data else "")
        + f"; {note}. RMSE on hidden cells after per-column min-max "
        "scaling, mean ± std over seeds; best per row in bold."
        + (f" {args.note}" if args.note else "")
    )
    text = report(results, seeds, header)
    (out / "tabular.md").write_text(text + "\n")
    plot(results, out / "tabular_rmse_vs_rate.png")
    print(f"\nwrote {out / 'tabular.md'}, {out / 'tabular_results.csv'}")
    if not args.quick and not args.no_readme:
        rel = (out / "tabular_rmse_vs_rate.png").relative_to(ROOT)
        headline = [header, "", summary_table(results, HEADLINE), "",
                    "Seconds per `fit_transform` in the same run (one thread each):", "",
                    summary_table(results, HEADLINE, "seconds"), "",
                    f"![RMSE vs rate]({rel})"]  # fmt: skip
        update_readme("\n".join(headline))
        print("updated README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
