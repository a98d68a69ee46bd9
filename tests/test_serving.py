"""Scoring new data: gp.batch_predict and `gpupipe predict`, with a real saved workflow and checkpoint."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import gpupipe as gp
import gpupipe.serving as serving
from gpupipe import ops
from gpupipe.errors import SchemaError

ROOT = Path(__file__).resolve().parents[1]


def make_data(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    shop = rng.choice(["a", "b", "c", "d", None], n)
    x = rng.normal(size=n)
    x[rng.random(n) < 0.1] = np.nan
    y = ((np.nan_to_num(x) + (shop == "a") + rng.normal(scale=0.5, size=n)) > 0.5).astype("int64")
    return pd.DataFrame({"order_id": np.arange(seed * 10_000, seed * 10_000 + n, dtype=np.int64),
                         "shop": pd.array(shop, dtype="str"), "x": x, "hour": rng.integers(0, 24, n), "y": y})


def make_workflow(**categorify) -> gp.Workflow:
    return gp.Workflow(["x"] >> ops.FillMissing(fill_value=0) >> ops.Normalize(),
                       ["shop", "hour"] >> ops.Categorify(**categorify), label="y")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A workflow and a model from a tiny training run, saved as a pipeline run saves them."""
    import torch

    root = tmp_path_factory.mktemp("run")
    with gp.use_backend("pandas"):
        train = make_data(3000, seed=0)
        wf = make_workflow()
        out = wf.fit_transform(train)
        torch.manual_seed(0)
        model = gp.models.TabularMLP.from_schema(wf.output_schema, hidden=(8,))
        gp.train(model, gp.Loader(out, batch_size=256, seed=0, schema=wf.output_schema), epochs=1, progress=False)
        wf.save(root / "workflow")
        gp.save_checkpoint(model, root / "model")
    return root


def reference(saved: Path, frame: pd.DataFrame) -> np.ndarray:
    """Scores computed by hand: load, transform, loader in order, gp.predict."""
    wf = gp.Workflow.load(saved / "workflow")
    model = gp.load_checkpoint(saved / "model")
    out = wf.transform(frame.drop(columns="y"))
    loader = gp.Loader(out, batch_size=4096, shuffle=False, schema=out_schema(wf))
    return gp.predict(model, loader).numpy()


def out_schema(wf):
    return gp.Schema(c for c in wf.output_schema if c.role != "label")


@pytest.fixture
def parts(tmp_path):
    """Four parquet files of new data (one with a column of nulls in the label), and the whole of it."""
    frames = [make_data(500 + 37 * i, seed=i + 1) for i in range(4)]
    frames[2]["y"] = np.nan  # the label is not needed to score, and a missing one does not stop it
    d = tmp_path / "new"
    d.mkdir()
    for i, f in enumerate(frames):
        pq.write_table(gp.to_arrow(f), d / f"part-{i}.parquet")
    return d, pd.concat(frames, ignore_index=True)


def test_in_memory_predictions_equal_the_hand_made_ones(backend, saved):
    new = make_data(777, seed=9)
    frame = gp.from_pandas(new) if backend == "cudf" else new
    got = gp.batch_predict(saved / "workflow", saved / "model", frame, keys=["order_id", "shop"], progress=False)
    assert gp.backend.backend_of(got) == backend
    got = gp.to_pandas(got)
    assert list(got.columns) == ["order_id", "shop", "prediction"] and str(got["prediction"].dtype) == "float32"
    assert got["order_id"].tolist() == new["order_id"].tolist()
    assert got["shop"].isna().tolist() == new["shop"].isna().tolist()
    np.testing.assert_allclose(got["prediction"].to_numpy(), reference(saved, new), rtol=1e-6, atol=1e-7)
    assert ((got["prediction"] >= 0) & (got["prediction"] <= 1)).all()


def test_partitions_are_streamed_and_equal_one_in_memory_run(saved, parts, tmp_path, monkeypatch):
    directory, whole = parts
    seen = []
    real = serving._score_part

    def spy(wf, model, part, *args):
        seen.append(len(part))
        return real(wf, model, part, *args)

    monkeypatch.setattr(serving, "_score_part", spy)
    path = gp.batch_predict(saved / "workflow", saved / "model", str(directory / "*.parquet"), keys=["order_id"],
                            out=tmp_path / "preds.parquet", partition_rows=300, batch_size=128, progress=False)
    assert path == tmp_path / "preds.parquet"
    assert max(seen) <= 300 and len(seen) >= 8  # one partition at a time, never the whole data
    got = pq.read_table(path).to_pandas()
    single = gp.batch_predict(saved / "workflow", saved / "model", whole, keys=["order_id"], progress=False)
    assert got["order_id"].tolist() == whole["order_id"].tolist()
    np.testing.assert_allclose(got["prediction"].to_numpy(), single["prediction"].to_numpy(), rtol=1e-6, atol=1e-7)
    assert sorted(os.listdir(tmp_path)) == ["new", "preds.parquet"]  # no temporary left behind


@pytest.mark.slow
def test_memory_stays_flat_with_many_partitions(saved, tmp_path):
    """Peak traced memory while scoring 8x the rows grows far less than 8x (it is one partition's worth)."""
    import tracemalloc

    def peak(files: int) -> int:
        d = tmp_path / f"d{files}-{len(os.listdir(tmp_path))}"
        d.mkdir()
        for i in range(files):
            pq.write_table(gp.to_arrow(make_data(20_000, seed=100 + i)), d / f"p{i}.parquet")
        tracemalloc.start()
        gp.batch_predict(saved / "workflow", saved / "model", d, out=d / "scores.parquet", progress=False)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    peak(1)  # first use: imports, caches and thread pools that are not the data's
    one, eight = peak(1), peak(8)
    assert eight < 3 * one, (one, eight)  # holding every partition would be about 8x


def test_csv_output_and_default_without_keys(saved, parts, tmp_path):
    directory, whole = parts
    for name in ("p.csv", "p.csv.gz"):
        path = gp.batch_predict(saved / "workflow", saved / "model", directory, out=tmp_path / name, progress=False)
        got = pacsv.read_csv(path).to_pandas()
        assert list(got.columns) == ["prediction"] and len(got) == len(whole)
        np.testing.assert_allclose(got["prediction"], reference(saved, whole), rtol=1e-5, atol=1e-6)


def test_a_workflow_that_drops_rows_keeps_keys_beside_their_rows(tmp_path):
    import torch

    data = make_data(400, seed=3)
    wf = gp.Workflow(["x"] >> ops.Dropna(), ["x"] >> ops.Rename(postfix="_v") >> ops.Normalize(),
                     ["shop"] >> ops.Categorify(), label="y")
    out = wf.fit_transform(data)
    torch.manual_seed(0)
    model = gp.models.TabularMLP.from_schema(wf.output_schema, hidden=(4,))
    got = gp.batch_predict(wf, model, data.drop(columns="y"), keys=["order_id"], progress=False)
    kept = data[data["x"].notna()]
    assert got["order_id"].tolist() == kept["order_id"].tolist()
    want = gp.predict(model, gp.Loader(out, shuffle=False, schema=wf.output_schema)).numpy()
    np.testing.assert_allclose(got["prediction"], want, rtol=1e-6)


@pytest.mark.parametrize("holes", [[2, 3], [0, 1, 2, 3], [2, 3, 6, 7]], ids=["middle", "first-two", "two"])
def test_a_partition_whose_rows_are_all_dropped_scores_nothing_and_the_job_goes_on(tmp_path, holes):
    import torch

    from gpupipe.cli import main

    n = 8
    data = pd.DataFrame({"id": np.arange(n), "name": pd.array([f"r{i}" for i in range(n)], dtype="str"),
                         "x": np.arange(1.0, n + 1), "y": np.arange(n) % 2})
    data.loc[holes, "x"] = np.nan  # partitions of 2 rows: each pair of holes empties one partition
    wf = gp.Workflow(["x"] >> ops.Dropna() >> ops.Normalize(), label="y").fit(data)
    torch.manual_seed(0)
    model = gp.models.TabularMLP.from_schema(wf.output_schema, hidden=(4,))
    kept = data[data["x"].notna()]
    want = gp.predict(model, gp.Loader(wf.transform(kept), shuffle=False, schema=wf.output_schema)).numpy()
    got = gp.batch_predict(wf, model, data, keys=["id", "name"], partition_rows=2, progress=False)
    assert got["id"].tolist() == kept["id"].tolist() and got["name"].tolist() == kept["name"].tolist()
    np.testing.assert_allclose(got["prediction"].to_numpy(), want, rtol=1e-6)
    # the same through a file and the command line
    data.to_parquet(tmp_path / "a.parquet")
    wf.save(tmp_path / "wf")
    gp.save_checkpoint(model, tmp_path / "ck")
    rc = main(["predict", str(tmp_path / "a.parquet"), "--workflow", str(tmp_path / "wf"), "--model",
               str(tmp_path / "ck"), "--out", str(tmp_path / "o.parquet"), "--keys", "id,name", "--partition-rows", "2",
               "--no-progress", "--backend", "pandas"])
    assert rc == 0
    written = pd.read_parquet(tmp_path / "o.parquet")
    assert written["id"].tolist() == kept["id"].tolist()
    np.testing.assert_allclose(written["prediction"].to_numpy(), want, rtol=1e-6)


def test_every_partition_emptied_gives_an_empty_output_with_the_columns(tmp_path):
    import torch

    data = pd.DataFrame({"id": np.arange(4), "x": [np.nan] * 3 + [1.0], "y": [0, 1, 0, 1]})
    wf = gp.Workflow(["x"] >> ops.Dropna() >> ops.Normalize(), label="y").fit(data)
    torch.manual_seed(0)
    model = gp.models.TabularMLP.from_schema(wf.output_schema, hidden=(4,))
    got = gp.batch_predict(wf, model, data.iloc[:3], keys=["id"], partition_rows=2, progress=False)
    assert list(got.columns) == ["id", "prediction"] and len(got) == 0


def _never(*args, **kwargs):
    raise AssertionError("a partition was scored before the checks")


def test_errors_come_before_any_work(saved, parts, tmp_path, monkeypatch):
    import torch

    directory, _ = parts
    monkeypatch.setattr(serving, "_score_part", _never)
    wf_dir, model_dir = saved / "workflow", saved / "model"
    without = tmp_path / "without_shop.parquet"
    pq.write_table(gp.to_arrow(make_data(50, seed=5).drop(columns="shop")), without)
    with pytest.raises(SchemaError, match=r"needs column\(s\) \['shop'\]"):
        gp.batch_predict(wf_dir, model_dir, without, progress=False)
    with pytest.raises(SchemaError, match=r"key column\(s\) \['nope'\] not in the data"):
        gp.batch_predict(wf_dir, model_dir, directory, keys=["order_id", "nope"], progress=False)
    with pytest.raises(ValueError, match="output format"):
        gp.batch_predict(wf_dir, model_dir, directory, out=tmp_path / "p.json", progress=False)
    # a model trained with another vocabulary (rare shops cut) does not fit this workflow's ids
    other = make_workflow(freq_threshold=1000).fit(make_data(3000, seed=0))
    torch.manual_seed(0)
    wrong = gp.models.TabularMLP.from_schema(other.output_schema, hidden=(4,))
    with pytest.raises(SchemaError, match=r"cardinalities differ \('shop' model 3 / workflow 7"):
        gp.batch_predict(wf_dir, wrong, directory, progress=False)
    # fitted again on data whose shops are counted in another order: as many ids, naming other shops
    refit = gp.Workflow.load(wf_dir)
    data = make_data(3000, seed=0)
    counts = data["shop"].value_counts()
    swap = {counts.index[0]: counts.index[-1], counts.index[-1]: counts.index[0]}
    refit.fit(data.assign(shop=data["shop"].map(swap).fillna(data["shop"])))
    assert refit.output_schema.cardinalities == gp.Workflow.load(wf_dir).output_schema.cardinalities
    with pytest.raises(SchemaError, match=r"the ids of \['shop'\] are of another fit or other boundaries than the model's"):
        gp.batch_predict(refit, model_dir, directory, progress=False)
    fewer = gp.Workflow(["x"] >> ops.Normalize(), label="y").fit(make_data(100, seed=0))
    small = gp.models.TabularMLP.from_schema(fewer.output_schema, hidden=(4,))
    with pytest.raises(SchemaError, match=r"categorical columns: the model takes \[\], the workflow outputs \['shop', 'hour'\]"):
        gp.batch_predict(wf_dir, small, directory, progress=False)
    assert not (tmp_path / "p.json").exists()
    (tmp_path / "a_dir.parquet").mkdir()
    with pytest.raises(gp.ParameterError, match=r"out.*is a directory"):
        gp.batch_predict(wf_dir, model_dir, directory, out=tmp_path / "a_dir.parquet", progress=False)
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(gp.ParameterError, match=r"out.*a_file is a file"):
        gp.batch_predict(wf_dir, model_dir, directory, out=tmp_path / "a_file" / "s.parquet", progress=False)


def test_a_key_may_be_the_label_kept_beside_each_score(saved, parts):
    directory, whole = parts
    got = gp.batch_predict(saved / "workflow", saved / "model", directory, keys=["order_id", "y"], progress=False)
    assert got["order_id"].tolist() == whole["order_id"].tolist()
    assert got["y"].isna().tolist() == whole["y"].isna().tolist()  # one file's label is all missing
    assert got["y"].dropna().tolist() == whole["y"].dropna().tolist()
    np.testing.assert_allclose(got["prediction"].to_numpy(), reference(saved, whole), rtol=1e-6, atol=1e-7)


def test_a_url_output_is_returned_as_the_url(saved, parts):
    directory, whole = parts
    url = "memory://gpupipe-serving-test/scores.parquet"
    got = gp.batch_predict(saved / "workflow", saved / "model", directory, keys=["order_id"], out=url, progress=False)
    assert got == url
    assert gp.read_parquet(got)["order_id"].tolist() == whole["order_id"].tolist()


def test_a_failed_run_leaves_the_previous_output(saved, parts, tmp_path, monkeypatch):
    directory, _ = parts
    target = tmp_path / "preds.parquet"
    target.write_bytes(b"previous")
    calls = []
    real = serving._score_part

    def fail_second(*args):
        calls.append(1)
        if len(calls) == 2:
            raise MemoryError("boom")
        return real(*args)

    monkeypatch.setattr(serving, "_score_part", fail_second)
    with pytest.raises(MemoryError):
        gp.batch_predict(saved / "workflow", saved / "model", directory, out=target, progress=False)
    assert target.read_bytes() == b"previous"
    assert sorted(os.listdir(tmp_path)) == ["new", "preds.parquet"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GPUPIPE_BACKEND": "pandas"}
    return subprocess.run([sys.executable, "-m", "gpupipe", "predict", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=300)


@pytest.mark.slow
def test_cli_scores_a_directory_into_a_file(saved, parts, tmp_path):
    directory, whole = parts
    out = tmp_path / "scores" / "preds.csv"
    res = _cli("--workflow", str(saved / "workflow"), "--model", str(saved / "model"), str(directory),
               "--out", str(out), "--keys", "order_id,shop", "--partition-rows", "400")
    assert res.returncode == 0, res.stderr
    assert f"scored {len(whole):,} rows in" in res.stdout and "on pandas" in res.stdout
    assert "predict" in res.stderr  # the progress bar
    got = pacsv.read_csv(out).to_pandas()
    assert list(got.columns) == ["order_id", "shop", "prediction"]
    assert got["order_id"].tolist() == whole["order_id"].tolist()
    np.testing.assert_allclose(got["prediction"], reference(saved, whole), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_cli_errors_name_the_problem_without_a_traceback(saved, parts, tmp_path):
    directory, _ = parts
    common = ["--workflow", str(saved / "workflow"), "--model", str(saved / "model")]
    res = _cli(*common, str(directory), "--out", str(tmp_path / "p.parquet"), "--keys", "order_id,missing_key",
               "--no-progress")
    assert res.returncode == 2
    assert "['missing_key'] not in the data" in res.stderr and "Traceback" not in res.stderr
    res = _cli(*common, str(tmp_path / "nothing-here"), "--out", str(tmp_path / "p.parquet"), "--no-progress")
    assert res.returncode == 2 and "nothing-here" in res.stderr and "Traceback" not in res.stderr
    res = _cli("--workflow", str(saved / "model"), "--model", str(saved / "model"), str(directory),
               "--out", str(tmp_path / "p.parquet"), "--no-progress")
    assert res.returncode == 2 and "workflow.json" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "p.parquet").exists()


def test_a_bad_value_in_a_later_partition_names_the_partition(tmp_path):
    """The continuous-column check counts rows within what it is given: scoring partitioned data says which partition."""
    import torch

    df = pd.DataFrame({"id": np.arange(40), "x": np.linspace(0, 1, 40), "y": (np.arange(40) % 2).astype("float32")})
    wf = gp.Workflow(["x"] >> ops.Normalize(), label="y").fit(df)
    torch.manual_seed(0)
    model = gp.models.TabularMLP.from_schema(wf.output_schema, hidden=(4,))
    bad = df.drop(columns="y")
    bad.loc[33, "x"] = np.inf
    with pytest.raises(gp.DataError, match=r"partition 4 of 4 \(rows counted within it\): .*'x' has 1 ±inf .*first at row 3"):
        gp.batch_predict(wf, model, bad, keys=["id"], partition_rows=10, progress=False)


def test_batch_predict_takes_files_whose_encoded_column_has_no_value(tmp_path):
    """A day's CSV file with an empty text column (typed float64: no value says its kind) scores with that column
    encoded as missing, as the same rows in memory score."""
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"shop": rng.choice(["a", "b"], 200), "x": rng.normal(size=200), "y": rng.integers(0, 2, 200)})
    wf = gp.Workflow(["shop"] >> ops.Categorify(), ["x"] >> ops.Normalize(), label="y").fit(data)
    model = gp.models.TabularMLP.from_schema(wf.output_schema, hidden=(4,))
    (tmp_path / "day.csv").write_text("shop,x\n,0.5\n,-1.0\n")
    got = gp.batch_predict(wf, model, tmp_path / "day.csv", progress=False)
    want = gp.batch_predict(wf, model, pd.DataFrame({"shop": pd.array([None, None], dtype="str"), "x": [0.5, -1.0]}),
                            progress=False)
    np.testing.assert_allclose(got["prediction"].to_numpy(), want["prediction"].to_numpy())


@pytest.mark.parametrize("form", ["directory", "glob", "file", "list"])
def test_an_output_that_is_one_of_the_data_files_is_refused_and_the_data_kept(saved, parts, form):
    """Scores written over an input file replaced the data with its scores; written into the scored directory,
    the next run read them back as data (900 rows scored as 1,800, every feature of the extra rows missing)."""
    directory, _ = parts
    first = directory / "part-0.parquet"
    data = {"directory": directory, "glob": str(directory / "*.parquet"), "file": first,
            "list": [first, directory / "part-1.parquet"]}[form]
    before = first.read_bytes()
    with pytest.raises(gp.ParameterError, match=r"out must be a file that is not among the data.*part-0\.parquet"):
        gp.batch_predict(saved / "workflow", saved / "model", data, keys=["order_id"], out=first, progress=False)
    assert first.read_bytes() == before


def test_a_second_run_into_the_scored_directory_does_not_score_the_first_runs_output(saved, parts):
    directory, whole = parts
    out = directory / "scores.parquet"
    gp.batch_predict(saved / "workflow", saved / "model", directory, keys=["order_id"], out=out, progress=False)
    assert len(gp.read_parquet(out)) == len(whole)
    with pytest.raises(gp.ParameterError, match=r"scores\.parquet is one of the data's files"):
        gp.batch_predict(saved / "workflow", saved / "model", directory, keys=["order_id"], out=out, progress=False)
    got = gp.read_parquet(out)
    assert got["order_id"].tolist() == whole["order_id"].tolist()


def test_a_device_that_is_not_here_is_refused_before_any_partition_is_read(saved, parts, monkeypatch):
    """A CUDA device on a machine without one failed only when the first partition reached the Loader, after
    it had been read and transformed; it is refused first, naming the parameter."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    directory, _ = parts
    monkeypatch.setattr(serving, "_score_part", lambda *a, **k: pytest.fail("a partition was scored"))
    monkeypatch.setattr(gp.Dataset, "iter_partitions", lambda self: pytest.fail("a partition was read"))
    with pytest.raises(gp.BackendUnavailableError, match=r"batch_predict: device='cuda' asks for a CUDA device"):
        gp.batch_predict(saved / "workflow", saved / "model", directory, device="cuda", progress=False)
    with pytest.raises(gp.ParameterError, match=r"batch_predict.*device"):
        gp.batch_predict(saved / "workflow", saved / "model", directory, device="gpu", progress=False)


def test_partition_rows_keeps_a_frames_decimal_and_date_keys_as_they_are(tmp_path):
    """A frame cut by partition_rows was wrapped in a gp.Dataset, which normalizes its columns: the decimal
    key 12345678901234567.89 came back as the float 1.2345678901234568e16 (and dates as timestamps), while
    the same frame without partition_rows kept them."""
    import datetime as dt
    from decimal import Decimal

    import torch

    n = 5
    data = pd.DataFrame({"amount": [Decimal("12345678901234567.89") + i for i in range(n)],
                         "day": [dt.date(2024, 1, i + 1) for i in range(n)],
                         "x": np.arange(1.0, n + 1), "y": np.arange(n) % 2})
    wf = gp.Workflow(["x"] >> ops.Normalize(), label="y").fit(data)
    torch.manual_seed(0)
    model = gp.models.TabularMLP.from_schema(wf.output_schema, hidden=(4,))
    want = gp.predict(model, gp.Loader(wf.transform(data), shuffle=False, schema=wf.output_schema)).numpy()
    # decimals whose scale differs between partitions: one Arrow type for the whole column
    data["price"] = [Decimal("1.5"), Decimal("2.5"), Decimal("123456.125"), None, Decimal("1")]
    cut = gp.batch_predict(wf, model, data, keys=["price"], partition_rows=2, progress=False)
    assert [None if pd.isna(v) else v for v in cut["price"]] == [None if v is None else v for v in data["price"]]
    whole = gp.batch_predict(wf, model, data, keys=["amount", "day"], progress=False)
    cut = gp.batch_predict(wf, model, data, keys=["amount", "day"], partition_rows=2, progress=False)
    for got in (whole, cut):
        assert got["amount"].tolist() == data["amount"].tolist()
        assert got["day"].tolist() == data["day"].tolist()
        np.testing.assert_allclose(got["prediction"].to_numpy(), want, rtol=1e-6)
    written = pd.read_parquet(gp.batch_predict(wf, model, data, keys=["amount", "day"], partition_rows=2,
                                               out=tmp_path / "o.parquet", progress=False))
    assert written["amount"].tolist() == data["amount"].tolist()
    assert written["day"].tolist() == data["day"].tolist()
