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


def _kinds(df):
    return {s.name: s.kind for s in infer_schema(df)}


def test_whole_numbers_read_from_csv_are_integers_and_measurements_stay_numeric(tmp_path):
    import io

    rng = np.random.default_rng(0)
    n = 200
    text = pd.DataFrame(
        {
            "age": rng.integers(18, 90, size=n).astype(float),
            "income": np.round(rng.normal(50_000, 9_000, size=n), 2),  # cents: a measurement
            "height": rng.normal(170, 10, size=n),
        }
    )
    text.loc[rng.random(n) < 0.2, "age"] = np.nan
    buffer = io.StringIO()
    text.to_csv(buffer, index=False, float_format="%g")
    for options in ({}, {"dtype_backend": "numpy_nullable"}):  # float64, then Int64/Float64
        buffer.seek(0)
        df = pd.read_csv(buffer, **options)
        assert _kinds(df) == {"age": "integer", "income": "numeric", "height": "numeric"}, options


def test_few_whole_numbers_stay_numeric_with_a_warning_that_names_the_way_out():
    df = pd.DataFrame({"x": [1.0, 4.0, np.nan, 7.0] * 3, "y": np.linspace(0, 1, 12)})
    with pytest.warns(UserWarning, match=r"column 'x' holds whole numbers.*column_kinds="):
        assert _kinds(df)["x"] == "numeric"


def test_whole_number_columns_of_real_tables():
    from sklearn import datasets

    wine = _kinds(datasets.load_wine(as_frame=True).data)
    assert wine["magnesium"] == wine["proline"] == "integer"  # recorded in whole units
    assert wine["alcohol"] == wine["hue"] == "numeric"
    assert set(_kinds(datasets.load_digits(as_frame=True).data).values()) == {"integer"}
    assert set(_kinds(datasets.load_breast_cancer(as_frame=True).data).values()) == {"numeric"}
    raw = datasets.load_diabetes(as_frame=True, scaled=False).data
    diabetes = _kinds(raw)
    assert diabetes["age"] == diabetes["sex"] == "integer"
    assert diabetes["bmi"] == diabetes["s5"] == "numeric"
