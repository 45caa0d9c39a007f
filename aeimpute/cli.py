"""The ``aeimpute`` command line: fit, transform and fit-transform CSV and Parquet files.

The ``pose`` commands for pose-tracking files live in :mod:`aeimpute.keypoints.cli`.

Examples
--------
::

    aeimpute fit data.csv -o model.aeimpute
    aeimpute transform model.aeimpute new.parquet -o filled.parquet
    aeimpute fit-transform data.csv -o filled.csv --channels '{"gps": ["lat", "lon"]}'
    aeimpute bench --dataset wine

The file format follows the extension: ``.csv`` (also ``.csv.gz``) or
``.parquet`` / ``.pq``. Outputs are written atomically: an interrupted run
leaves no half-written file under the output name. Exit codes: 0 success,
1 an unexpected failure, 2 a problem with the command or the input (missing
file, unknown format, columns that do not match the model, bad options),
with a one-line message on standard error.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from aeimpute._files import atomic_path
from aeimpute._validation import InputTypeError
from aeimpute.command_line import (
    InputError,
    command_line_terms,
    device_option,
    seed_and_threads,
)
from aeimpute.dask_frames import FIT_ROWS


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    raise InputError(
        f"{path}: unknown file format (by extension); use .csv, .csv.gz, .parquet or .pq"
    )


def _source(path: Path, folder: bool = False) -> str:
    """The format of an input file that exists (or, with ``folder``, a folder of Parquet files)."""
    if folder and path.is_dir():
        if not _parquet_files(path):
            raise InputError(f"{path}: a folder without .parquet or .pq files")
        return "parquet"
    if path.is_dir():
        raise InputError(f"{path} is a folder; this command reads one file")
    kind = _kind(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    return kind


def read_table(path: Path, index_col: str | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet file; ``index_col`` becomes the index (dates parsed).

    When dates were parsed from text, the text as written is kept in
    ``df.attrs["index_as_written"]`` so that :func:`write_table` writes it back
    unchanged (``2004-03-10T18:00:00`` stays so, not ``2004-03-10 18:00:00``).
    """
    kind = _source(path)
    try:
        if kind == "csv":
            df = pd.read_csv(path)
        else:
            import pyarrow.parquet as pq

            df = _to_pandas(pq.read_table(path))
    except (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: cannot be read as {kind} ({err})") from err
    if index_col is not None:
        if index_col not in df.columns:
            raise InputError(f"{path}: --index-col {index_col!r} is not a column of the file")
        index = df.pop(index_col)
        written = None
        if not pd.api.types.is_numeric_dtype(index):
            try:
                index, written = pd.to_datetime(index), index
            except (ValueError, TypeError):
                pass
        df.index = pd.Index(index, name=index_col)
        if written is not None:
            df.attrs["index_as_written"] = pd.Index(written, name=index_col)
    return df


def _nullable(arrow_type: Any) -> Any:
    """Integers and booleans as pandas nullable dtypes, so a column's dtype does not depend on
    whether a given piece of the file has missing values in it."""
    import pyarrow as pa

    if pa.types.is_integer(arrow_type):
        return pd.Int64Dtype()
    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    return None


def _to_pandas(table: Any) -> pd.DataFrame:
    """An Arrow table or record batch as a DataFrame (pandas index metadata restored)."""
    return table.to_pandas(types_mapper=_nullable)


def stream_parquet(
    imputer: Any, src: Path, dst: Path, columns: list, batch_rows: int = 65_536
) -> int:
    """Fill a Parquet file into another, one record batch at a time (row-wise models).

    Memory stays that of one batch whatever the file's length; the output is
    written to a temporary file and renamed at the end. Returns the number
    of cells filled.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    # buffered reads of column chunks rather than whole pre-buffered row groups: memory then
    # follows the batch size, not the file's row-group size
    source = _open_parquet(src)
    _check_model_columns(imputer, source.schema_arrow.names, src)
    filled = 0
    with atomic_path(dst) as tmp:
        writer = None
        try:
            for batch in _read_batches(source, src, batch_rows):
                # the index, if stored as a column, passes through as a plain column; the
                # file's pandas metadata (index, dtypes) is copied to the output below
                df = pa.Table.from_batches([batch]).to_pandas(
                    types_mapper=_nullable, ignore_metadata=True
                )
                filled += int(df[columns].isna().sum().sum())
                out = _fill(imputer, df, columns, None)
                if writer is None:
                    table = pa.Table.from_pandas(out, preserve_index=False)
                    schema = table.schema.with_metadata(source.schema_arrow.metadata)
                    table = table.replace_schema_metadata(schema.metadata)
                    writer = pq.ParquetWriter(tmp, schema)
                else:
                    table = pa.Table.from_pandas(out, schema=writer.schema, preserve_index=False)
                writer.write_table(table)
            if writer is None:  # no rows: an empty file with the same columns
                pq.write_table(source.schema_arrow.empty_table(), tmp)
        finally:
            if writer is not None:
                writer.close()
    return filled


def _read_batches(source: Any, path: Path, batch_rows: int) -> Any:
    """The record batches of ``source``; a part of the file that cannot be read (a corrupt
    page, say) is an :class:`InputError` naming the file and how far reading got."""
    import pyarrow as pa

    batches = source.iter_batches(batch_size=batch_rows)
    rows = 0
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except (OSError, pa.ArrowException) as err:
            raise InputError(
                f"{path}: cannot be read as parquet after {rows} rows ({err}); nothing was written"
            ) from err
        rows += batch.num_rows
        yield batch


def _parquet_files(path: Path) -> list[Path]:
    """The Parquet files of a file or folder (hidden and ``_``-prefixed files skipped)."""
    if not path.is_dir():
        return [path]
    found = [*path.rglob("*.parquet"), *path.rglob("*.pq")]
    return sorted(f for f in found if not f.name.startswith((".", "_")))


def _open_parquet(path: Path) -> Any:
    """A ParquetFile that reads column chunks through a 1 MB buffer (no whole row groups)."""
    import pyarrow.parquet as pq

    return pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)


def sample_parquet(
    path: Path, max_rows: int, seed: int, columns: list[str] | None = None
) -> tuple[pd.DataFrame, int]:
    """Rows of a Parquet file or folder to fit on, read as a stream of record batches.

    All rows when there are at most ``max_rows``; otherwise each row is kept
    with probability ``max_rows / n_rows`` (seeded by ``seed``), so memory
    holds the sample and one batch, never the whole file. Returns the rows
    and the number of rows in the source.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = _parquet_files(path)
    try:
        schema = pq.read_schema(files[0])
        n_rows = sum(pq.read_metadata(f).num_rows for f in files)
    except (OSError, pa.ArrowException) as err:
        raise InputError(f"{path}: cannot be read as parquet ({err})") from err
    read = None
    if columns:
        missing = [c for c in columns if c not in schema.names]
        if missing:
            raise InputError(f"--columns names columns not in the data: {missing}")
        index = (schema.pandas_metadata or {}).get("index_columns", [])
        read = list(dict.fromkeys([*columns, *(c for c in index if isinstance(c, str))]))
    rng = np.random.default_rng(seed)
    rate = max_rows / n_rows if n_rows > max_rows else None
    kept = []
    try:
        for f in files:
            for batch in _open_parquet(f).iter_batches(batch_size=65_536, columns=read):
                if rate is not None:
                    batch = batch.filter(pa.array(rng.random(batch.num_rows) < rate))
                kept.append(batch)
        table = pa.Table.from_batches(kept) if kept else schema.empty_table()
    except (OSError, pa.ArrowException) as err:  # unreadable or mismatched files
        raise InputError(f"{path}: cannot be read as parquet ({err})") from err
    df = _to_pandas(table.replace_schema_metadata(schema.metadata))
    return (df[columns] if columns else df), n_rows


def write_table(
    df: pd.DataFrame,
    path: Path,
    index: bool,
    index_as_written: pd.Index | None = None,
    whole: list | None = None,
) -> None:
    """Write a CSV or Parquet file atomically (temporary file, then rename).

    With ``index_as_written`` (dates as the input file wrote them), a CSV
    gets that text as its index column instead of pandas' formatting; the
    float columns in ``whole`` (whole numbers read as float because of gaps)
    are written to a CSV as whole numbers (``1360``, not ``1360.0``).
    """
    kind = _kind(path)
    if index and kind == "csv" and index_as_written is not None:
        df = df.set_axis(index_as_written, axis=0)
    if kind == "csv" and whole:
        df = df.astype({c: "Int64" for c in whole})
    with atomic_path(path) as tmp:
        if kind == "csv":
            df.to_csv(tmp, index=index, compression="gzip" if path.name.endswith(".gz") else None)
        else:
            df.to_parquet(tmp, index=index)


def _json_option(text: str, option: str) -> Any:
    """The JSON value of an option given inline or as the name of a file holding it."""
    source = text
    if not text.lstrip().startswith("{") and Path(text).exists():
        source = Path(text).read_text()
    try:
        return json.loads(source)
    except json.JSONDecodeError as err:
        raise InputError(
            f"{option} is neither a JSON object nor a file holding one ({err})"
        ) from err


def _channels(text: str | None) -> Any:
    if text is None:
        return None
    value = _json_option(text, "--channels")
    if not isinstance(value, dict) or not all(isinstance(v, list) for v in value.values()):
        raise InputError('--channels must be a JSON object {"channel": ["column", ...], ...}')
    return value


def _split_columns(df: pd.DataFrame, columns: list[str] | None) -> pd.DataFrame:
    if not columns:
        return df
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"--columns names columns not in the data: {missing}")
    return df[columns]


def _check_model_columns(imputer: Any, columns: Any, source: Path) -> None:
    missing = [c for c in imputer.columns_ if c not in columns]
    if missing:
        raise InputError(
            f"{source} lacks columns the model was fitted on: {missing} "
            f"(model columns: {imputer.columns_})"
        )


def _column_kinds(text: str | None) -> dict | None:
    if text is None:
        return None
    value = _json_option(text, "--column-kinds")
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InputError(
            '--column-kinds must be a JSON object {"column": "kind", ...} with kinds numeric, '
            "integer, binary, categorical or passthrough"
        )
    return value


def _options(args: argparse.Namespace) -> dict:
    opts: dict = {
        "random_state": args.seed,
        "n_jobs": args.threads,
        "precision": args.precision,
        "all_missing": args.all_missing,
        "device": args.device,
    }
    if args.max_iter is not None:
        opts["max_iter"] = args.max_iter
    if args.channels is not None:
        opts["channels"] = _channels(args.channels)
    if args.column_kinds is not None:
        opts["column_kinds"] = _column_kinds(args.column_kinds)
    if args.temporal != "auto":
        opts["temporal"] = args.temporal == "on"
    for name in ("linear", "trees"):
        if getattr(args, name) != "auto":
            opts[name] = getattr(args, name) == "on"
    opts["verbose"] = args.progress == "on" or (args.progress == "auto" and sys.stderr.isatty())
    return opts


def _fill(imputer: Any, df: pd.DataFrame, columns: list[str] | None, batch_rows: int | None):
    """Impute the chosen columns of ``df``; the other columns pass through unchanged."""
    part = _split_columns(df, columns)
    if batch_rows and not getattr(imputer, "temporal_", False) and len(part) > batch_rows:
        pieces = [
            imputer.transform(part.iloc[i : i + batch_rows])
            for i in range(0, len(part), batch_rows)
        ]
        filled = pd.concat(pieces)
    else:
        filled = imputer.transform(part)
    out = df.copy()
    out[list(part.columns)] = filled
    return out


def _cmd_fit(args: argparse.Namespace) -> None:
    from aeimpute import Imputer

    if args.index_col is None and _source(args.data, folder=True) == "parquet":
        df, n_rows = sample_parquet(args.data, args.fit_rows, args.seed, args.columns)
    else:  # CSV, or a time series (every row is kept: they are its time axis)
        df = read_table(args.data, args.index_col)
        df.attrs.pop("index_as_written", None)
        df = _split_columns(df, args.columns)
        n_rows = len(df)
    imputer = Imputer(**_options(args)).fit(df)
    imputer.save(args.output)
    rows = f"{len(df)} rows" if len(df) == n_rows else f"a sample of {len(df)} of {n_rows} rows"
    print(f"fitted on {rows} x {df.shape[1]} columns; model written to {args.output}")
    print(imputer.summary(df))


def _is_table_name(path: Path) -> bool:
    try:
        _kind(path)
    except InputError:
        return False
    return True


def _check_argument_order(model: Path, data: Path) -> None:
    """MODEL and DATA given the other way round (by their names): say so, not "bad model file"."""
    if _is_table_name(model) or data.suffix == ".aeimpute":
        raise InputError(
            f"the first argument must be the model file and the second the table, got "
            f"{model} then {data}; the order is: aeimpute transform MODEL DATA -o OUTPUT"
        )


def _whole_columns(imputer: Any, out: pd.DataFrame) -> list:
    """Float columns the model treats as integers whose values are all whole numbers here."""
    import numpy as np

    found = []
    for spec in imputer.schema_:
        col = out[spec.name]
        if spec.kind != "integer" or not pd.api.types.is_float_dtype(col.dtype):
            continue
        values = col.to_numpy(dtype="float64", na_value=np.nan)
        finite = values[np.isfinite(values)]
        if np.isfinite(values[~np.isnan(values)]).all() and (finite == np.round(finite)).all():
            found.append(spec.name)
    return found


def _say_copied(names: Any, modelled: list) -> None:
    """Name the columns copied to the output unchanged (not modelled)."""
    others = [c for c in names if c not in modelled and not str(c).startswith("__index_level_")]
    if others:
        print(f"copied unchanged (not in the model): {others}")


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings on standard error in one line, settings named as command-line options."""
    print(f"aeimpute: warning: {command_line_terms(str(message))}", file=sys.stderr)


def _cmd_transform(args: argparse.Namespace) -> None:
    from aeimpute import Imputer

    _check_argument_order(args.model, args.data)
    if not args.model.exists():
        raise InputError(f"{args.model}: no such model file")
    device = None if args.device == "auto" else args.device  # None: the device it was saved on
    imputer = Imputer.load(args.model, device=device)  # a bad file: ModelFileError (ValueError)
    columns = args.columns or list(imputer.columns_)
    streamable = args.index_col is None and not imputer.temporal_
    if streamable and _source(args.data) == "parquet" and _kind(args.output) == "parquet":
        n = stream_parquet(imputer, args.data, args.output, columns, args.batch_rows or 65_536)
        print(f"{n} cells filled; written to {args.output}")
        _say_copied(_open_parquet(args.data).schema_arrow.names, columns)
        return
    df = read_table(args.data, args.index_col)
    written = df.attrs.pop("index_as_written", None)  # before anything copies the frame
    _check_model_columns(imputer, df.columns, args.data)
    out = _fill(imputer, df, columns, args.batch_rows)
    write_table(out, args.output, index=args.index_col is not None, index_as_written=written,
                whole=_whole_columns(imputer, out))  # fmt: skip
    print(f"{int(df[columns].isna().sum().sum())} cells filled; written to {args.output}")
    _say_copied(df.columns, columns)


def _cmd_fit_transform(args: argparse.Namespace) -> None:
    from aeimpute import Imputer

    df = read_table(args.data, args.index_col)
    written = df.attrs.pop("index_as_written", None)  # before anything copies the frame
    part = _split_columns(df, args.columns)
    imputer = Imputer(**_options(args)).fit(part)
    print(imputer.summary(part))
    out = _fill(imputer, df, list(part.columns), args.batch_rows)
    write_table(out, args.output, index=args.index_col is not None, index_as_written=written,
                whole=_whole_columns(imputer, out))  # fmt: skip
    print(f"{int(part.isna().sum().sum())} cells filled; written to {args.output}")
    _say_copied(df.columns, list(part.columns))


COMMANDS = ("fit", "transform", "fit-transform", "bench", "pose", "pose fit", "pose repair")


def help_text(command: str | None = None, width: int = 90) -> str:
    """The ``--help`` text of ``aeimpute`` or of one of its commands, ``width`` columns wide.

    The documentation's command-line page is built from it, so it lists every
    option the parser has.

    Examples
    --------
    >>> "--column-kinds" in help_text("fit")
    True
    """
    if command is not None and command not in COMMANDS:
        raise ValueError(f"unknown command {command!r}; known: {', '.join(COMMANDS)}")

    def formatter(prog: str) -> argparse.HelpFormatter:
        return argparse.HelpFormatter(prog, width=width)

    if command == "bench":
        from aeimpute import demo

        return demo.build_parser("aeimpute bench", formatter).format_help()
    parser, commands = _parser(formatter)
    return (parser if command is None else commands[command]).format_help()


def _parser(
    formatter_class: Any = argparse.HelpFormatter,
) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The command line's parser and, by name, the parser of each command."""
    p = argparse.ArgumentParser(
        prog="aeimpute",
        formatter_class=formatter_class,
        description="Fill missing values in CSV and Parquet files with a denoising autoencoder, "
        "and repair pose-tracking files ('aeimpute pose').",
        epilog="Run 'aeimpute COMMAND --help' for the options of a command. Exit codes: 0 "
        "success, 2 a problem with the command or the input, 1 anything else.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def data_options(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("data", type=Path, help="input table (.csv, .csv.gz, .parquet, .pq)")
        sp.add_argument(
            "--columns", nargs="+", metavar="COL",
            help="impute only these columns (others are copied unchanged)",
        )  # fmt: skip
        sp.add_argument(
            "--index-col", metavar="COL",
            help="column to use as the row index (dates are parsed; a sorted date index turns "
            "on temporal context)",
        )  # fmt: skip

    def model_options(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--channels", metavar="JSON|FILE",
            help='columns that go missing together: a JSON object {"name": ["col", ...]} or '
            "a file holding one",
        )  # fmt: skip
        sp.add_argument(
            "--column-kinds", metavar="JSON|FILE",
            help='how to model columns whose type is not what the file suggests: a JSON object '
            '{"column": "integer"} (kinds: numeric, integer, binary, categorical, passthrough) '
            "or a file holding one",
        )  # fmt: skip
        sp.add_argument(
            "--all-missing", choices=("error", "keep"), default="error",
            help="a column with no value at all: stop with an error (default) or keep it "
            "empty in the output",
        )  # fmt: skip
        sp.add_argument(
            "--temporal", choices=("auto", "on", "off"), default="auto",
            help="use neighbouring rows as context (auto: with a sorted date index)",
        )  # fmt: skip
        for name, what in (("linear", "ridge regressions"), ("trees", "boosted trees")):
            sp.add_argument(
                f"--{name}", choices=("auto", "on", "off"), default="auto",
                help=f"blend {what} with the network (auto: on tables of up to 20,000 rows)",
            )  # fmt: skip
        sp.add_argument(
            "--max-iter", "--max-steps", type=int, dest="max_iter",
            help="training steps (default: the Imputer's)",
        )  # fmt: skip
        seed_and_threads(sp)
        sp.add_argument(
            "--precision", choices=("auto", "float32", "bfloat16"), default="auto",
            help="number format of training steps (auto: bfloat16 where native)",
        )  # fmt: skip
        device_option(sp)
        sp.add_argument(
            "--progress", choices=("auto", "on", "off"), default="auto",
            help="progress bar while training (auto: when standard error is a terminal)",
        )  # fmt: skip

    def batch_option(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--batch-rows", type=int, metavar="N",
            help="transform N rows at a time (row-wise models only); Parquet to Parquet "
            "streams record batches of N rows (default 65536) in constant memory",
        )  # fmt: skip

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name, help=summary, description=description, formatter_class=formatter_class
        )

    fit = command(
        "fit", "fit a model and save it", "Fit and save. DATA may also be a folder of Parquet "
        "files.",
    )  # fmt: skip
    data_options(fit)
    model_options(fit)
    fit.add_argument(
        "--fit-rows", type=int, default=FIT_ROWS, metavar="N",
        help=f"fit on at most about N rows of a Parquet source (default {FIT_ROWS:,}): a larger "
        "file or folder is streamed and a seeded uniform random sample kept",
    )  # fmt: skip
    fit.add_argument("-o", "--output", type=Path, required=True, help="model file to write")
    fit.set_defaults(run=_cmd_fit)

    tr = command("transform", "fill a table with a saved model", "Fill with a model.")
    tr.add_argument("model", type=Path, help="model file written by 'aeimpute fit'")
    data_options(tr)
    batch_option(tr)
    device_option(tr)
    tr.add_argument("-o", "--output", type=Path, required=True, help="table to write")
    tr.set_defaults(run=_cmd_transform)

    ft = command("fit-transform", "fit on a table and fill it", "Fit, then fill.")
    data_options(ft)
    model_options(ft)
    batch_option(ft)
    ft.add_argument("-o", "--output", type=Path, required=True, help="table to write")
    ft.set_defaults(run=_cmd_fit_transform)

    bench = sub.add_parser(
        "bench",
        help="compare with mean, KNN and MICE on a bundled table (the 'make demo' run)",
        description="Options after 'bench' go to the demo: --dataset, --rate, --seed, --output.",
        add_help=False,
    )
    bench.add_argument("rest", nargs=argparse.REMAINDER)
    from aeimpute.keypoints.cli import add_commands

    pose = add_commands(sub, formatter_class)
    return p, {"fit": fit, "transform": tr, "fit-transform": ft, "bench": bench, **pose}


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:  # every later option belongs to the demo, --help included
        from aeimpute import demo

        return int(demo.main(argv[1:], prog="aeimpute bench") or 0)
    args = _parser()[0].parse_args(argv)
    for name in ("batch_rows", "max_iter", "threads", "fit_rows", "max_gap", "window"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            option = "--" + name.replace("_", "-")
            print(f"aeimpute: error: {option} must be at least 1", file=sys.stderr)
            return 2
    try:
        output = getattr(args, "output", None)
        if output is not None:  # before any work: fail fast on an output that cannot be written
            if args.command in ("transform", "fit-transform"):  # tables, by extension
                _kind(output)
            if not output.parent.exists():
                raise InputError(f"{output}: the folder {output.parent} does not exist")
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = _show_warning
            code = args.run(args)
    except (InputError, ValueError, InputTypeError) as err:  # the checks name the problem
        print(f"aeimpute: error: {command_line_terms(str(err))}", file=sys.stderr)
        return 2
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
