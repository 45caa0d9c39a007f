"""scikit-learn's common estimator checks, run on every estimator of the package."""

import warnings

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from aeimpute import Imputer
from aeimpute.baselines import InterpolationImputer, LowRankImputer

ESTIMATORS = [
    Imputer(width=8, n_blocks=1, max_iter=5, random_state=0),
    LowRankImputer(max_iter=5, random_state=0),
    InterpolationImputer(),
]


def _expected_failures(estimator):
    if isinstance(estimator, InterpolationImputer):
        # it fills text columns by carrying the previous value, so object data is valid input
        return {"check_dtype_object": "text columns are supported (forward fill)"}
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failures)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check(estimator)


def test_list_input_gives_array_output():
    import numpy as np

    out = LowRankImputer(random_state=0).fit_transform([[1.0, 2.0], [np.nan, 4.0], [5.0, 6.0]])
    assert isinstance(out, np.ndarray) and not np.isnan(out).any()
    with pytest.raises(ValueError, match="2-dimensional"):
        InterpolationImputer().fit([1.0, 2.0])
