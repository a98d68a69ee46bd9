"""GPU paths: CuPy/cuDF → torch zero-copy, hybrid mode uploads, Loader on CUDA, and the CUDA transfer audit.

All marked ``gpu``: skipped (with the reason) where no CUDA device is usable.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import require_cudf

import gpupipe as gp
from gpupipe import ops
from gpupipe.errors import DataError, SchemaError
from gpupipe.schema import ColumnSchema, Schema

pytestmark = pytest.mark.gpu

SCHEMA = Schema([ColumnSchema("a", "cont", "float32"), ColumnSchema("b", "cont", "float32"),
                 ColumnSchema("c", "cat", "int64", 100), ColumnSchema("y", "label", "float32")])


def _frame(n=10_000, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.random(n, dtype=np.float32), "b": np.arange(n, dtype=np.float32),
                         "c": rng.integers(0, 100, n), "y": (rng.random(n) < 0.3).astype(np.float32)})


def test_cupy_to_torch_is_zero_copy():
    cupy = pytest.importorskip("cupy")
    x = cupy.arange(1000, dtype=cupy.float32)
    t = torch.from_dlpack(x)
    assert t.device.type == "cuda" and t.data_ptr() == x.data.ptr
    t[0] = 42.0
    torch.cuda.synchronize()
    assert float(x[0]) == 42.0  # same memory


def test_cudf_columns_share_device_memory():
    cudf = pytest.importorskip("cudf")
    import cupy

    df = cudf.DataFrame({"a": np.arange(100, dtype=np.float32), "c": np.arange(100) % 7,
                         "y": np.zeros(100, dtype=np.float32)})
    schema = Schema([ColumnSchema("a", "cont", "float32"), ColumnSchema("c", "cat", "int64", 7),
                     ColumnSchema("y", "label", "float32")])
    with gp.audit.transfers() as report:
        tt = gp.to_tensors(df, schema=schema)
    assert tt.copies == {} and tt.device.type == "cuda"
    for name in ("a", "c", "y"):
        assert tt[name].data_ptr() == cupy.asarray(df[name]).data.ptr
    assert sorted(report.shared) == ["a", "c", "y"]
    assert report.h2d_bytes == 0


def test_hybrid_mode_uploads_each_column_once_and_an_epoch_reads_nothing_back():
    df = _frame()
    host = gp.to_tensors(df, schema=SCHEMA)  # warm-up: CUDA context, pinned allocator
    gp.to_tensors(df, schema=SCHEMA, device="cuda")
    torch.cuda.synchronize()
    with gp.audit.transfers() as up:
        tt = gp.to_tensors(df, schema=SCHEMA, device="cuda")
    assert up.method == "profiler", up.profiler_error
    assert tt.device.type == "cuda"
    assert up.h2d_count == len(SCHEMA) == len(up.uploads)
    assert up.h2d_bytes == sum(host[c].numel() * host[c].element_size() for c in SCHEMA.names)
    assert up.d2h_bytes == 0
    loader = gp.Loader(tt, batch_size=1024, seed=0)
    list(loader)  # warm-up
    with gp.audit.transfers() as epoch:
        batches = list(loader)
        torch.cuda.synchronize()
    assert epoch.d2h_count == 0 and epoch.d2h_bytes == 0
    assert epoch.h2d_count <= 1  # at most the epoch's index order
    assert epoch.h2d_bytes <= 4 * len(df)
    assert all(b.cont.device.type == "cuda" for b in batches)


def test_loader_on_cuda_gives_the_same_batches_as_on_cpu():
    df = _frame(5000)
    cpu = gp.Loader(df, batch_size=512, seed=3, schema=SCHEMA)
    gpu = gp.Loader(df, batch_size=512, seed=3, schema=SCHEMA, device="cuda")
    assert gpu.device.type == "cuda" and len(cpu) == len(gpu)
    for a, b in zip(cpu, gpu, strict=True):
        assert b.cont.is_cuda and b.cat.is_cuda and b.label.is_cuda
        torch.testing.assert_close(b.cont.cpu(), a.cont)
        torch.testing.assert_close(b.cat.cpu(), a.cat)
        torch.testing.assert_close(b.label.cpu(), a.label)


def test_table_to_cuda_and_shards_on_cuda():
    df = _frame(1000)
    tt = gp.to_tensors(df, schema=SCHEMA).to("cuda")
    assert tt.device.type == "cuda"
    ids = []
    for r in range(2):
        for b in gp.Loader(tt, batch_size=100, rank=r, world_size=2, shuffle=True):
            ids.extend(b.cont[:, 1].long().cpu().tolist())
    assert sorted(ids) == list(range(1000))


def test_cudf_float_column_with_nan_is_shared_not_copied_like_pandas():
    """A workflow's float output holds NaN where a value was missing; on cuDF it stays NaN (not null), so the
    tensor is a view of the column, as on pandas (validate=False: by default such a column is refused, with the
    same message on both backends)."""
    require_cudf()
    import cupy

    rng = np.random.default_rng(1)
    x = rng.normal(size=5000)
    x[::7] = np.nan
    pdf = pd.DataFrame({"x": x, "c": rng.integers(0, 9, 5000), "y": (rng.random(5000) < 0.5).astype("float32")})
    tables, messages = {}, {}
    for backend in ("pandas", "cudf"):
        with gp.use_backend(backend):
            wf = gp.Workflow(["x"] >> ops.Normalize(), ["c"] >> ops.Categorify(), label="y")
            out = wf.fit_transform(gp.from_pandas(pdf))
            with pytest.raises(DataError) as refused:
                gp.to_tensors(out, schema=wf.output_schema)
            messages[backend] = str(refused.value)
            with gp.audit.transfers() as report:
                tt = gp.to_tensors(out, schema=wf.output_schema, validate=False)
            assert tt.copies == {}, (backend, tt.copies)
            assert "x" in report.shared and "x" not in report.copied
            if backend == "cudf":
                assert out["x"].null_count == 0 and int(out["x"].isna().sum()) == len(x[::7])
                assert tt["x"].data_ptr() == cupy.asarray(out["x"]).data.ptr and tt["x"].is_cuda
                assert report.h2d_bytes == 0
            tables[backend] = {k: tt[k].cpu() for k in wf.output_schema.names}
    for k, t in tables["pandas"].items():
        torch.testing.assert_close(tables["cudf"][k], t, rtol=1e-6, atol=1e-7, equal_nan=True)
    assert messages["cudf"] == messages["pandas"]
    assert f"continuous column 'x' has {len(x[::7])} NaN/null values (first at row 0)" in messages["cudf"]


@pytest.mark.parametrize("values", [[1.0, 2.5, 3.0], [1.0, None, 3.0]], ids=["fraction", "missing"])
def test_cudf_float_cat_column_that_is_not_whole_numbers_is_refused_like_pandas(values):
    require_cudf()
    pdf = pd.DataFrame({"c": values, "y": [0.0, 1.0, 0.0]})
    schema = Schema([ColumnSchema("c", "cat", "int64", 10), ColumnSchema("y", "label", "float32")])
    messages = {}
    for backend in ("pandas", "cudf"):
        with gp.use_backend(backend), pytest.raises(SchemaError, match="'c' is float with non-integer") as info:
            gp.to_tensors(gp.from_pandas(pdf), schema=schema)
        messages[backend] = str(info.value)
    assert messages["cudf"] == messages["pandas"]  # the same error, naming the same values


def test_cudf_float_cat_column_of_whole_numbers_gives_pandas_ids():
    require_cudf()
    pdf = pd.DataFrame({"c": [1.0, 7.0, 3.0], "y": [0.0, 1.0, 0.0]})
    schema = Schema([ColumnSchema("c", "cat", "int64", 10), ColumnSchema("y", "label", "float32")])
    got = {}
    for backend in ("pandas", "cudf"):
        with gp.use_backend(backend):
            tt = gp.to_tensors(gp.from_pandas(pdf), schema=schema)
        assert tt.copies["c"] == "float64 → int64", tt.copies
        got[backend] = tt["c"].cpu().tolist()
    assert got["cudf"] == got["pandas"] == [1, 7, 3]


def test_cudf_raw_integer_columns_with_nulls_become_nan_like_pandas():
    """A raw frame (no workflow): an int column with nulls given the cont role converts once, nulls → NaN
    (validate=False; by default the nulls are refused alike on both backends)."""
    require_cudf()
    pdf = pd.DataFrame({"n": pd.array([4, None, 6, None], dtype="Int64"), "b": pd.array([True, None, False, True],
                       dtype="boolean"), "y": [1.0, 0.0, 1.0, 0.0]})
    schema = Schema([ColumnSchema("n", "cont", "float32"), ColumnSchema("b", "cont", "float32"),
                     ColumnSchema("y", "label", "float32")])
    got, messages = {}, {}
    for backend in ("pandas", "cudf"):
        with gp.use_backend(backend):
            with pytest.raises(DataError) as refused:
                gp.to_tensors(gp.from_pandas(pdf), schema=schema)
            messages[backend] = str(refused.value)
            tt = gp.to_tensors(gp.from_pandas(pdf), schema=schema, validate=False)
        assert set(tt.copies) >= {"n", "b"} and "2 nulls" in tt.copies["n"], tt.copies
        got[backend] = {k: tt[k].cpu() for k in schema.names}
    for k, t in got["pandas"].items():
        torch.testing.assert_close(got["cudf"][k], t, equal_nan=True)
    assert torch.isnan(got["cudf"]["n"][1]) and got["cudf"]["n"][2] == 6
    assert messages["cudf"] == messages["pandas"] and "column 'n' has 2 NaN/null values (first at row 1)" in \
        messages["cudf"]


def test_hybrid_validation_reads_nothing_back_and_validate_false_skips_it():
    df = _frame()
    gp.to_tensors(df, schema=SCHEMA, device="cuda")  # warm-up: CUDA context, pinned allocator
    torch.cuda.synchronize()
    with gp.audit.transfers() as report:
        gp.to_tensors(df, schema=SCHEMA, device="cuda", validate=True)
    assert report.method == "profiler", report.profiler_error
    assert report.d2h_count == 0 and report.d2h_bytes == 0  # the checks ran on the host, before the upload
    bad = df.copy()
    bad.loc[5, "y"] = np.nan
    with pytest.raises(DataError, match="label column 'y' has 1 NaN"):
        gp.to_tensors(bad, schema=SCHEMA, device="cuda")
    holes = df.copy()
    holes.loc[9, "a"] = np.inf
    with pytest.raises(DataError, match=r"continuous column 'a' has 1 ±inf values \(first at row 9\)"):
        gp.to_tensors(holes, schema=SCHEMA, device="cuda")
    wide = df.copy()
    wide.loc[7, "c"] = 500  # the schema's cardinality is 100
    with pytest.raises(DataError, match=r"'c' has ids in \[0, 500\]"):
        gp.to_tensors(wide, schema=SCHEMA, device="cuda")
    # validate=False: no check at all, the values arrive as they are
    with gp.audit.transfers() as unchecked:
        tt = gp.to_tensors(bad.assign(c=wide["c"]), schema=SCHEMA, device="cuda", validate=False)
    assert unchecked.d2h_bytes == 0 and unchecked.h2d_count == len(SCHEMA)
    assert bool(torch.isnan(tt["y"][5])) and int(tt["c"][7]) == 500
