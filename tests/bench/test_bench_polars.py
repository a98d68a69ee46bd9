"""`gpupipe bench`'s polars entries: the Polars preparation equals gpupipe's output, the check runs before
any timing and a mismatch is an error entry, polars-gpu is reported unavailable here with its reason."""

from __future__ import annotations

import json

import numpy as np
import pytest

pl = pytest.importorskip("polars")

from gpupipe.backend._murmur3 import murmur3_int64 as gpupipe_murmur3  # noqa: E402
from gpupipe.bench import PipelineResult, harness  # noqa: E402
from gpupipe.bench.harness import run_bench  # noqa: E402
from gpupipe.cli import main  # noqa: E402
from pipelines import _polars_bench, bench_runners, flights_delay, polars_prep  # noqa: E402

ROWS = 20_000


@pytest.mark.parametrize(("pipeline", "seed"), [("flights-delay", 0), ("flights-delay", 3), ("criteo-ctr", 0)])
def test_polars_preparation_equals_the_workflow_output(pipeline, seed):
    prep = polars_prep.prepare(pipeline, ROWS, seed)
    train, val, schema = _polars_bench.reference(pipeline, ROWS, seed)
    assert prep.schema == schema  # roles, dtypes and cardinalities (vocabulary sizes) too
    assert prep.train.columns == list(train.columns) == schema.names
    for expected, actual in ((train, prep.train), (val, prep.val)):
        assert actual.height == len(expected)
        for col in schema:
            e = expected[col.name].to_numpy(dtype="float64", na_value=np.nan)
            a = actual[col.name].cast(pl.Float64).to_numpy()
            if col.role == "cat":
                np.testing.assert_array_equal(a, e, err_msg=col.name)  # ids exactly
            else:
                np.testing.assert_allclose(a, e, rtol=_polars_bench.FLOAT_RTOL, atol=_polars_bench.FLOAT_ATOL,
                                           err_msg=col.name)
        assert _polars_bench.compare(expected, actual, schema)["problems"] == []



def test_polars_resample_keeps_the_jittered_delays_in_range_as_flights_scaled_does():
    """The Polars resample draws what gp.datasets.flights_scaled(joined=False) draws: with jitter large enough to
    push delays past the source's range, both clip them to it and keep the values at its ends."""
    import gpupipe as gp

    with gp.use_backend("pandas"):
        want = gp.datasets.flights_scaled(ROWS, 1, jitter=2.0, joined=False)["arr_delay"]
        source = gp.datasets.flights()["flights"]["arr_delay"]
    lf = pl.scan_parquet(gp.datasets.flights_parquet("flights"))
    got = polars_prep._resampled(lf, ROWS, 1, jitter=2.0).collect()["arr_delay"]
    assert (want == source.min()).sum() > 1000  # the clip took effect
    np.testing.assert_array_equal(got.cast(pl.Float64).to_numpy(), want.to_numpy(dtype="float64", na_value=np.nan))


def test_verify_reports_what_it_checked():
    checked = _polars_bench.verify("criteo-ctr", ROWS, 0)
    assert checked["rows"]["train"] + checked["rows"]["val"] == ROWS
    assert checked["columns"] == 40 and checked["floats"]["columns"] == 14
    assert checked["floats"]["max_abs_diff"] <= checked["floats"]["atol"]
    assert "checked equal to gpupipe's before timing" in checked["summary"]


def test_fold_hash_is_gpupipes_murmur3():
    rows = np.concatenate([np.arange(5000), [2**31 - 1, 2**32 - 1, 2**32, 2**40 + 7]]).astype(np.int64)
    for seed in (0, 7, 2**32 - 1):
        got = pl.select(polars_prep.murmur3_int64(pl.lit(pl.Series(rows)), seed)).to_series().to_numpy()
        np.testing.assert_array_equal(got, gpupipe_murmur3(rows, seed).astype(np.uint64))


def test_compare_names_each_difference():
    import pandas as pd

    from gpupipe.schema import ColumnSchema, Schema

    schema = Schema([ColumnSchema("x", "cont", "float32"), ColumnSchema("c", "cat", "int64", 9),
                     ColumnSchema("y", "label", "float32")])
    expected = pd.DataFrame({"x": np.array([0.5, np.nan, 2.0], dtype="float32"), "c": [3, 4, 5],
                             "y": np.array([0, 1, 0], dtype="float32")})
    same = pl.DataFrame({"x": [0.5, None, 2.0 + 1e-7], "c": [3, 4, 5], "y": [0.0, 1.0, 0.0]},
                        schema={"x": pl.Float32, "c": pl.Int64, "y": pl.Float32})
    assert _polars_bench.compare(expected, same, schema)["problems"] == []
    differs = same.with_columns(pl.Series("x", [0.5, 0.0, 2.5], dtype=pl.Float32), pl.Series("c", [3, 2, 5]))
    problems = _polars_bench.compare(expected, differs, schema)["problems"]
    assert len(problems) == 2
    assert any("'x'" in p and "missing" in p for p in problems)
    assert any("'c'" in p and "1 of 3 ids differ" in p for p in problems)
    wrong_type = same.with_columns(pl.col("c").cast(pl.Int32))
    assert "Polars dtype Int32" in _polars_bench.compare(expected, wrong_type, schema)["problems"][0]


def test_a_mismatch_is_an_error_entry_and_nothing_is_timed(monkeypatch):
    real = polars_prep.prepare

    def off_by_one_id(*args, **kwargs):
        prep = real(*args, **kwargs)
        prep.val = prep.val.with_columns(pl.when(pl.int_range(pl.len()) == 5).then(pl.col("C3") + 1)
                                         .otherwise(pl.col("C3")).alias("C3"))
        return prep

    monkeypatch.setattr(polars_prep, "prepare", off_by_one_id)
    timed = []
    monkeypatch.setattr(_polars_bench, "run", lambda *a, **k: timed.append(a))
    res = run_bench("criteo-ctr", rows=[ROWS], backends=["polars"], repeats=1, warmup=1, progress=False,
                    runners=bench_runners("criteo-ctr"))
    (entry,) = res["runs"]
    assert entry["status"] == "error" and entry["stats"] == {} and "verified" not in entry
    assert "OutputMismatch" in entry["reason"] and "'C3'" in entry["reason"] and "val" in entry["reason"]
    assert timed == []  # neither the warm-up nor a repeat ran


def test_verify_runs_once_per_rows_value_before_the_warmup():
    calls = []

    class Checked:
        def verify(self, rows, seed):
            calls.append(("verify", rows, seed))
            return {"summary": f"checked {rows}"}

        def __call__(self, rows, seed, epochs):
            calls.append(("run", rows, seed))
            return PipelineResult("toy", "polars", "cpu", timings={"read": 0.1, "total": 0.1})

    res = run_bench("toy", rows=[10, 20], backends=["polars"], repeats=2, warmup=1, runners={"polars": Checked()},
                    progress=False, seed=4)
    assert calls == [("verify", 10, 4), *[("run", 10, 4)] * 3, ("verify", 20, 4), *[("run", 20, 4)] * 3]
    assert [r["verified"]["summary"] for r in res["runs"]] == ["checked 10", "checked 20"]
    assert "- polars: checked 10" in harness_markdown(res)


def harness_markdown(res):
    from gpupipe.bench import to_markdown

    return to_markdown(res)


def test_polars_gpu_is_unavailable_here_with_the_reason():
    ok, _ = harness._polars_gpu_reason()
    if ok:
        pytest.skip("cudf-polars and a CUDA device are here")
    res = run_bench("flights-delay", rows=[ROWS], backends=["polars-gpu"], repeats=1, warmup=0, progress=False,
                    runners=bench_runners("flights-delay"))
    (entry,) = res["runs"]
    assert entry["status"] == "unavailable"
    assert "cudf-polars" in entry["reason"] or "CUDA" in entry["reason"]


def test_polars_gpu_reason_names_every_missing_piece(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "cudf_polars" else real(name, *a))
    monkeypatch.setattr(harness, "_cuda_reason", lambda: (False, "no CUDA device: test"))
    ok, why = harness.backend_availability("polars-gpu")
    assert not ok
    assert why == ("cudf-polars is not installed (pip install 'gpupipe[gpu]' on a CUDA 13 machine); "
                   "no CUDA device: test")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    ok, why = harness.backend_availability("polars")
    assert not ok and why.startswith("Polars is not installed")


def test_bench_cli_runs_pandas_and_polars(capsys, tmp_path):
    code = main(["bench", "--backends", "pandas,polars", "--rows", str(ROWS), "--repeats", "1", "--warmup", "0",
                 "--out", str(tmp_path), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "| pandas | ok |" in out and "| polars | ok |" in out
    assert "- polars: output checked equal to gpupipe's before timing" in out
    data = json.loads((tmp_path / "results.json").read_text())
    by = {r["backend"]: r for r in data["runs"]}
    assert by["polars"]["verified"]["floats"]["max_abs_diff"] <= by["polars"]["verified"]["floats"]["atol"]
    # the same rows, features, model, seed and batches: the same model
    assert by["polars"]["metrics"]["auc"] == pytest.approx(by["pandas"]["metrics"]["auc"], abs=1e-6)
    assert set(by["polars"]["stats"]) == set(by["pandas"]["stats"])  # the same stages, so the totals compare
    assert [s for s in data["speedups"] if s["backend"] == "polars" and s["vs"] == "pandas"]


def test_polars_entry_runs_the_pipelines_own_model_stages():
    # to_tensors .. baseline are the pipelines' own code: on the CPU the baseline is fitted during training
    # with one torch thread, as in the pandas entry, and gets the same model
    res = _polars_bench.run("flights-delay", ROWS, 0)
    ref = flights_delay.run(backend="pandas", rows=ROWS, seed=0, progress=False)
    for r in (res, ref):
        assert r.extra["baseline_overlapped"] is True and r.extra["baseline_fit_seconds"] > 0
    assert res.baseline["auc"] == pytest.approx(ref.baseline["auc"], abs=1e-6)
    assert res.metrics["auc"] == pytest.approx(ref.metrics["auc"], abs=1e-6)
