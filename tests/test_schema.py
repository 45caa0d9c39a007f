import numpy as np
import pandas as pd
import pytest
from conftest import make_mixed

from aeimpute.schema import (
    ColumnSpec,
    Layout,
    decode,
    decode_label,
    encode,
    encode_label,
    infer_kind,
    infer_schema,
)


def test_kinds_detected_from_dtypes():
    df = make_mixed()
    kinds = {s.name: s.kind for s in infer_schema(df)}
    assert kinds == {
        "x": "numeric",
        "y": "numeric",
        "count": "integer",
        "flag": "binary",
        "colour": "categorical",
        "size": "categorical",
        "obj": "categorical",
        "when": "passthrough",
    }


@pytest.mark.parametrize(
    "values, kind",
    [
        ([1, 2, None], "numeric"),
        ([True, False, None], "binary"),
        ([1.5, None, 2.0], "numeric"),
        (["a", None, "b"], "categorical"),
    ],
)
def test_object_columns(values, kind):
    assert infer_kind(pd.Series(values, dtype=object)) == kind


def test_overrides_and_errors():
    df = pd.DataFrame({"a": [0.0, 1.0, np.nan, 1.0], "b": [1.0, 2.0, 3.0, 4.0]})
    specs = infer_schema(df, {"a": "binary"})
    assert specs[0].kind == "binary" and specs[0].levels == [0.0, 1.0]
    with pytest.raises(ValueError, match="'b' was declared binary"):
        infer_schema(df, {"b": "binary"})
    with pytest.raises(ValueError, match="not in the data"):
        infer_schema(df, {"zz": "numeric"})
    with pytest.raises(ValueError, match="column_kinds\\['a'\\]"):
        infer_schema(df, {"a": "fancy"})
    with pytest.raises(TypeError, match="'c'"):
        infer_schema(pd.DataFrame({"c": np.array([1 + 2j, 3j])}))


def test_encode_decode_round_trip_on_observed_cells():
    df = make_mixed()
    layout = Layout(infer_schema(df))
    values, observed = encode(df, layout)
    assert values.shape == (len(df), layout.n_encoded)
    assert observed.shape == (len(df), 7)
    # one-hot rows sum to one where observed, NaN where missing
    sl = layout.slices[4]
    assert np.allclose(values[observed[:, 4], sl].sum(axis=1), 1.0)
    assert np.isnan(values[~observed[:, 4], sl]).all()
    # writing the encoded values back into missing cells only leaves df unchanged
    out = decode(df, layout, np.nan_to_num(values), np.zeros_like(observed))
    pd.testing.assert_frame_equal(out, df)


def test_labels_json_round_trip():
    for label in ["a", 3, 2.5, True, ("a", 1), ("x", ("y", False))]:
        back = decode_label(encode_label(label))
        assert back == label and type(back) is type(label)
    with pytest.raises(TypeError, match="cannot save label"):
        encode_label(object())
    spec = ColumnSpec(name=("g", 1), kind="categorical", dtype="str", levels=["a", "b"])
    assert ColumnSpec.from_json(spec.to_json()) == spec
