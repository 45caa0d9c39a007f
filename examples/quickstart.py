"""Quick start: fill the missing cells of a mixed-type DataFrame.

Run with ``python examples/quickstart.py``.
"""

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from aeimpute import Imputer


def main() -> None:
    rng = np.random.default_rng(0)
    n = 500
    age = rng.integers(18, 80, size=n)
    income = 1000 * (20 + 0.8 * age + rng.normal(scale=5, size=n))
    df = pd.DataFrame(
        {
            "age": pd.array(age, dtype="Int64"),
            "income": income,
            "owner": pd.array(income > 60_000, dtype="boolean"),
            "region": pd.Series(rng.choice(["north", "south", "east"], size=n), dtype="str"),
        }
    )
    truth = df.copy()
    holes = rng.random(df.shape) < 0.2
    for j, col in enumerate(df.columns):
        df.loc[holes[:, j], col] = None

    imputer = Imputer(random_state=0)
    completed = imputer.fit_transform(df)
    print(completed.head())
    print(completed.dtypes)

    hidden = holes[:, 1]
    err = np.sqrt(np.mean((completed["income"][hidden] - truth["income"][hidden]) ** 2))
    print(f"income RMSE on hidden cells: {err:,.0f} (std of income {truth['income'].std():,.0f})")
    # what the model expected, per column, from cells it held back at fit
    print(imputer.summary(df))

    # numeric cells blend the network with neighbouring rows, a ridge regression and boosted
    # trees, in shares fitted on held-back cells; binary and categorical cells blend its
    # probabilities with tree classifiers'. neighbors=0 / linear=False / trees=False turn
    # them off
    print(
        f"blend weights: neighbours {imputer.neighbor_weight_}, "
        f"linear {imputer.linear_weight_}, trees {imputer.tree_weight_}, "
        f"tree classifiers {imputer.tree_class_weight_}"
    )
    plain = Imputer(neighbors=0, linear=False, trees=False, random_state=0).fit_transform(df)
    err_net = np.sqrt(np.mean((plain["income"][hidden] - truth["income"][hidden]) ** 2))
    print(f"income RMSE from the network alone: {err_net:,.0f}")

    # the same model gives latent features, anomaly scores and multiple imputations
    print(imputer.encode(df).shape, imputer.reconstruction_error(df).describe()["max"])
    draws = imputer.sample(df, n=3)
    print([round(float(d["income"][hidden].mean())) for d in draws])

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "quickstart.aeimpute"
        imputer.save(path)
        same = Imputer.load(path).transform(df)
    assert same.equals(completed)
    print(f"saved, reloaded and transformed again: same table ({path.name})")


if __name__ == "__main__":
    main()
