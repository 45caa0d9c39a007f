import subprocess
import sys

import aeimpute


def test_import_is_light_and_has_no_side_effects():
    code = (
        "import sys, warnings, logging;"
        # dependencies add filters of their own; aeimpute must add none
        "import numpy, pandas, scipy.sparse, sklearn.base, sklearn.utils;"
        "f = list(warnings.filters);"
        "import aeimpute;"
        "heavy = [m for m in ('torch', 'matplotlib', 'h5py', 'dask') if m in sys.modules];"
        "assert not heavy, heavy;"
        "assert warnings.filters == f;"
        "assert not logging.getLogger().handlers"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_version_and_public_api():
    assert aeimpute.__version__.count(".") == 2
    assert aeimpute.__all__ == [
        "Imputer",
        "KeypointImputer",
        "__version__",
        "missing_indicators",
        "report",
    ]
