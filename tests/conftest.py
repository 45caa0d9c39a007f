"""Shared fixtures. Models in tests are tiny and trained for few steps."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

# one thread for every estimator whose n_jobs is left at None (tests share the cores)
os.environ.setdefault("AEIMPUTE_NUM_THREADS", "1")

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_benchmark(script: str) -> ModuleType:
    """A script of ``benchmarks/`` as a module (``bench_<name>``; its folder importable)."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    name = Path(script).stem
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# small, fast settings for every test that does not measure accuracy
FAST = {"width": 16, "n_blocks": 1, "max_iter": 20, "batch_size": 64}


@pytest.fixture(autouse=True)
def _one_thread():
    torch = pytest.importorskip("torch")
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def make_mixed(n: int = 60, seed: int = 0, missing: float = 0.2) -> pd.DataFrame:
    """A frame with every column kind, ~``missing`` of modelled cells hidden."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    df = pd.DataFrame(
        {
            "x": a,
            "y": (2 * a + rng.normal(scale=0.1, size=n)).astype("float32"),
            "count": pd.array(rng.integers(0, 10, size=n), dtype="Int64"),
            "flag": pd.array(a > 0, dtype="boolean"),
            "colour": pd.array(rng.choice(["red", "green", "blue"], size=n), dtype="str"),
            "size": pd.Categorical(rng.choice(["S", "M", "L"], size=n), categories=["S", "M", "L"]),
            "obj": rng.choice(["u", "v"], size=n).astype(object),
            "when": pd.date_range("2024-01-01", periods=n, freq="h"),
        },
        index=pd.Index([f"r{i}" for i in range(n)], name="row"),
    )
    hide = rng.random((n, 7)) < missing
    hide[0] = False  # keep one full row so every category is observed
    for j, col in enumerate(df.columns[:7]):
        df.loc[hide[:, j], col] = None
    return df


@pytest.fixture
def mixed() -> pd.DataFrame:
    return make_mixed()


@pytest.fixture
def numeric() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 2)) @ rng.normal(size=(2, 5))
    df = pd.DataFrame(X, columns=list("abcde"))
    hide = rng.random(df.shape) < 0.2
    hide[:, 0] &= ~hide[:, 1:].all(axis=1)  # no entirely missing row
    return df.mask(hide)
