import json
import zipfile

import numpy as np
import pandas as pd
import pytest
from conftest import FAST

from aeimpute import Imputer
from aeimpute.persistence import ModelFileError


@pytest.fixture
def fitted(mixed):
    return Imputer(**FAST, n_models=2, random_state=0).fit(mixed)


def test_round_trip_gives_identical_output(fitted, mixed, tmp_path):
    path = tmp_path / "model.aeimpute"
    fitted.save(path)
    loaded = Imputer.load(path)
    pd.testing.assert_frame_equal(loaded.transform(mixed), fitted.transform(mixed))
    pd.testing.assert_frame_equal(loaded.encode(mixed), fitted.encode(mixed))
    pd.testing.assert_series_equal(
        loaded.reconstruction_error(mixed), fitted.reconstruction_error(mixed)
    )
    pd.testing.assert_frame_equal(loaded.sample(mixed, 2)[1], fitted.sample(mixed, 2)[1])
    assert loaded.get_params() == fitted.get_params()
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["meta.json", "weights.pt"]


def test_numpy_model_and_tuple_columns(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    X[::4, 1] = np.nan
    imp = Imputer(**FAST, random_state=0).fit(X)
    imp.save(tmp_path / "m")
    np.testing.assert_array_equal(Imputer.load(tmp_path / "m").transform(X), imp.transform(X))
    df = pd.DataFrame(X, columns=pd.MultiIndex.from_tuples([("s1", 1), ("s1", 2), ("s2", 1)]))
    imp = Imputer(**FAST, random_state=0).fit(df)
    imp.save(tmp_path / "t")
    out = Imputer.load(tmp_path / "t").transform(df)
    pd.testing.assert_frame_equal(out, imp.transform(df))


def test_truncated_file(fitted, tmp_path):
    path = tmp_path / "m"
    fitted.save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated or corrupt"):
        Imputer.load(path)


def test_not_a_model_file(tmp_path):
    path = tmp_path / "m"
    path.write_text("hello")
    with pytest.raises(ModelFileError):
        Imputer.load(path)
    with pytest.raises(FileNotFoundError):
        Imputer.load(tmp_path / "absent")


def _rewrite(path, meta=None, weights=None):
    with zipfile.ZipFile(path) as zf:
        m = json.loads(zf.read("meta.json"))
        w = zf.read("weights.pt")
    if meta:
        m.update(meta)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("meta.json", json.dumps(m))
        zf.writestr("weights.pt", weights if weights is not None else w)


def test_tampered_weights(fitted, tmp_path):
    path = tmp_path / "m"
    fitted.save(path)
    _rewrite(path, weights=b"PK-not-torch")
    with pytest.raises(ModelFileError, match="checksum"):
        Imputer.load(path)


def test_incompatible_version(fitted, tmp_path):
    path = tmp_path / "m"
    fitted.save(path)
    _rewrite(path, meta={"library_version": "9.0.0"})
    with pytest.raises(ModelFileError, match="saved by aeimpute 9.0.0"):
        Imputer.load(path)
    _rewrite(path, meta={"library_version": fitted_version(), "format_version": 99})
    with pytest.raises(ModelFileError, match="format version 99"):
        Imputer.load(path)


def test_pickled_payload_is_refused(fitted, tmp_path):
    """A weights member that needs pickle to load is never executed."""
    import hashlib
    import io
    import pickle

    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('code ran')",))

    buf = io.BytesIO()
    import torch

    torch.save({"x": Boom()}, buf, pickle_module=pickle)
    payload = buf.getvalue()
    path = tmp_path / "m"
    fitted.save(path)
    _rewrite(path, meta={"weights_sha256": hashlib.sha256(payload).hexdigest()}, weights=payload)
    with pytest.raises(ModelFileError, match="invalid"):
        Imputer.load(path)


def fitted_version():
    from aeimpute import __version__

    return __version__
