"""Hide cells of a complete table by a chosen mechanism and compare imputers on them.

Run with ``python examples/compare_imputers.py``.
"""

import numpy as np
from sklearn.datasets import load_diabetes

from aeimpute import Imputer, simulate
from aeimpute.baselines import InterpolationImputer, LowRankImputer
from aeimpute.metrics import mae, rmse


def main() -> None:
    X = load_diabetes(as_frame=True).data
    rng = np.random.default_rng(0)
    for mechanism in ("mcar", "mar", "mnar"):
        X_missing, mask = getattr(simulate, mechanism)(X, 0.2, rng=rng)
        print(f"\n{mechanism.upper()}: {mask.mean():.1%} of cells hidden")
        for name, imputer in {
            "interpolation": InterpolationImputer(method="linear"),
            "low-rank": LowRankImputer(random_state=0),
            "aeimpute": Imputer(random_state=0),
        }.items():
            completed = imputer.fit_transform(X_missing)
            print(
                f"  {name:14s} RMSE {rmse(X, completed, mask):.4f}  "
                f"MAE {mae(X, completed, mask):.4f}  (min-max scaled)"
            )


if __name__ == "__main__":
    main()
