"""Imputation as preprocessing before fusion learning: predict CO from cheap sensors.

The UCI Air Quality table fuses three sources hour by hour: five cheap
metal-oxide sensors, a certified reference analyser and weather readings.
The task a fusion model learns here: estimate the reference CO concentration
from the cheap sensors, the weather and the time of day. The sensor device
goes offline now and then (taking the weather readings with it), so the
inputs have holes; this script adds more outages (whole channels hidden for
1-7 days) and compares what a downstream model achieves after each way of
handling them:

* dropping incomplete rows (rows that cannot be predicted get the training mean),
* leaving the holes to the model (HistGradientBoosting handles NaN natively),
* mean, time interpolation, KNN, MICE and ``aeimpute.Imputer`` with channels and
  temporal context, each with and without missing-value indicators as extra features.

The model is trained on the first 60% of the hours and scored on the rest
(RMSE of CO in mg/m^3 over the test hours with a reference reading).

Usage::

    .venv/bin/python examples/fusion_preprocessing.py            # about 5 minutes
    .venv/bin/python examples/fusion_preprocessing.py --steps 200  # a quick look

Without ``../shared/data/tabular/air_quality.csv`` a generated stand-in
(smooth daily cycles, sensors that respond to the pollutant) is used.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tabular"
SENSORS = ["PT08.S1(CO)", "PT08.S2(NMHC)", "PT08.S3(NOx)", "PT08.S4(NO2)", "PT08.S5(O3)"]
WEATHER = ["T", "RH", "AH"]
TARGET = "CO(GT)"


def load() -> pd.DataFrame:
    """Air quality when present, else a generated table with the same columns."""
    path = DATA / "air_quality.csv"
    if path.exists():
        return pd.read_csv(path, parse_dates=["timestamp"], index_col="timestamp")
    print(f"{path} not found: using generated data", flush=True)
    rng = np.random.default_rng(0)
    n = 4000
    index = pd.date_range("2024-01-01", periods=n, freq="h")
    hour = index.hour.to_numpy()
    traffic = np.exp(-((hour - 8) ** 2) / 8) + np.exp(-((hour - 18) ** 2) / 8)
    weather = np.sin(np.arange(n) * 2 * np.pi / 24) + 0.3 * rng.normal(size=n).cumsum() / 30
    co = 1 + 2 * traffic + 0.3 * rng.gamma(2, 1, n) - 0.2 * weather
    df = pd.DataFrame(index=index)
    for k, c in enumerate(SENSORS):
        df[c] = 1000 + 200 * co * (1 + 0.1 * k) + 30 * weather * k + 20 * rng.normal(size=n)
    df["T"] = 15 + 8 * weather
    df["RH"] = 50 - 10 * weather + 3 * rng.normal(size=n)
    df["AH"] = 0.02 * df["T"] + 0.01 * df["RH"]
    df[TARGET] = np.where(rng.random(n) < 0.15, np.nan, co)
    out = rng.random(n) < 0.002
    for start in np.flatnonzero(out):
        df.iloc[start : start + 48, :8] = np.nan
    return df


def fused_inputs(df: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Sensor + weather + calendar columns, with extra channel outages of 24-168 hours."""
    from aeimpute.simulate import channel_blocks

    channels = {"sensors": SENSORS, "weather": WEATHER}
    X = df[SENSORS + WEATHER].copy()
    X, _ = channel_blocks(X, channels, 0.15, (24, 168), rng=seed)
    X["hour_sin"] = np.sin(2 * np.pi * X.index.hour / 24)
    X["hour_cos"] = np.cos(2 * np.pi * X.index.hour / 24)
    X["weekend"] = (X.index.day_of_week >= 5).astype(float)
    channels["calendar"] = ["hour_sin", "hour_cos", "weekend"]
    return X, channels


def strategies(channels: dict, steps: int | None, seed: int = 0) -> dict:
    """name -> function(X) returning a complete feature matrix (or X with NaN)."""
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
    from sklearn.linear_model import BayesianRidge
    from sklearn.preprocessing import MinMaxScaler

    from aeimpute import Imputer
    from aeimpute.baselines import InterpolationImputer

    def sk(est):
        return lambda X: pd.DataFrame(est.fit_transform(X), index=X.index, columns=X.columns)

    def knn(X):
        scale = MinMaxScaler().fit(X)
        filled = KNNImputer(n_neighbors=5).fit_transform(scale.transform(X))
        return pd.DataFrame(scale.inverse_transform(filled), index=X.index, columns=X.columns)

    extra = {} if steps is None else {"max_iter": steps}
    return {
        "keep NaN (model handles it)": lambda X: X,
        "mean": sk(SimpleImputer(strategy="mean")),
        "time interpolation": lambda X: InterpolationImputer(along="index").fit_transform(X),
        "KNN": knn,
        "MICE": sk(IterativeImputer(estimator=BayesianRidge(), random_state=seed)),
        "aeimpute": lambda X: Imputer(channels=channels, random_state=seed, **extra).fit_transform(
            X
        ),
    }


def downstream(X: pd.DataFrame, y: pd.Series, train: np.ndarray, test: np.ndarray) -> float:
    """Fit gradient boosting on the training hours, RMSE on the test hours."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    model = HistGradientBoostingRegressor(random_state=0).fit(X[train], y[train])
    return float(np.sqrt(np.mean((model.predict(X[test]) - y[test]) ** 2)))


def compare(df: pd.DataFrame, steps: int | None = None, seed: int = 0, echo: bool = True):
    """Downstream CO error after each preprocessing; returns (table, test hours, incomplete)."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    from aeimpute import missing_indicators

    X, channels = fused_inputs(df, seed)
    y = df[TARGET].to_numpy()
    labelled = ~np.isnan(y)
    cut = int(0.6 * len(X))
    position = np.arange(len(X))
    train, test = labelled & (position < cut), labelled & (position >= cut)
    indicators = missing_indicators(X, channels, by="channel")

    # dropping: train on complete rows; a test row with holes gets the training mean
    complete = X.notna().all(axis=1).to_numpy()
    fit_rows = train & complete
    model = HistGradientBoostingRegressor(random_state=0).fit(X[fit_rows], y[fit_rows])
    pred = np.where(complete[test], model.predict(X.fillna(0.0)[test]), y[fit_rows].mean())
    rows = [("drop incomplete rows", float(np.sqrt(np.mean((pred - y[test]) ** 2))), np.nan, 0.0)]
    for name, fill in strategies(channels, steps, seed).items():
        t0 = time.perf_counter()
        Xf = fill(X)
        seconds = time.perf_counter() - t0
        plain = downstream(Xf.to_numpy(), y, train, test)
        with_mask = downstream(pd.concat([Xf, indicators], axis=1).to_numpy(), y, train, test)
        rows.append((name, plain, with_mask, seconds))
        if echo:
            print(f"{name:28s} RMSE {plain:.3f}  with indicators {with_mask:.3f}  "
                  f"({seconds:.1f} s)", flush=True)  # fmt: skip
    table = pd.DataFrame(rows, columns=["preprocessing", "RMSE", "RMSE + indicators", "seconds"])
    return table, int(test.sum()), int((~complete[test]).sum())


def main(argv: list[str] | None = None) -> int:
    from aeimpute import report

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--steps", type=int, default=None, help="Imputer max_iter (default: its own)")
    p.add_argument("--seed", type=int, default=0, help="seed of the outages and the imputers")
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    df = load()
    X, channels = fused_inputs(df, args.seed)
    print("Missingness of the fused inputs per channel:")
    print(report(X, channels).round(3).to_string(), "\n", flush=True)
    table, n_test, n_incomplete = compare(df, args.steps, args.seed)
    print(f"\nCO(GT) test RMSE (mg/m^3), {n_test} test hours, "
          f"{n_incomplete} of them with incomplete inputs:")  # fmt: skip
    print(table.round(3).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
