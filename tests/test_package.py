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


def test_quickstart_example_runs(tmp_path, monkeypatch, capsys):
    import runpy
    from pathlib import Path

    monkeypatch.chdir(tmp_path)  # nothing may be left in the working folder
    script = Path(__file__).resolve().parents[1] / "examples" / "quickstart.py"
    runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out
    assert "blend weights: neighbours" in out and "network alone" in out
    assert "expected_error" in out and "share wrong" in out  # the summary
    assert "reloaded and transformed again: same table" in out
    assert list(tmp_path.iterdir()) == []  # the model file went to a temporary folder
