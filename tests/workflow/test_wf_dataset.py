"""gp.Dataset: construction from paths and frames, partitioning, lazy transform, writing; Dataset fit == in-memory fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import assert_frame_equal

import gpupipe as gp
from gpupipe import ops
from gpupipe.errors import DataError, SchemaError


def _frame(n: int = 1000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "x": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
        "cnt": pd.array(np.where(rng.random(n) < 0.2, None, rng.integers(0, 50, n)), dtype="Int64"),
        "s": pd.array(rng.choice(["a", "b", "c"], n), dtype="str"),
        "y": pd.array(rng.integers(0, 2, n), dtype="Int64"),
    })


def _workflow() -> gp.Workflow:
    return gp.Workflow(
        ["cnt"] >> ops.FillMedian() >> ops.Clip(lower=0) >> ops.LogOp() >> ops.Normalize(),
        ["x"] >> ops.Rename(postfix="_mm") >> ops.NormalizeMinMax(),
        ["x"] >> ops.FillMissing(fill_value=0) >> ops.Normalize(),
        ["s"] >> ops.Categorify(),
        label="y",
    )


def test_from_parquet_directory_with_row_groups(tmp_path, backend: str) -> None:
    df = _frame()
    (tmp_path / "d").mkdir()
    table = gp.to_arrow(df)
    pq.write_table(table.slice(0, 600), tmp_path / "d" / "a.parquet", row_group_size=250)
    pq.write_table(table.slice(600), tmp_path / "d" / "b.parquet", row_group_size=100)
    (tmp_path / "d" / "_SUCCESS").write_text("")
    ds = gp.Dataset(tmp_path / "d", partition_rows=180)
    assert ds.num_partitions == 4 + 3  # partitions never span files
    assert ds.backend == backend
    full = gp.read_parquet(sorted((tmp_path / "d").glob("*.parquet")))
    assert_frame_equal(ds.to_frame(), full)
    assert [len(p) for p in ds.iter_partitions()] == [180, 180, 180, 60, 180, 180, 40]
    assert ds.dtypes == dict(full.dtypes)


def test_from_glob_list_and_csv(tmp_path) -> None:
    df = _frame(100)
    for i in range(3):
        gp.write_parquet(df.iloc[i * 30:(i + 1) * 30], tmp_path / f"p{i}.parquet")
        df.iloc[i * 30:(i + 1) * 30].to_csv(tmp_path / f"c{i}.csv", index=False)
    ds = gp.Dataset(str(tmp_path / "p*.parquet"))
    assert ds.num_partitions == 3
    assert_frame_equal(ds.to_frame(), df.iloc[:90].reset_index(drop=True))
    ds2 = gp.Dataset([tmp_path / "p2.parquet", tmp_path / "p0.parquet"], columns=["x"])
    assert ds2.columns == ["x"] and len(ds2.to_frame()) == 60
    csv = gp.Dataset(str(tmp_path / "c*.csv"), partition_rows=7)
    assert csv.num_partitions == 3 * 5
    assert_frame_equal(csv.to_frame(), gp.read_csv(sorted(tmp_path.glob("c*.csv"))))


def test_bad_sources(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing"):
        gp.Dataset(tmp_path / "nothing")
    with pytest.raises(FileNotFoundError):
        gp.Dataset(str(tmp_path / "*.parquet"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no parquet"):
        gp.Dataset(tmp_path / "empty")
    gp.write_parquet(_frame(10), tmp_path / "a.parquet")
    gp.write_parquet(_frame(10)[["x"]], tmp_path / "b.parquet")
    gp.write_parquet(pd.DataFrame({"x": ["text"]}), tmp_path / "c.parquet")
    with pytest.raises(DataError, match=r"'x' is .* in .*a\.parquet but \w*string in .*c\.parquet"):
        gp.Dataset([tmp_path / "a.parquet", tmp_path / "c.parquet"])
    with pytest.raises(SchemaError, match="zz"):
        gp.Dataset(tmp_path / "a.parquet", columns=["zz"])
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match=r"bad.parquet"):
        gp.Dataset(tmp_path / "bad.parquet")
    with pytest.raises(ValueError, match="partition_rows"):
        gp.Dataset(_frame(10), partition_rows=0)
    with pytest.raises(TypeError, match="Dataset takes"):
        gp.Dataset(42)


def test_dataset_fit_equals_in_memory_fit(tmp_path, backend: str) -> None:
    df = _frame(3000)
    gp.write_parquet(df, tmp_path / "x.parquet")
    frame = gp.read_parquet(tmp_path / "x.parquet")
    ds = gp.Dataset(tmp_path / "x.parquet", partition_rows=701)
    mem, lazy = _workflow().fit(frame), _workflow().fit(ds)
    for a, b in zip(mem.ops, lazy.ops, strict=True):
        for attr in ("medians_", "means_", "stds_", "mins_", "ranges_"):
            if hasattr(a, attr):
                np.testing.assert_allclose(list(getattr(a, attr).values()), list(getattr(b, attr).values()),
                                           rtol=1e-13, atol=1e-15)
    assert mem.output_schema == lazy.output_schema
    out = lazy.transform(ds)
    assert isinstance(out, gp.Dataset) and out.num_partitions == ds.num_partitions
    assert_frame_equal(out.to_frame(), mem.transform(frame), rtol=1e-6)


def test_fit_passes_group_independent_ops() -> None:
    calls = []

    class Spy(gp.Dataset):
        def map_partials(self, fn):
            calls.append(1)
            return super().map_partials(fn)

    ds = Spy(_frame(200), partition_rows=50)
    # FillMedian, then Normalize on its output (2 passes); NormalizeMinMax and Categorify ride along
    _workflow().fit(ds)
    assert len(calls) == 2


def test_transform_is_lazy_and_writes_parquet(tmp_path, backend: str) -> None:
    df = gp.from_pandas(_frame(500))
    wf = _workflow().fit(df)
    out = wf.transform(gp.Dataset(df, partition_rows=128))
    assert out.num_partitions == 4 and out.columns == wf.output_schema.names
    path = out.to_parquet(tmp_path / "out")
    assert sorted(p.name for p in path.iterdir()) == [f"part-{i:05d}.parquet" for i in range(4)]
    # read back through gpupipe's readers, int64 ids come back as nullable Int64 (the IO convention)
    assert_frame_equal(gp.Dataset(path).to_frame(), wf.transform(df), check_dtype=False)
    # a shorter rewrite removes the stale part files
    wf.transform(gp.Dataset(df, partition_rows=300)).to_parquet(path)
    assert len(list(path.iterdir())) == 2


def test_dataset_errors(backend: str) -> None:
    df = _frame(300)
    wf = _workflow()
    with pytest.raises(SchemaError, match="'s'"):
        wf.fit(gp.Dataset(gp.from_pandas(df.drop(columns=["s"])), partition_rows=100))
    with pytest.raises(DataError, match="no rows"):
        wf.fit(gp.Dataset(gp.from_pandas(df.iloc[:0])))
    bad = df.assign(y=df["y"].astype("Float64"))
    bad.loc[250, "y"] = None
    with pytest.raises(DataError, match="'y'"):
        wf.fit(gp.Dataset(gp.from_pandas(bad), partition_rows=100))
    with pytest.raises(gp.NotFittedError):
        _workflow().transform(gp.Dataset(df))


def test_map_partials_and_dask_interop() -> None:
    import dask.dataframe as dd

    df = _frame(100)
    ds = gp.Dataset(df, partition_rows=30)
    assert ds.map_partials(len) == [30, 30, 30, 10] and ds.num_rows == 100
    assert isinstance(ds.to_dask(), dd.DataFrame)
    again = gp.Dataset(ds.to_dask())
    assert_frame_equal(again.to_frame(), df)
    doubled = ds.map_partitions(lambda p: p.assign(x=p["x"] * 2))
    np.testing.assert_array_equal(doubled.to_frame()["x"], df["x"] * 2)


def test_uses_active_distributed_client() -> None:
    distributed = pytest.importorskip("distributed")
    df = _frame(400)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as client:
        # the task stream records every task the cluster ran (task groups may already be forgotten)
        with distributed.get_task_stream(client) as stream:
            wf = _workflow().fit(gp.Dataset(df, partition_rows=100))
        assert len(stream.data) > 0
    assert_frame_equal(wf.transform(df), _workflow().fit(df).transform(df), rtol=1e-6)


def test_arrow_types_survive(tmp_path) -> None:
    pq.write_table(pa.table({"i": pa.array([1, None], pa.int32()), "s": ["a", None]}), tmp_path / "t.parquet")
    part = next(gp.Dataset(tmp_path / "t.parquet").iter_partitions())
    assert str(part["i"].dtype) == "Int32" and str(part["s"].dtype) == "str"


def test_raw_reads_and_private_rewrites_are_the_same_on_a_dataset(backend):
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, None, 6.0], "c": ["a", "b", "a", "c", "b", "a"],
                       "y": [0.0, 1.0, 0.0, 1.0, 1.0, 0.0]})

    def wf():
        return gp.Workflow(["x"] >> ops.FillMissing() >> ops.Normalize(),
                           ["c"] >> ops.JoinGroupby(cont_cols=["x"], stats=("mean", "count")),
                           ["x"] >> ops.Rename(postfix="_raw") >> ops.FillMissing(fill_value=-1), label="y")

    frame = gp.from_pandas(df)
    whole = gp.to_pandas(wf().fit(frame).transform(frame))
    parts = wf().fit(gp.Dataset(frame, partition_rows=2))
    lazy = gp.to_pandas(parts.transform(gp.Dataset(frame, partition_rows=4)).to_frame())
    pd.testing.assert_frame_equal(lazy, whole, check_exact=False, rtol=1e-6)
    assert whole["x_raw"].tolist() == [1.0, 2.0, 3.0, 4.0, -1.0, 6.0]
    # the raw x (nulls skipped), not the filled and normalised one
    np.testing.assert_allclose(whole["c_x_mean"], [10 / 3, 2.0, 10 / 3, 4.0, 2.0, 10 / 3], rtol=1e-6)



def test_csv_partitions_are_the_file_s_rows_and_stop_at_their_last_row(tmp_path, monkeypatch):
    """A CSV partition is parsed as a stream with the file's types and stops at the block holding its last row:
    small blocks here, so partitions span and share blocks; together they are the whole file as gp.read_csv reads it."""
    import pyarrow.csv as pcsv

    from gpupipe.io import files

    monkeypatch.setattr(files, "_CSV_BLOCK", 512)
    rng = np.random.default_rng(3)
    n = 1000
    df = pd.DataFrame({"i": pd.array(np.where(rng.random(n) < 0.2, None, rng.integers(-5, 5, n)), dtype="Int64"),
                       "f": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
                       "s": rng.choice(["a", "b,c", 'say "hi"', "line\nbreak"], n),
                       "empty": [None] * n})
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    real_open = pcsv.open_csv
    batches: list[int] = []

    class Counting:
        def __init__(self, *args, **kwargs):
            self.reader = real_open(*args, **kwargs)
            self.schema = self.reader.schema
            batches.append(0)

        def __iter__(self):
            for batch in self.reader:
                batches[-1] += 1
                yield batch

    with gp.use_backend("pandas"):
        whole = gp.read_csv(path)
        monkeypatch.setattr(pcsv, "open_csv", Counting)
        ds = gp.Dataset(path, partition_rows=130)
        assert ds.num_partitions == 8
        got = ds.to_frame()
    assert whole["s"].str.contains("\n").any() and whole["empty"].isna().all()
    assert_frame_equal(got, whole)
    # partitions run in any order; the last one parses the whole file, the others stop before its end
    assert len(batches) == 8 and sorted(batches)[-2] < max(batches) and min(batches) * 4 < max(batches)


def test_a_csv_file_changed_after_the_dataset_was_built_is_named(tmp_path):
    path = tmp_path / "d.csv"
    pd.DataFrame({"a": range(20), "b": range(20)}).to_csv(path, index=False)
    with gp.use_backend("pandas"):
        ds = gp.Dataset(path, partition_rows=5)
        pd.DataFrame({"a": [f"x{i}" for i in range(20)], "b": range(20)}).to_csv(path, index=False)
        with pytest.raises(DataError, match=r"d\.csv no longer reads as it did.*'x0'.*build the Dataset again"):
            ds.to_frame()


def test_dataset_column_with_no_value_in_any_file_transforms_as_missing(backend, tmp_path):
    """A CSV file whose text column is empty types it float64 (no value says its kind); a parquet column of Arrow's
    null type likewise. Transforming such files as a gp.Dataset encodes the column as missing, as the same data in
    memory does, instead of a SchemaError asking to cast what the user cannot reach. A column that holds values of
    another kind is still refused, and so is a hive column (its text is a value)."""
    wf = gp.Workflow(["s"] >> ops.Categorify(), ["x"] >> ops.Normalize(), label="y").fit(gp.from_pandas(_frame()))
    (tmp_path / "empty.csv").write_text("s,x\n,1.0\n,2.0\n")
    pq.write_table(pa.table({"s": pa.nulls(2), "x": [1.0, 2.0]}), tmp_path / "nulls.parquet")
    want = gp.to_pandas(wf.transform(gp.read_csv(tmp_path / "empty.csv")))
    assert want["s"].tolist() == [1, 1]  # the null id
    for path in (tmp_path / "empty.csv", tmp_path / "nulls.parquet"):
        ds = gp.Dataset(path)
        assert ds.dtypes["s"] == np.float64 or str(ds.dtypes["s"]) == "float64"
        assert_frame_equal(gp.to_pandas(wf.transform(ds).to_frame()), want)
    (tmp_path / "numbers.csv").write_text("s,x\n1.5,1.0\n,2.0\n")
    with pytest.raises(SchemaError, match=r"'s'.*cast it back"):
        wf.transform(gp.Dataset([tmp_path / "empty.csv", tmp_path / "numbers.csv"]))
    hive = tmp_path / "hive" / "x=1"
    hive.mkdir(parents=True)
    (hive / "p.csv").write_text("s\nb\n")
    wf_num = gp.Workflow(["x"] >> ops.Normalize(), ["s"] >> ops.Categorify()).fit(gp.from_pandas(_frame()))
    with pytest.raises(SchemaError, match=r"'x'.*cast it back"):
        wf_num.transform(gp.Dataset(tmp_path / "hive"))


def test_to_parquet_refuses_the_directory_the_dataset_reads_from(tmp_path) -> None:
    """Each part replaced a file later partitions still read: 10 rows written back onto their own directory came
    back as 4, 8 or 6 (partition_rows 1, 2, 3), on local paths and memory:// alike. Refused before any work."""
    df = pd.DataFrame({"a": pd.array(range(10), dtype="Int64"), "x": np.arange(10.0)})
    with gp.use_backend("pandas"):
        src = gp.Dataset(df, partition_rows=5).to_parquet(tmp_path / "data")
        before = {p.name: p.read_bytes() for p in src.iterdir()}
        ds = gp.Dataset(src, partition_rows=3)
        for derived in (ds, ds.map_partitions(lambda p: p.assign(x=p["x"] * 2)), gp.Dataset(ds, columns=["a"])):
            with pytest.raises(gp.ParameterError, match=r"directory must be a directory this Dataset does not read "
                                                         r"from.*reads 2 file\(s\).*part-00000\.parquet"):
                derived.to_parquet(src)
        with pytest.raises(gp.ParameterError, match="does not read from"):
            gp.Dataset(src / "part-00001.parquet").to_parquet(tmp_path)  # the directory above the file read
        assert {p.name: p.read_bytes() for p in src.iterdir()} == before
        pd.testing.assert_frame_equal(gp.read_parquet(src), df)
        ds.to_parquet(tmp_path / "copy")  # elsewhere: every row
        pd.testing.assert_frame_equal(gp.read_parquet(tmp_path / "copy"), pd.read_parquet(src))
        url = "memory://gpupipe-test-onto/data"
        gp.Dataset(df, partition_rows=5).to_parquet(url)
        with pytest.raises(gp.ParameterError, match=r"reads 2 file\(s\) under memory://gpupipe-test-onto/data"):
            gp.Dataset(url, partition_rows=3).to_parquet(url + "/")
        pd.testing.assert_frame_equal(gp.read_parquet(url), df)


def test_to_parquet_refuses_a_directory_holding_other_data_files(tmp_path) -> None:
    """Reading the directory back gave their rows with the new ones: 2 rows written, 7 read. Part files of an
    earlier to_parquet, and names readers skip, are no obstacle."""
    df = pd.DataFrame({"a": [1.0, 2.0]})
    with gp.use_backend("pandas"):
        for other in ("old.parquet", "sub/year=2020/x.csv"):
            out = tmp_path / other.replace("/", "_")
            (out / other).parent.mkdir(parents=True)
            (out / other).write_bytes(b"a\n9\n")
            with pytest.raises(gp.ParameterError, match=rf"holds \['{other}'\], which readers of the directory would"):
                gp.Dataset(df).to_parquet(out)
            assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [other]
        out = tmp_path / "ok"
        gp.Dataset(pd.DataFrame({"a": [5.0, 6.0, 7.0]}), partition_rows=1).to_parquet(out)
        for skipped in ("_SUCCESS", ".hidden.parquet", "notes.txt"):
            (out / skipped).write_text("x")
        gp.Dataset(df).to_parquet(out)
        pd.testing.assert_frame_equal(gp.read_parquet(out), df)


def test_a_parquet_file_rewritten_after_the_dataset_was_built_is_a_data_error_not_a_mix(backend, tmp_path) -> None:
    """Partitions read row groups by number: a file rewritten with 12 rows in groups of 5 read through the groups
    of 4 found at build time gave 10 rows with 106 and 110 left out."""
    p = tmp_path / "x.parquet"
    pq.write_table(pa.table({"a": list(range(10))}), p, row_group_size=4)
    ds = gp.Dataset(p, partition_rows=3)
    assert gp.to_pandas(ds.to_frame())["a"].tolist() == list(range(10))
    pq.write_table(pa.table({"a": list(range(100, 112))}), p, row_group_size=5)
    with pytest.raises(DataError, match=r"x\.parquet changed since the Dataset was built.*12 rows.*not 10.*again"):
        ds.to_frame()
    again = gp.to_pandas(gp.Dataset(p, partition_rows=3).to_frame())
    assert again["a"].tolist() == pd.read_parquet(p)["a"].tolist()


def test_a_lazy_transform_refuses_to_run_after_the_workflow_is_fitted_again() -> None:
    """The lazy result of transform(dataset) holds the workflow: fitted again before it was computed, it encoded the
    first data with the second fit's statistics (id 3 became 4, normalised x moved), with no word."""
    a = pd.DataFrame({"s": ["a", "a", "b"], "x": [0.0, 1.0, 2.0]})
    b = pd.DataFrame({"s": ["b", "b", "a"], "x": [10.0, 11.0, 12.0]})
    wf = gp.Workflow(["s"] >> ops.Categorify(), ["x"] >> ops.Normalize())
    with gp.use_backend("pandas"):
        want = wf.fit(a).transform(a)
        lazy = wf.transform(gp.Dataset(a, partition_rows=2))
        wf.fit(gp.Dataset(b))
        with pytest.raises(DataError, match=r"fitted again after transform\(dataset\).*call wf.transform\(dataset\) again"):
            lazy.to_frame()
        assert wf.transform(gp.Dataset(a, partition_rows=2)).to_frame()["s"].tolist() == [4, 4, 3]
        wf.fit(a)
        assert_frame_equal(wf.transform(gp.Dataset(a, partition_rows=2)).to_frame(), want)


def test_relative_paths_are_read_and_written_where_they_were_given(tmp_path, monkeypatch) -> None:
    """Partitions are read and parts written by tasks, which on a cluster run in workers started in another
    directory: a Dataset of 'in.parquet' read its footer on the client, then failed on the workers (and to_parquet('out')
    wrote into the workers' directory). Paths are taken where they were given."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    gp.write_parquet(pd.DataFrame({"x": [1, 2, 3]}), "in.parquet")
    with gp.use_backend("pandas"):
        ds = gp.Dataset("in.parquet", partition_rows=2)
        monkeypatch.chdir(tmp_path / "b")  # as a worker started elsewhere sees the file system
        assert ds.to_frame()["x"].tolist() == [1, 2, 3]
        monkeypatch.chdir(tmp_path / "a")
        lazy = gp.Dataset(ds.to_frame(), partition_rows=2)
        written = lazy.to_parquet("out")
    assert sorted(p.name for p in (tmp_path / "a" / "out").iterdir()) == ["part-00000.parquet", "part-00001.parquet"]
    assert gp.read_parquet(tmp_path / "a" / written)["x"].tolist() == [1, 2, 3]


def test_a_dataset_of_files_with_decimal_and_date_columns_fits_as_the_file_read_in_memory(tmp_path):
    """gp.read_parquet keeps DECIMAL and DATE columns Arrow-backed and the Workflow makes them float64 and
    datetime64 on entry; a gp.Dataset of the same file handed its partitions to the ops unconverted, which refused
    the decimals (FillMissing, Normalize, Clip, JoinGroupby), or built an output schema that refused them."""
    import datetime
    from decimal import Decimal

    table = pa.table({
        "amount": pa.array([Decimal("1.10"), None, Decimal("2.25"), Decimal("-3.00"), Decimal("0.01"), Decimal("5.5"),
                            Decimal("7"), Decimal("1.10")], type=pa.decimal128(10, 2)),
        "day": pa.array([datetime.date(2020, 1, 31), None, datetime.date(1960, 2, 29), datetime.date(2100, 12, 31),
                         datetime.date(2020, 3, 1), datetime.date(1999, 1, 1), datetime.date(1999, 1, 1),
                         datetime.date(1999, 1, 2)]),
        "k": ["a", "b", "a", "b", "c", "a", "c", "a"],
    })
    path = tmp_path / "t.parquet"
    pq.write_table(table, path)

    def workflow():
        return gp.Workflow(["amount"] >> ops.FillMissing() >> ops.Clip(lower=-1) >> ops.Normalize(),
                           ["amount"] >> ops.Rename(postfix="_mm") >> ops.NormalizeMinMax(),
                           ["k"] >> ops.JoinGroupby(cont_cols=["amount"], stats=("count", "mean", "max")),
                           ["day"] >> ops.DateParts(parts=("year", "dow")))

    want = workflow().fit_transform(gp.read_parquet(path))
    wf = workflow().fit(gp.Dataset(path, partition_rows=3))
    got = wf.transform(gp.Dataset(path, partition_rows=3)).to_frame()
    pd.testing.assert_frame_equal(got, want)
    pd.testing.assert_frame_equal(wf.transform(gp.read_parquet(path)), want)


def test_a_null_label_or_target_is_counted_in_the_partition_the_error_names(backend, tmp_path) -> None:
    """Nulls in the label of several partitions: the error stops at one bad partition, and said "has 2 null" of
    data holding 8 with no word of which part it counted; it names the partition, its file and rows."""
    import re

    rng = np.random.default_rng(0)
    files = []
    for i in range(4):
        y = rng.integers(0, 2, 6).astype("float64")
        if i:
            y[[1, 4]] = np.nan  # 2 in each of the last three files, 6 in all
        path = tmp_path / f"p{i}.parquet"
        pq.write_table(pa.table({"k": list("ababab"), "x": np.arange(6.0), "y": y}), path, row_group_size=3)
        files.append(pd.read_parquet(path))
    whole = pd.concat(files, ignore_index=True)
    whole.loc[[8, 9], "y"] = np.nan  # 8 in all

    def named(exc: Exception, what: str) -> tuple[pd.Series, int]:
        m = re.match(rf"partition (\d) of the dataset \((.+)\): {what} column 'y' has (\d+) null", str(exc))
        assert m, str(exc)
        part, where, count = int(m[1]), m[2], int(m[3])
        rows = re.fullmatch(r"rows (\d+) to (\d+) of (.+)", where)
        if rows is None:  # a whole file
            assert where == str(tmp_path / f"p{part}.parquet")
            return files[part]["y"], count
        source = whole if rows[3] == "the frame" else pd.read_parquet(rows[3])
        return source["y"].iloc[int(rows[1]):int(rows[2]) + 1], count

    label = gp.Workflow(["x"] >> ops.Normalize(), label="y")
    target = gp.Workflow(["k"] >> ops.TargetEncoding("y"))
    datasets = [gp.Dataset(str(tmp_path)), gp.Dataset(str(tmp_path / "p1.parquet"), partition_rows=3),
                gp.Dataset(gp.from_pandas(whole), partition_rows=6)]
    for ds in datasets:
        for wf, what in ((label, "label"), (target, "TargetEncoding: target")):
            with pytest.raises(DataError) as info:
                wf.fit(ds)
            values, count = named(info.value, what)
            assert count == int(values.isna().sum()) > 0
    # a lazy transform: the partition named where it is computed by number, else said to be one
    fitted = gp.Workflow(["x"] >> ops.Normalize(), label="y").fit(gp.Dataset(files[0]))
    lazy = fitted.transform(datasets[0])
    with pytest.raises(DataError) as info:
        list(lazy.iter_partitions())
    assert str(info.value).startswith(f"partition 1 of the dataset ({tmp_path / 'p1.parquet'}): label column 'y' "
                                      "has 2 null")
    with pytest.raises(DataError, match=r"^a partition of the dataset: label column 'y' has 2 null"):
        lazy.to_frame()
