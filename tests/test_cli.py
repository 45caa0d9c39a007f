"""The aeimpute command line: fit, transform, fit-transform, errors and exit codes."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from aeimpute.cli import main

FAST = ["--max-iter", "20"]


@pytest.fixture
def table(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.normal(size=120)
    df = pd.DataFrame({"a": a, "b": 2 * a + rng.normal(scale=0.1, size=120), "id": range(120)})
    df.loc[rng.random(120) < 0.2, "b"] = np.nan
    path = tmp_path / "data.csv"
    df.to_csv(path, index=False)
    return df, path


def test_fit_then_transform_csv_and_parquet(table, tmp_path, capsys):
    df, path = table
    model = tmp_path / "m.aeimpute"
    assert main(["fit", str(path), "-o", str(model), *FAST, "--columns", "a", "b"]) == 0
    assert model.exists()
    pq = tmp_path / "data.parquet"
    df.to_parquet(pq, index=False)
    out = tmp_path / "filled.parquet"
    assert main(["transform", str(model), str(pq), "-o", str(out), "--batch-rows", "50"]) == 0
    filled = pd.read_parquet(out)
    assert list(filled.columns) == ["a", "b", "id"]
    assert not filled[["a", "b"]].isna().any().any()
    seen = df["b"].notna()
    np.testing.assert_array_equal(filled.loc[seen, "b"], df.loc[seen, "b"])
    assert filled["id"].tolist() == df["id"].tolist()  # not modelled: copied
    assert "cells filled" in capsys.readouterr().out


def test_precision_option_reaches_the_model(table, tmp_path):
    from aeimpute import Imputer

    _, path = table
    model = tmp_path / "m.aeimpute"
    assert main(["fit", str(path), "-o", str(model), *FAST, "--precision", "float32"]) == 0
    assert Imputer.load(model).precision_ == "float32"
    with pytest.raises(SystemExit):  # argparse rejects an unknown format
        main(["fit", str(path), "-o", str(model), "--precision", "half"])


def test_batch_rows_gives_the_same_result(table, tmp_path):
    _, path = table
    model = tmp_path / "m.aeimpute"
    main(["fit", str(path), "-o", str(model), *FAST])
    one, many = tmp_path / "one.csv", tmp_path / "many.csv"
    main(["transform", str(model), str(path), "-o", str(one)])
    main(["transform", str(model), str(path), "-o", str(many), "--batch-rows", "7"])
    pd.testing.assert_frame_equal(pd.read_csv(one), pd.read_csv(many))


def test_fit_transform_with_channels_and_date_index(tmp_path):
    n = 100
    df = pd.DataFrame(
        {
            "when": pd.date_range("2024-01-01", periods=n, freq="h").astype(str),
            "x": np.sin(np.arange(n) / 5),
            "y": np.cos(np.arange(n) / 5),
        }
    )
    df.loc[10:20, ["x", "y"]] = np.nan
    path, out = tmp_path / "s.csv", tmp_path / "s_out.csv"
    df.to_csv(path, index=False)
    spec = tmp_path / "channels.json"
    spec.write_text('{"sensor": ["x", "y"]}')
    args = ["fit-transform", str(path), "-o", str(out), "--index-col", "when",
            "--channels", str(spec), "--max-iter", "10"]  # fmt: skip
    assert main(args) == 0
    filled = pd.read_csv(out)
    assert list(filled.columns) == ["when", "x", "y"] and not filled.isna().any().any()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fit", "nope.csv", "-o", "m.aeimpute"], "nope.csv: no such file"),
        (["fit", "data.txt", "-o", "m.aeimpute"], "unknown file format"),
        (["fit", "{data}", "-o", "m.aeimpute", "--columns", "zz"], "--columns names columns"),
        (["fit", "{data}", "-o", "m.aeimpute", "--channels", "{bad"], "--channels is neither"),
        (["fit", "{data}", "-o", "m.aeimpute", "--channels", '{"s": ["zz"]}'], "'zz'"),
        (["fit", "{data}", "-o", "m.aeimpute", "--max-iter", "0"], "--max-iter must be"),
        (["transform", "none.aeimpute", "{data}", "-o", "x.csv"], "no such model file"),
        (["fit-transform", "{data}", "-o", "missing_dir/x.csv", *FAST], "does not exist"),
        (["fit", ".", "-o", "m.aeimpute"], "a folder without .parquet"),
        (["fit-transform", ".", "-o", "x.csv"], "is a folder; this command reads one file"),
        (["fit", "{data}", "-o", "m.aeimpute", "--fit-rows", "0"], "--fit-rows must be"),
    ],
)
def test_errors_exit_2_with_a_message(table, tmp_path, monkeypatch, capsys, argv, message):
    _, path = table
    monkeypatch.chdir(tmp_path)
    argv = [a.replace("{data}", str(path)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("aeimpute: error:") and message in err
    assert not (tmp_path / "missing_dir").exists()


def test_model_and_data_columns_must_match(table, tmp_path, capsys):
    df, path = table
    model = tmp_path / "m.aeimpute"
    main(["fit", str(path), "-o", str(model), *FAST])
    other = tmp_path / "other.csv"
    df.drop(columns="b").to_csv(other, index=False)
    assert main(["transform", str(model), str(other), "-o", str(tmp_path / "o.csv")]) == 2
    assert "lacks columns the model was fitted on: ['b']" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()
    not_model = tmp_path / "fake.aeimpute"
    not_model.write_text("hello")
    assert main(["transform", str(not_model), str(path), "-o", str(tmp_path / "o.csv")]) == 2


def test_help_runs_as_a_module():
    res = subprocess.run(
        [sys.executable, "-m", "aeimpute.cli", "--help"], capture_output=True, text=True
    )
    assert res.returncode == 0
    for command in ("fit", "transform", "fit-transform", "bench"):
        assert command in res.stdout
    res = subprocess.run(
        [sys.executable, "-m", "aeimpute.cli", "transform", "--help"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert "--batch-rows" in res.stdout and "--index-col" in res.stdout


def test_bench_passes_its_options_to_the_demo(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "--help"])
    assert exc.value.code == 0
    assert "--dataset" in capsys.readouterr().out


def test_parquet_to_parquet_streams_batches_with_the_same_result(tmp_path):
    rng = np.random.default_rng(1)
    n = 500
    a = rng.normal(size=n)
    df = pd.DataFrame(
        {
            "a": a,
            "b": 3 * a + rng.normal(scale=0.1, size=n),
            "count": pd.array(rng.integers(0, 5, size=n), dtype="Int64"),
            "label": rng.choice(["x", "y"], size=n),
        },
        index=pd.Index([f"k{i}" for i in range(n)], name="key"),
    )
    df.loc[df.index[rng.random(n) < 0.2], "b"] = np.nan
    df.loc[df.index[:50], "count"] = pd.NA  # only the first batches miss counts
    src = tmp_path / "in.parquet"
    df.to_parquet(src)
    model = tmp_path / "m.aeimpute"
    assert main(["fit", str(src), "-o", str(model), *FAST, "--columns", "a", "b", "count"]) == 0
    streamed = tmp_path / "streamed.parquet"
    argv = ["transform", str(model), str(src), "-o", str(streamed), "--batch-rows", "64"]
    assert main(argv) == 0
    out = pd.read_parquet(streamed)
    assert out.index.equals(df.index) and list(out.columns) == list(df.columns)
    assert out["label"].tolist() == df["label"].tolist()
    from aeimpute import Imputer

    whole = Imputer.load(model).transform(pd.read_parquet(src)[["a", "b", "count"]])
    np.testing.assert_allclose(out["b"].to_numpy(float), whole["b"].to_numpy(float), rtol=1e-6)
    assert out["count"].tolist() == whole["count"].tolist()
    assert not out[["a", "b", "count"]].isna().any().any()


def test_interrupted_stream_leaves_no_output(tmp_path, monkeypatch):
    import aeimpute.cli as cli

    df = pd.DataFrame({"a": np.arange(300.0), "b": np.r_[np.nan, np.arange(299.0)]})
    src, dst = tmp_path / "in.parquet", tmp_path / "out.parquet"
    df.to_parquet(src)
    model = tmp_path / "m.aeimpute"
    main(["fit", str(src), "-o", str(model), *FAST])
    calls = {"n": 0}
    real = cli._fill

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(cli, "_fill", failing)
    with pytest.raises(KeyboardInterrupt):
        main(["transform", str(model), str(src), "-o", str(dst), "--batch-rows", "50"])
    assert calls["n"] == 3
    assert list(tmp_path.glob("out.parquet*")) == []


def test_fit_from_a_parquet_folder_streams_a_seeded_sample(tmp_path, capsys):
    from aeimpute.cli import sample_parquet

    rng = np.random.default_rng(0)
    folder = tmp_path / "parts"
    folder.mkdir()
    parts = []
    for k in range(3):
        a = rng.normal(size=400)
        part = pd.DataFrame(
            {"a": a, "b": 2 * a, "n": pd.array(rng.integers(0, 5, 400), dtype="Int64")},
            index=pd.Index([f"p{k}_{i}" for i in range(400)], name="key"),
        )
        part.loc[part.index[::4], "b"] = np.nan
        part.to_parquet(folder / f"part{k}.parquet")
        parts.append(part)
    whole = pd.concat(parts)
    rows, n = sample_parquet(folder, 300, seed=1, columns=["a", "b"])
    assert n == 1200 and 200 < len(rows) < 400 and list(rows.columns) == ["a", "b"]
    pd.testing.assert_frame_equal(rows, whole.loc[rows.index, ["a", "b"]])  # index restored
    again, _ = sample_parquet(folder, 300, seed=1, columns=["a", "b"])
    pd.testing.assert_frame_equal(rows, again)
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    parts[0].to_parquet(hidden / "_metadata.parquet")  # skipped like any "_" or "." file
    assert main(["fit", str(hidden), "-o", str(tmp_path / "h.aeimpute")]) == 2
    assert "a folder without .parquet" in capsys.readouterr().err
    everything, _ = sample_parquet(folder, 5000, seed=1)
    pd.testing.assert_frame_equal(everything.sort_index(), whole.sort_index())  # Int64 kept
    model = tmp_path / "m.aeimpute"
    assert main(["fit", str(folder), "-o", str(model), *FAST, "--fit-rows", "300"]) == 0
    assert "a sample of" in capsys.readouterr().out
    out = tmp_path / "filled.parquet"
    assert main(["transform", str(model), str(folder / "part0.parquet"), "-o", str(out)]) == 0
    filled = pd.read_parquet(out)
    assert filled.index.equals(parts[0].index) and not filled.isna().any().any()


def test_a_corrupt_part_of_a_parquet_stream_exits_2_and_writes_nothing(tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(2000, 3)), columns=list("abc")).mask(
        rng.random((2000, 3)) < 0.1
    )
    src, dst = tmp_path / "in.parquet", tmp_path / "out.parquet"
    pq.write_table(pa.Table.from_pandas(df), src, row_group_size=1000)
    model = tmp_path / "m.aeimpute"
    assert main(["fit", str(src), "-o", str(model), *FAST]) == 0
    # break the page header of the second row group: the first one still reads
    offset = pq.ParquetFile(src).metadata.row_group(1).column(0).data_page_offset
    data = bytearray(src.read_bytes())
    data[offset : offset + 12] = b"\xff" * 12
    src.write_bytes(bytes(data))
    capsys.readouterr()
    code = main(["transform", str(model), str(src), "-o", str(dst), "--batch-rows", "500"])
    err = capsys.readouterr().err
    assert code == 2
    assert (
        f"{src}: cannot be read as parquet after 1000 rows" in err and "nothing was written" in err
    )
    assert list(tmp_path.glob("out.parquet*")) == []


def test_a_programming_error_is_not_reported_as_bad_input(table, tmp_path, monkeypatch):
    """Only the library's own input checks exit 2; a TypeError from a bug keeps its traceback."""
    import aeimpute.cli as cli

    def broken(*args, **kwargs):
        raise TypeError("unsupported operand type(s)")

    monkeypatch.setattr(cli, "_fill", broken)
    with pytest.raises(TypeError, match="unsupported operand"):
        main(["fit-transform", str(table[1]), "-o", str(tmp_path / "out.csv"), *FAST])


def test_an_all_empty_column_is_explained_in_command_line_options(tmp_path, capsys):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40), "empty": np.nan})
    df.loc[::4, "a"] = np.nan
    path = tmp_path / "data.csv"
    df.to_csv(path, index=False)
    out = tmp_path / "out.csv"
    assert main(["fit-transform", str(path), "-o", str(out), *FAST]) == 2
    err = capsys.readouterr().err
    assert "--all-missing keep" in err and "all_missing=" not in err
    assert main(["fit-transform", str(path), "-o", str(out), *FAST, "--all-missing", "keep"]) == 0
    filled = pd.read_csv(out)
    assert filled["empty"].isna().all() and not filled["a"].isna().any()
    assert "aeimpute: warning: column(s) ['empty'] are entirely missing" in capsys.readouterr().err


def test_column_kinds_option_reaches_the_model_and_bad_values_exit_2(table, tmp_path, capsys):
    from aeimpute import Imputer

    _, path = table
    model = tmp_path / "m.aeimpute"
    kinds = '{"id": "integer"}'
    assert main(["fit", str(path), "-o", str(model), *FAST, "--column-kinds", kinds]) == 0
    assert {s.name: s.kind for s in Imputer.load(model).schema_}["id"] == "integer"
    assert main(["fit", str(path), "-o", str(model), *FAST, "--column-kinds", '["id"]']) == 2
    assert "--column-kinds must be a JSON object" in capsys.readouterr().err
    bad = '{"id": "number"}'
    assert main(["fit", str(path), "-o", str(model), *FAST, "--column-kinds", bad]) == 2
    assert "'number' is not one of" in capsys.readouterr().err


def test_blend_options_reach_the_model(table, tmp_path):
    from aeimpute import Imputer

    _, path = table
    model = tmp_path / "m.aeimpute"
    blend = ["--trees", "off", "--linear", "on"]
    assert main(["fit", str(path), "-o", str(model), *FAST, *blend]) == 0
    loaded = Imputer.load(model)
    assert (loaded.trees, loaded.linear) == (False, True)


def test_model_and_data_given_the_other_way_round_say_so(table, tmp_path, capsys):
    _, path = table
    model = tmp_path / "m.aeimpute"
    assert main(["fit", str(path), "-o", str(model), *FAST]) == 0
    out = tmp_path / "out.csv"
    assert main(["transform", str(path), str(model), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "the first argument must be the model file and the second the table" in err
    assert "corrupt" not in err and not out.exists()


@pytest.mark.parametrize(
    ("library", "command_line"),
    [
        ("pass all_missing='keep' to", "pass --all-missing keep to"),
        (
            "pass column_kinds={...: 'passthrough'}",
            """pass --column-kinds '{"COLUMN": "passthrough"}'""",
        ),
        ("(pass temporal=False for", "(pass --temporal off for"),
        ("pass trees=False to", "pass --trees off to"),
        ("e.g. Imputer.load(path, device='cpu')", "e.g. --device cpu"),
        ("use device='auto' or device='cpu'", "use --device auto or --device cpu"),
    ],
)
def test_library_messages_name_command_line_options(library, command_line):
    from aeimpute.cli import command_line_terms

    assert command_line_terms(library) == command_line


@pytest.mark.parametrize("command", ["fit-transform", "transform"])
def test_dates_of_the_index_column_are_written_back_as_they_came(tmp_path, command):
    n = 60
    when = [f"2004-03-{10 + i // 24:02d}T{i % 24:02d}:00:00" for i in range(n)]
    df = pd.DataFrame({"when": when, "x": np.sin(np.arange(n) / 5), "y": np.cos(np.arange(n) / 5)})
    df.loc[10:14, "x"] = np.nan
    path, out = tmp_path / "s.csv", tmp_path / "s_out.csv"
    df.to_csv(path, index=False)
    options = ["--index-col", "when", *FAST]
    if command == "transform":
        model = tmp_path / "m.aeimpute"
        assert main(["fit", str(path), "-o", str(model), *options]) == 0
        assert (
            main(["transform", str(model), str(path), "-o", str(out), "--index-col", "when"]) == 0
        )
    else:
        assert main(["fit-transform", str(path), "-o", str(out), *options]) == 0
    filled = pd.read_csv(out, dtype={"when": str})
    assert filled["when"].tolist() == when
    assert not filled["x"].isna().any()


def test_columns_outside_the_model_are_copied_and_named_here_and_refused_in_python(
    table, tmp_path, capsys
):
    from aeimpute import Imputer

    df, path = table
    model = tmp_path / "m.aeimpute"
    assert main(["fit", str(path), "-o", str(model), *FAST, "--columns", "a", "b"]) == 0
    capsys.readouterr()
    out = tmp_path / "filled.csv"
    assert main(["transform", str(model), str(path), "-o", str(out)]) == 0
    assert "copied unchanged (not in the model): ['id']" in capsys.readouterr().out
    assert pd.read_csv(out)["id"].tolist() == df["id"].tolist()
    with pytest.raises(ValueError, match=r"not fitted on: \['id'\].*command line does this"):
        Imputer.load(model).transform(df)
