"""Fixed-seed fingerprints of every estimator output, to check that a refactor changes nothing.

Fits small models with fixed seeds (the row-wise network with the whole blend, categorical
columns with tree classifiers, an ensemble with extra inference passes, the temporal model with
channels, the keypoint model) and prints a SHA-256 of each output: ``transform``, ``sample``,
``encode``, ``reconstruction_error``, the fitted blend weights, and the output after a
save/load round trip. Run it before and after a change that should not alter behaviour and
compare (``--out before.json``, then ``--compare before.json``).

The hashes depend on the machine (bfloat16 training where the CPU has it, BLAS kernels), so
compare runs of one machine only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

# each method gets one thread (benchmark processes run side by side on the cores);
# set AEIMPUTE_NUM_THREADS to change it
os.environ.setdefault("AEIMPUTE_NUM_THREADS", "1")


def _digest(obj) -> str:
    h = hashlib.sha256()
    if isinstance(obj, pd.DataFrame):
        h.update(pd.util.hash_pandas_object(obj, index=True).to_numpy().tobytes())
        h.update(str(list(obj.dtypes.astype(str))).encode())
    elif isinstance(obj, pd.Series):
        h.update(np.ascontiguousarray(obj.to_numpy(dtype=np.float64)).tobytes())
    elif isinstance(obj, np.ndarray):
        h.update(np.ascontiguousarray(obj).tobytes())
    else:
        h.update(json.dumps(obj, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def _mixed(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    df = pd.DataFrame(
        {
            "a": a,
            "b": b,
            "c": a * b + 0.1 * rng.normal(size=n),
            "d": np.where(a > 0, 1.0, -1.0) + 0.05 * rng.normal(size=n),
            "e": 2 * a - b + 0.1 * rng.normal(size=n),
            "n": pd.array(np.rint(3 * a + 5).astype(int), dtype="Int64"),
            "flag": pd.array(b > 0.3, dtype="boolean"),
            "colour": pd.array(
                np.array(["red", "green", "blue"])[np.digitize(a, [-0.5, 0.5])], dtype="str"
            ),
        }
    )
    hide = rng.random(df.shape) < 0.2
    hide[0] = False
    for j, col in enumerate(df.columns):
        df.loc[hide[:, j], col] = None
    return df


def _imputer_outputs(name: str, imp, df: pd.DataFrame) -> dict:
    from aeimpute import Imputer

    out = {}
    out["transform"] = _digest(imp.fit_transform(df))
    weights = {
        k: getattr(imp, k)
        for k in (
            "n_neighbors_", "neighbor_weight_", "linear_weight_", "tree_weight_",
            "tree_class_weight_", "tree_class_temperature_", "precision_", "max_iter_",
        )
        if hasattr(imp, k)
    }  # fmt: skip
    out["weights"] = weights
    out["history"] = _digest(imp.history_)
    out["sample"] = [_digest(d) for d in imp.sample(df, n=2)]
    out["encode"] = _digest(imp.encode(df))
    out["anomaly"] = _digest(imp.reconstruction_error(df, n_passes=3))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.aeimpute"
        imp.save(path)
        out["reloaded"] = _digest(Imputer.load(path).transform(df))
    return {name: out}


def fingerprints() -> dict:
    """Fingerprints of every case (a few tens of seconds on one thread)."""
    import torch

    from aeimpute import Imputer, KeypointImputer
    from aeimpute.keypoints import simulate_poses

    torch.set_num_threads(1)
    res = {}
    df = _mixed(400, 0)
    res.update(_imputer_outputs("blend", Imputer(max_iter=150, random_state=0), df))
    res.update(
        _imputer_outputs(
            "ensemble",
            Imputer(max_iter=60, n_models=2, inference_passes=3, width=32,
                    neighbors=0, linear=False, trees=False, random_state=1),
            df,
        )
    )  # fmt: skip
    wide = _mixed(300, 2)
    for k in range(20):  # more numeric columns than the tree screen takes
        wide[f"w{k}"] = wide["a"] * (k % 3) + np.random.default_rng(k).normal(size=300)
    res.update(_imputer_outputs("screened", Imputer(max_iter=80, random_state=3), wide))
    rng = np.random.default_rng(4)
    t = np.arange(600)
    ts = pd.DataFrame(
        {
            "s1": np.sin(t / 20) + 0.1 * rng.normal(size=600),
            "s2": np.cos(t / 20) + 0.1 * rng.normal(size=600),
            "r1": np.sin(t / 20 + 0.3) + 0.1 * rng.normal(size=600),
            "r2": np.sin(t / 7),
        },
        index=pd.date_range("2024-01-01", periods=600, freq="h"),
    )
    ts = ts.mask(rng.random(ts.shape) < 0.15)
    ts.iloc[100:140, :2] = np.nan
    res.update(
        _imputer_outputs(
            "temporal",
            Imputer(max_iter=60, window=64, channels={"s": ["s1", "s2"]}, random_state=5),
            ts,
        )
    )
    xy = simulate_poses(n_frames=600, n_keypoints=5, random_state=0)
    holes = xy.copy()
    holes[100:120, 0, 2] = np.nan
    holes[300:303, 0, 1] = np.nan
    kp = KeypointImputer(window=64, max_iter=60, random_state=0)
    kout = {"transform": _digest(kp.fit_transform(holes)), "history": _digest(kp.history_)}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "k.aeimpute"
        kp.save(path)
        kout["reloaded"] = _digest(KeypointImputer.load(path).transform(holes))
    res["keypoints"] = kout
    return res


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="write the fingerprints to this JSON file")
    parser.add_argument("--compare", help="compare with fingerprints written by --out")
    args = parser.parse_args(argv)
    res = fingerprints()
    text = json.dumps(res, indent=1, sort_keys=True)
    if args.out:
        Path(args.out).write_text(text + "\n")
    if args.compare:
        old = json.loads(Path(args.compare).read_text())
        diff = [k for k in sorted(set(old) | set(res)) if old.get(k) != res.get(k)]
        for k in diff:
            print(f"DIFFERENT {k}:\n  before {old.get(k)}\n  after  {res.get(k)}")
        print("identical" if not diff else f"{len(diff)} case(s) differ")
        return 1 if diff else 0
    if not args.out:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
