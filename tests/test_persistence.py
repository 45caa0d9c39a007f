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


def _set_saved_param(path, name, value):
    """Rewrite one saved constructor parameter (checksum untouched: it covers the weights)."""
    with zipfile.ZipFile(path) as zf:
        meta = json.loads(zf.read("meta.json"))
        weights = zf.read("weights.pt")
    meta["state"]["params"][name] = value
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("meta.json", json.dumps(meta))
        zf.writestr("weights.pt", weights)


def test_model_saved_for_an_absent_device_loads_on_the_cpu(fitted, mixed, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: a CUDA model loads as it is")
    path = tmp_path / "m"
    fitted.save(path)
    _set_saved_param(path, "device", "cuda")  # as written by a fit on a GPU machine
    with pytest.raises(ValueError, match="saved with device='cuda'.*device='cpu'") as err:
        Imputer.load(path)
    assert not isinstance(err.value, ModelFileError)  # the file is fine; the device is not
    loaded = Imputer.load(path, device="cpu")
    assert loaded.device == "cpu" and loaded.device_ == "cpu"
    pd.testing.assert_frame_equal(loaded.transform(mixed), fitted.transform(mixed))


def test_column_kinds_channels_and_a_random_state_object_survive(tmp_path):
    rng = np.random.default_rng(3)
    df = pd.DataFrame(rng.normal(size=(60, 4)), columns=["a", "b", ("t", 1), 7])
    df["k"] = rng.integers(0, 5, 60).astype(float)
    df = df.mask(rng.random(df.shape) < 0.15)
    params = {
        "column_kinds": {"k": "integer"},
        "channels": {"pair": ["a", "b"], ("grp", 2): [("t", 1), 7]},
        "random_state": np.random.RandomState(0),
    }
    imp = Imputer(**FAST, **params).fit(df)
    imp.save(tmp_path / "m")
    back = Imputer.load(tmp_path / "m")
    assert back.column_kinds == {"k": "integer"}
    assert back.channels == params["channels"]
    assert back.channels_ == imp.channels_
    assert back.random_state is None and back.seed_ == imp.seed_  # the drawn seed is kept
    out = back.transform(df)
    pd.testing.assert_frame_equal(out, imp.transform(df))
    assert (out["k"].dropna() == out["k"].dropna().round()).all()


def test_blend_survives_with_every_candidate(tmp_path):
    from conftest import make_mixed

    df = make_mixed(n=300, seed=4)
    imp = Imputer(**{**FAST, "max_iter": 60}, validation_fraction=0.2, random_state=0).fit(df)
    imp.save(tmp_path / "m")
    back = Imputer.load(tmp_path / "m")
    assert back.blend_.weights == imp.blend_.weights
    pd.testing.assert_frame_equal(back.transform(df), imp.transform(df))


def test_missing_state_entry_is_a_model_file_error(fitted, tmp_path):
    path = tmp_path / "m"
    fitted.save(path)
    with zipfile.ZipFile(path) as zf:
        meta = json.loads(zf.read("meta.json"))
        weights = zf.read("weights.pt")
    del meta["state"]["scaler"]
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("meta.json", json.dumps(meta))
        zf.writestr("weights.pt", weights)
    with pytest.raises(ModelFileError, match="content is invalid.*scaler"):
        Imputer.load(path)
