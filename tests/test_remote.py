"""Object storage and URLs: reads, globs, writes, saves and checkpoints against real local servers.

An S3-compatible server (moto's server mode, as s3fs and dask test themselves) and a plain HTTP
server (``http.server``) run in threads on 127.0.0.1; nothing beyond loopback is contacted.
"""

from __future__ import annotations

import functools
import http.server
import logging
import threading

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import gpupipe as gp
from gpupipe import ops

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")

BUCKET = "gpupipe-test"


@pytest.fixture(scope="module")
def s3_endpoint():
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint, monkeypatch):
    """storage_options for the local S3 server, with a fresh bucket; no real AWS configuration is read."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask a metadata service for credentials
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    yield {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": s3_endpoint}}
    for obj in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=obj["Key"])
    client.delete_bucket(Bucket=BUCKET)
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture
def http_root(tmp_path):
    """(directory served, base URL) of an HTTP server on 127.0.0.1."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep the test output clean
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _frame(n=20, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(size=n), "k": pd.array(rng.integers(0, 5, n), dtype="Int64"),
                         "c": pd.array(rng.choice(["a", "b", "c"], n), dtype="str"),
                         "y": (rng.random(n) < 0.5).astype("float32")})


def _workflow():
    return gp.Workflow(["x"] >> ops.Normalize(), ["c"] >> ops.Categorify(), label="y")


# ------------------------------------------------------------------------------------- S3 reads and writes
def test_s3_parquet_and_csv_reads_writes_and_globs(backend, s3, tmp_path):
    df = _frame()
    url = f"s3://{BUCKET}/data/year=2013/part-0.parquet"
    assert gp.write_parquet(df, url, storage_options=s3) == url
    gp.write_parquet(df.assign(extra=1.0), f"s3://{BUCKET}/data/year=2014/part-0.parquet", storage_options=s3)
    one = gp.to_pandas(gp.read_parquet(url, storage_options=s3))
    pd.testing.assert_frame_equal(one, gp.to_pandas(gp.from_pandas(df)))
    for source in (f"s3://{BUCKET}/data", f"s3://{BUCKET}/data/", f"s3://{BUCKET}/data/*/*.parquet"):
        got = gp.to_pandas(gp.read_parquet(source, storage_options=s3))
        assert list(got.columns) == ["x", "k", "c", "y", "extra", "year"], source
        assert got["year"].tolist() == ["2013"] * 20 + ["2014"] * 20
        assert got["extra"].isna().sum() == 20
        lazy = gp.Dataset(source, partition_rows=7, storage_options=s3)
        pd.testing.assert_frame_equal(gp.to_pandas(lazy.to_frame()), got)
    local = tmp_path / "d.csv"
    df.to_csv(local, index=False)
    import s3fs

    s3fs.S3FileSystem(**s3).put_file(str(local), f"{BUCKET}/csv/d.csv")
    csv = gp.to_pandas(gp.read_csv(f"s3://{BUCKET}/csv/*.csv", storage_options=s3))
    np.testing.assert_allclose(csv["x"].to_numpy(), df["x"].to_numpy())


def test_s3_dataset_to_parquet_and_a_workflow_over_it(backend, s3):
    df = _frame(50)
    ds = gp.Dataset(gp.from_pandas(df), partition_rows=20)
    out = f"s3://{BUCKET}/prepared"
    assert ds.to_parquet(out, storage_options=s3) == out
    gp.Dataset(gp.from_pandas(df.iloc[:10]), partition_rows=5).to_parquet(out, storage_options=s3)
    import s3fs

    names = sorted(p.rsplit("/", 1)[-1] for p in s3fs.S3FileSystem(**s3).ls(f"{BUCKET}/prepared"))
    assert names == ["part-00000.parquet", "part-00001.parquet"]  # stale parts of the longer write removed
    back = gp.Dataset(out, storage_options=s3)
    assert back.num_partitions == 2
    wf = _workflow().fit(back)
    mem = _workflow().fit(gp.from_pandas(df.iloc[:10]))
    pd.testing.assert_frame_equal(gp.to_pandas(wf.transform(gp.from_pandas(df))),
                                  gp.to_pandas(mem.transform(gp.from_pandas(df))))


def test_s3_workflow_and_checkpoint_saved_and_loaded(backend, s3):
    df = gp.from_pandas(_frame())
    wf = _workflow().fit(df)
    url = f"s3://{BUCKET}/models/wf"
    assert wf.save(url, storage_options=s3) == url
    again = gp.Workflow.load(url, storage_options=s3)
    pd.testing.assert_frame_equal(gp.to_pandas(again.transform(df)), gp.to_pandas(wf.transform(df)))
    # a second save replaces the first, and leaves no file of it behind
    _workflow().fit(gp.from_pandas(_frame(seed=1))).save(url, storage_options=s3)
    import s3fs

    fs = s3fs.S3FileSystem(**s3)
    keys = [k.split("/models/wf/", 1)[1] for k in fs.find(f"{BUCKET}/models/wf")]
    doc = gp.Workflow.load(url, storage_options=s3)
    assert sorted(keys) == sorted(["workflow.json", *_artifacts(fs, f"{BUCKET}/models/wf/workflow.json")])
    assert doc.output_schema == wf.output_schema

    model = gp.models.TabularMLP.from_schema(wf.output_schema, hidden=(4,))
    ckpt = f"s3://{BUCKET}/models/ckpt"
    gp.save_checkpoint(model, ckpt, extra={"epoch": 1}, storage_options=s3)
    gp.save_checkpoint(model, ckpt, extra={"epoch": 2}, storage_options=s3)
    loaded = gp.load_checkpoint(ckpt, storage_options=s3)
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values(), strict=True):
        assert (a == b).all()
    assert gp.training.checkpoint_info(ckpt, storage_options=s3)["extra"] == {"epoch": 2}
    assert len(fs.find(f"{BUCKET}/models/ckpt")) == 2  # model.json and one weights file


def _artifacts(fs, manifest):
    import json

    return list(json.loads(fs.cat_file(manifest))["artifacts"])


# ------------------------------------------------------------------------------------- atomicity
def test_a_failed_s3_save_leaves_the_previous_one_loadable(backend, s3, monkeypatch):
    df = gp.from_pandas(_frame())
    url = f"s3://{BUCKET}/atomic/wf"
    first = _workflow().fit(df)
    first.save(url, storage_options=s3)
    import fsspec.core

    fs = fsspec.core.url_to_fs(url, **s3)[0]  # the instance gpupipe gets (fsspec caches them)
    real_put = fs.put_file

    def failing_put(lpath, rpath, *args, **kwargs):  # the upload that publishes the save fails
        if rpath.endswith("workflow.json"):
            raise ConnectionResetError("connection reset while uploading")
        return real_put(lpath, rpath, *args, **kwargs)

    monkeypatch.setattr(fs, "put_file", failing_put)
    second = _workflow().fit(gp.from_pandas(_frame(seed=3)))
    with pytest.raises(OSError, match="connection reset"):
        second.save(url, storage_options=s3)
    monkeypatch.setattr(fs, "put_file", real_put)
    again = gp.Workflow.load(url, storage_options=s3)
    pd.testing.assert_frame_equal(gp.to_pandas(again.transform(df)), gp.to_pandas(first.transform(df)))
    second.save(url, storage_options=s3)  # the next save succeeds and cleans up what the failed one left
    fs.invalidate_cache()
    assert len(fs.find(f"{BUCKET}/atomic/wf")) == 1 + len(_artifacts(fs, f"{BUCKET}/atomic/wf/workflow.json"))


def test_a_failed_s3_write_never_leaves_a_partial_object(backend, s3, monkeypatch):
    url = f"s3://{BUCKET}/one.parquet"
    gp.write_parquet(_frame(), url, storage_options=s3)

    class Boom(Exception):
        pass

    def broken(frame, path, compression):
        with open(path, "wb") as f:
            f.write(b"PAR1 half a file")
        raise Boom("the writer died")

    from gpupipe.io import files

    monkeypatch.setattr(files, "_write_parquet", broken)
    with pytest.raises(Boom):
        gp.write_parquet(_frame(5), url, storage_options=s3)
    monkeypatch.undo()
    assert len(gp.read_parquet(url, storage_options=s3)) == 20


# ------------------------------------------------------------------------------------- errors
def test_s3_errors_name_the_url_and_what_is_wrong(backend, s3):
    with pytest.raises(FileNotFoundError, match=r"no such bucket 'nope-bucket'") as info:
        gp.read_parquet("s3://nope-bucket/x.parquet", storage_options=s3)
    assert "s3://nope-bucket/x.parquet" in str(info.value)
    with pytest.raises(FileNotFoundError, match="no such file or object") as info:
        gp.read_parquet(f"s3://{BUCKET}/missing.parquet", storage_options=s3)
    assert f"s3://{BUCKET}/missing.parquet" in str(info.value)
    with pytest.raises(FileNotFoundError, match="no object matches"):
        gp.read_csv(f"s3://{BUCKET}/none/*.csv", storage_options=s3)
    gp.write_parquet(_frame(), f"s3://{BUCKET}/private.parquet", storage_options=s3)
    anon = {"anon": True, "client_kwargs": s3["client_kwargs"], "skip_instance_cache": True}
    with pytest.raises(PermissionError, match="access denied") as info:
        gp.read_parquet(f"s3://{BUCKET}/private.parquet", storage_options=anon)
    assert f"s3://{BUCKET}/private.parquet" in str(info.value)
    nocreds = {"client_kwargs": s3["client_kwargs"], "skip_instance_cache": True}
    with pytest.raises(PermissionError, match="no credentials") as info:
        gp.read_parquet(f"s3://{BUCKET}/private.parquet", storage_options=nocreds)
    assert f"s3://{BUCKET}/private.parquet" in str(info.value)
    with pytest.raises(FileNotFoundError, match="bucket") as info:
        gp.write_parquet(_frame(), "s3://nope-bucket/x.parquet", storage_options=s3)
    with pytest.raises(ValueError, match="storage_options"):
        gp.read_parquet("local.parquet", storage_options=s3)


# ------------------------------------------------------------------------------------- HTTP
def test_http_reads_workflow_and_checkpoint_loads(backend, http_root):
    root, base = http_root
    df = _frame()
    (root / "data").mkdir()
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), root / "data" / "a.parquet")
    (root / "csv").mkdir()
    df.to_csv(root / "csv" / "a.csv", index=False)
    want = gp.to_pandas(gp.read_parquet(root / "data" / "a.parquet"))
    pd.testing.assert_frame_equal(gp.to_pandas(gp.read_parquet(f"{base}/data/a.parquet")), want)
    pd.testing.assert_frame_equal(gp.to_pandas(gp.read_parquet(f"{base}/data/*.parquet")), want)
    pd.testing.assert_frame_equal(gp.to_pandas(gp.Dataset(f"{base}/data/").to_frame()), want)
    np.testing.assert_allclose(gp.to_pandas(gp.read_csv(f"{base}/csv/a.csv"))["x"].to_numpy(), df["x"].to_numpy())

    frame = gp.from_pandas(df)
    wf = _workflow().fit(frame)
    wf.save(root / "wf")
    again = gp.Workflow.load(f"{base}/wf")
    pd.testing.assert_frame_equal(gp.to_pandas(again.transform(frame)), gp.to_pandas(wf.transform(frame)))
    model = gp.models.TabularMLP.from_schema(wf.output_schema, hidden=(4,))
    gp.save_checkpoint(model, root / "ckpt")
    assert type(gp.load_checkpoint(f"{base}/ckpt")).__name__ == "TabularMLP"

    with pytest.raises(FileNotFoundError) as info:
        gp.read_parquet(f"{base}/data/missing.parquet")
    assert f"{base}/data/missing.parquet" in str(info.value)
    with pytest.raises(FileNotFoundError, match=r"workflow\.json"):
        gp.Workflow.load(f"{base}/nowhere")
    with pytest.raises(ValueError, match="read-only"):
        gp.write_parquet(df, f"{base}/data/b.parquet")


def test_memory_urls(backend):
    df = _frame()
    gp.write_parquet(df, "memory://gpupipe-test/a/x.parquet")
    gp.write_parquet(df, "memory://gpupipe-test/a/y.parquet")
    assert len(gp.read_parquet("memory://gpupipe-test/a")) == 40
    wf = _workflow().fit(gp.from_pandas(df))
    wf.save("memory://gpupipe-test/wf")
    assert gp.Workflow.load("memory://gpupipe-test/wf").output_schema == wf.output_schema
