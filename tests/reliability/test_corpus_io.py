"""Bad files and frames at the entry points where data comes in: readers, from_arrow/from_pandas, Dataset.

Each case gives the documented gpupipe error naming the file or column (FileNotFoundError for a
missing path), or a documented result whose values are asserted against pandas/pyarrow.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from corpus_helpers import expect_error, says_what_to_do

import gpupipe as gp
from gpupipe.errors import DataError, SchemaError

GOOD = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})


@pytest.fixture
def files(tmp_path):
    """A good parquet and CSV file and the raw bytes of the parquet one."""
    pq.write_table(pa.Table.from_pandas(GOOD, preserve_index=False), tmp_path / "good.parquet")
    GOOD.to_csv(tmp_path / "good.csv", index=False)
    return tmp_path, (tmp_path / "good.parquet").read_bytes()


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


READERS = {"parquet": gp.read_parquet, "csv": gp.read_csv, "arrow": gp.read_arrow}


# ---------------------------------------------------------------------------------------- missing
@pytest.mark.parametrize("kind", list(READERS))
def test_a_missing_file_is_file_not_found_naming_it(backend, tmp_path, kind):
    path = tmp_path / f"nope.{kind}"
    with pytest.raises(FileNotFoundError) as info:
        READERS[kind](path)
    assert str(path) in str(info.value)


def test_a_missing_file_in_a_dataset_is_file_not_found(backend, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.parquet"):
        gp.Dataset(tmp_path / "nope.parquet")


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_no_path_and_an_empty_directory_are_data_errors(backend, tmp_path, kind):
    expect_error(DataError, lambda: READERS[kind]([]), "no path")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".hidden").write_text("x")
    exc = expect_error(DataError, lambda: READERS[kind](tmp_path / "empty"), str(tmp_path / "empty"))
    assert says_what_to_do(exc)


# ---------------------------------------------------------------------------------------- empty, truncated
@pytest.mark.parametrize("kind", list(READERS))
def test_a_zero_byte_file_is_a_data_error_naming_it(backend, tmp_path, kind):
    path = _write(tmp_path / f"empty.{kind}", b"")
    exc = expect_error(DataError, lambda: READERS[kind](path), str(path))
    assert says_what_to_do(exc)


@pytest.mark.parametrize("cut", [0.5, 0.9, 0.99])
def test_a_truncated_parquet_file_is_a_data_error(backend, files, cut):
    d, raw = files
    path = _write(d / "cut.parquet", raw[: int(len(raw) * cut)])
    expect_error(DataError, lambda: gp.read_parquet(path), str(path))
    expect_error(DataError, lambda: gp.Dataset(path).to_frame(), str(path))


def test_a_truncated_arrow_file_is_a_data_error(backend, tmp_path):
    import pyarrow.feather as feather

    feather.write_feather(pa.Table.from_pandas(GOOD, preserve_index=False), tmp_path / "t.arrow")
    raw = (tmp_path / "t.arrow").read_bytes()
    path = _write(tmp_path / "cut.arrow", raw[: len(raw) // 2])
    expect_error(DataError, lambda: gp.read_arrow(path), str(path))


def test_a_csv_cut_mid_row_is_a_data_error_naming_the_file(backend, tmp_path):
    path = _write(tmp_path / "cut.csv", b"a,b,c\n1,2,3\n4,5")
    expect_error(DataError, lambda: gp.read_csv(path), str(path))


def test_a_header_only_csv_reads_as_zero_rows_with_its_columns(backend, tmp_path):
    # Documented result: the columns exist, no rows. The Workflow then refuses it as empty input.
    path = _write(tmp_path / "h.csv", b"a,b\n")
    frame = gp.read_csv(path)
    assert list(frame.columns) == ["a", "b"]
    assert len(frame) == 0
    wf = gp.Workflow(["a"] >> gp.ops.FillMissing())
    expect_error(DataError, lambda: wf.fit(frame), "empty")


def test_a_header_only_parquet_reads_as_zero_rows_with_its_dtypes(backend, tmp_path):
    path = tmp_path / "h.parquet"
    pq.write_table(pa.table({"a": pa.array([], pa.int64()), "b": pa.array([], pa.string())}), path)
    frame = gp.read_parquet(path)
    assert list(frame.columns) == ["a", "b"] and len(frame) == 0
    assert gp.to_pandas(frame)["a"].dtype == "Int64"


# ---------------------------------------------------------------------------------------- mislabelled
def test_csv_content_named_parquet_is_a_data_error(backend, tmp_path):
    path = _write(tmp_path / "really_csv.parquet", b"a,b\n1,2\n")
    exc = expect_error(DataError, lambda: gp.read_parquet(path), str(path), "parquet")
    assert says_what_to_do(exc)
    expect_error(DataError, lambda: gp.Dataset(path).to_frame(), str(path))


def test_parquet_content_named_csv_is_a_data_error(backend, files):
    d, raw = files
    path = _write(d / "really_parquet.csv", raw)
    expect_error(DataError, lambda: gp.read_csv(path), str(path), "CSV")


def test_parquet_content_named_arrow_is_a_data_error(backend, files):
    d, raw = files
    path = _write(d / "really_parquet.arrow", raw)
    expect_error(DataError, lambda: gp.read_arrow(path), str(path))


# ---------------------------------------------------------------------------------------- reader arguments
def test_reading_a_column_the_file_lacks_is_a_schema_error(backend, files):
    d, _ = files
    expect_error(SchemaError, lambda: gp.read_parquet(d / "good.parquet", columns=["zz"]), "zz")
    expect_error(SchemaError, lambda: gp.read_csv(d / "good.csv", columns=["zz"]), "zz")


def test_a_csv_dtype_that_is_not_a_dtype_is_a_schema_error_naming_the_column(backend, files):
    d, _ = files
    expect_error(SchemaError, lambda: gp.read_csv(d / "good.csv", dtype={"a": "notatype"}), "'a'", "notatype")


def test_a_csv_value_that_does_not_fit_the_given_dtype_is_a_data_error(backend, files):
    d, _ = files
    expect_error(DataError, lambda: gp.read_csv(d / "good.csv", dtype={"b": "int64"}), "good.csv", "'x'")


def test_ragged_csv_rows_are_a_data_error(backend, tmp_path):
    path = _write(tmp_path / "r.csv", b"a,b\n1,2\n3\n4,5\n")
    expect_error(DataError, lambda: gp.read_csv(path), str(path))


def test_a_csv_whose_header_is_not_utf8_is_a_data_error(backend, tmp_path):
    path = _write(tmp_path / "latin1.csv", "caf\u00e9,b\n1,2\n".encode("latin-1"))
    expect_error(DataError, lambda: gp.read_csv(path), str(path))


# ---------------------------------------------------------------------------------------- column names
def test_a_csv_repeating_a_column_name_is_a_schema_error(backend, tmp_path):
    path = _write(tmp_path / "dup.csv", b"a,b,a\n1,2,3\n")
    exc = expect_error(SchemaError, lambda: gp.read_csv(path), str(path), "['a']")
    assert "names=" in str(exc)


def test_a_parquet_file_repeating_a_column_name_is_a_schema_error(backend, tmp_path):
    path = tmp_path / "dup.parquet"
    pq.write_table(pa.table([[1], [2]], names=["a", "a"]), path)
    expect_error(SchemaError, lambda: gp.read_parquet(path), str(path), "['a']")


def test_from_arrow_and_from_pandas_refuse_duplicate_names(backend):
    expect_error(SchemaError, lambda: gp.from_arrow(pa.table([[1], [2]], names=["a", "a"])), "from_arrow", "'a'")
    dup = pd.DataFrame([[1, 2]], columns=["a", "a"])
    expect_error(SchemaError, lambda: gp.from_pandas(dup), "from_pandas", "'a'")


@pytest.mark.parametrize("columns", [[0, 1], [("a", "x"), ("a", "y")]], ids=["ints", "tuples"])
def test_non_string_column_names_are_refused_where_they_would_be_renamed(backend, tmp_path, columns):
    df = pd.DataFrame([[1.0, 2.0]], columns=pd.MultiIndex.from_tuples(columns) if isinstance(columns[0], tuple)
                      else columns)
    expect_error(SchemaError, lambda: gp.from_pandas(df), "from_pandas", "strings")
    # Arrow would write 0 as "0": a file that reads back under other names is refused before writing.
    expect_error(SchemaError, lambda: gp.write_parquet(df, tmp_path / "x.parquet"), "strings")
    assert not os.path.exists(tmp_path / "x.parquet")
    wf = gp.Workflow(["x"] >> gp.ops.Normalize())
    expect_error(SchemaError, lambda: wf.fit(df), "strings")


def test_string_names_that_look_like_numbers_round_trip(backend, tmp_path):
    df = gp.from_pandas(pd.DataFrame({"0": [1.5, 2.5], "1": ["a", "b"]}))
    gp.write_parquet(df, tmp_path / "n.parquet")
    back = gp.to_pandas(gp.read_parquet(tmp_path / "n.parquet"))
    assert list(back.columns) == ["0", "1"]
    assert back["0"].tolist() == [1.5, 2.5]


# ---------------------------------------------------------------------------------------- wrong objects
def test_from_arrow_names_what_it_got(backend):
    with pytest.raises(TypeError, match=r"builtins\.int"):
        gp.from_arrow(123)


def test_dataset_of_non_paths_names_what_it_got(backend):
    with pytest.raises(TypeError, match=r"gp\.Dataset takes paths"):
        gp.Dataset([1, 2])


def test_an_empty_frame_makes_an_empty_dataset_that_workflows_refuse(backend):
    ds = gp.Dataset(gp.from_pandas(pd.DataFrame({"a": pd.Series([], dtype="float64")})))
    assert len(ds.to_frame()) == 0
    wf = gp.Workflow(["a"] >> gp.ops.Normalize())
    expect_error(DataError, lambda: wf.fit(ds), "no rows")


# ---------------------------------------------------------------------------------------- values survive
def test_nan_inf_and_nulls_survive_a_parquet_round_trip(backend, tmp_path):
    src = pd.DataFrame({"f": [np.nan, np.inf, -np.inf, 1.0], "i": pd.array([None, 1, 2, 3], dtype="Int64"),
                        "s": pd.array([None, "a", "", "b"], dtype="str")})
    gp.write_parquet(gp.from_pandas(src), tmp_path / "v.parquet")
    back = gp.to_pandas(gp.read_parquet(tmp_path / "v.parquet"))
    oracle = pq.read_table(tmp_path / "v.parquet").to_pandas()
    assert np.array_equal(back["f"].to_numpy(), oracle["f"].to_numpy(), equal_nan=True)
    assert back["i"].isna().tolist() == [True, False, False, False]
    assert back["i"].iloc[1:].tolist() == [1, 2, 3]
    assert back["s"].isna().tolist() == [True, False, False, False]
    assert back["s"].iloc[1:].tolist() == ["a", "", "b"]


def test_csv_null_tokens_and_quoting_match_pyarrow(backend, tmp_path):
    path = _write(tmp_path / "q.csv", b'a,b\n1,"x,y"\nNA,"he said ""hi"""\n3,\n')
    back = gp.to_pandas(gp.read_csv(path))
    oracle = pcsv.read_csv(path).to_pandas()
    assert back["a"].isna().tolist() == [False, True, False]
    assert back["a"].dropna().tolist() == oracle["a"].dropna().astype(int).tolist() == [1, 3]
    assert back["b"].iloc[:2].tolist() == ["x,y", 'he said "hi"']
    assert pd.isna(back["b"].iloc[2])
