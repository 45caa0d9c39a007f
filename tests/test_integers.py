"""Integer columns typed float by pandas (an integer column with gaps read from CSV) stay whole."""

from __future__ import annotations

import numpy as np
import pandas as pd
from conftest import FAST

from aeimpute import Imputer
from aeimpute.cli import main


def _table(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    age = rng.integers(18, 80, size=n)
    df = pd.DataFrame({"age": age.astype(float), "income": 800.0 * age + rng.normal(0, 500, n)})
    df.loc[rng.random(n) < 0.2, "age"] = np.nan
    return df


def test_fills_of_a_whole_number_float_column_are_whole_and_the_dtype_is_kept():
    df = _table()
    out = Imputer(**FAST, random_state=0).fit_transform(df)
    assert out["age"].dtype == np.float64
    filled = out.loc[df["age"].isna(), "age"]
    assert len(filled) > 30 and (filled == np.round(filled)).all()
    assert not (out["income"] == np.round(out["income"])).all()  # a measurement stays as it is


def test_the_command_line_writes_whole_numbers_as_written(tmp_path):
    df = _table()
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False, float_format="%g")
    assert "." not in "".join(path.read_text().splitlines()[1:20]).split(",")[0]
    out = tmp_path / "o.csv"
    assert main(["fit-transform", str(path), "-o", str(out), "--max-iter", "20"]) == 0
    ages = [line.split(",")[0] for line in out.read_text().splitlines()[1:]]
    assert all(a.isdigit() for a in ages), ages[:10]  # 48, not 48.0


def test_a_new_file_with_fractions_in_an_integer_column_is_written_as_it_is(tmp_path):
    df = _table()
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False, float_format="%g")
    model = tmp_path / "m.aeimpute"
    assert main(["fit", str(path), "-o", str(model), "--max-iter", "20"]) == 0
    new = df.copy()
    new.loc[0, "age"] = 33.5  # not whole: written as read, nothing lost
    new_path = tmp_path / "new.csv"
    new.to_csv(new_path, index=False)
    out = tmp_path / "o.csv"
    assert main(["transform", str(model), str(new_path), "-o", str(out)]) == 0
    assert pd.read_csv(out)["age"].iloc[0] == 33.5
