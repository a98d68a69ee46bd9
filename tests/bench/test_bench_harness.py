"""The benchmark harness on tiny fake pipelines: statistics, availability, reports and charts."""

from __future__ import annotations

import json
import statistics

import pytest

import gpupipe as gp
from gpupipe.backend import BackendStatus
from gpupipe.bench import STAGES, PipelineResult, harness
from gpupipe.bench.harness import run_bench, summarize
from pipelines import bench_runners

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def scripted(backend: str, totals: list[float], warmup_total: float = 999.0, n_warmup: int = 1):
    """A fake pipeline whose k-th timed run takes totals[k] seconds, split evenly over all STAGES."""
    calls: list[int | None] = []

    def runner(rows, seed, epochs):
        i = len(calls)
        calls.append(rows)
        total = warmup_total if i < n_warmup else totals[i - n_warmup]
        timings = {s: total / len(STAGES) for s in STAGES} | {"total": total}
        return PipelineResult("toy", backend, "cpu", rows={"train": 8 * (rows or 10), "val": 2 * (rows or 10)},
                              metrics={"auc": 0.5 + 0.1 * (i % 3)}, timings=timings)

    runner.calls = calls
    return runner


@pytest.fixture
def no_gpu(monkeypatch):
    """Make the machine look GPU-less with known reasons, whatever it really has."""
    statuses = [BackendStatus("cudf", False, "cuDF test reason: not here"),
                BackendStatus("pandas", True, "pandas is here")]
    monkeypatch.setattr("gpupipe.backend.backend_status", lambda: statuses)
    monkeypatch.setattr(harness, "_cuda_reason", lambda: (False, "no CUDA device: test"))


def test_summarize_matches_statistics_module():
    vals = [5.0, 1.0, 4.0, 2.0, 3.0]
    s = summarize(vals)
    assert s["median"] == statistics.median(vals) == 3.0
    assert (s["min"], s["max"], s["n"]) == (1.0, 5.0, 5)
    assert s["q1"] == 2.0 and s["q3"] == 4.0
    one = summarize([7.0])
    assert one["median"] == one["q1"] == one["q3"] == 7.0
    with pytest.raises(ValueError):
        summarize([])


def test_medians_spread_and_warmup_excluded(no_gpu):
    pandas = scripted("pandas", [4.0, 2.0, 9.0])
    res = run_bench("toy", rows=[100], backends=["pandas"], repeats=3, warmup=1,
                    runners={"pandas": pandas}, progress=False)
    assert pandas.calls == [100, 100, 100, 100]  # one warm-up + three repeats, all at the asked size
    (run,) = res["runs"]
    assert run["status"] == "ok"
    assert run["stats"]["total"]["median"] == 4.0  # the 999 s warm-up is not counted
    assert run["stats"]["total"]["min"] == 2.0 and run["stats"]["total"]["max"] == 9.0
    assert run["stats"]["read"]["median"] == pytest.approx(4.0 / len(STAGES))
    assert set(run["stats"]) == {*STAGES, "total"}
    assert len(run["repeats"]) == 3
    assert run["metrics"]["auc"] == pytest.approx(statistics.median([0.6, 0.7, 0.5]))


def test_speedups_from_medians_and_absent_backends(no_gpu):
    runners = {"pandas": scripted("pandas", [4.0, 4.0, 5.0]), "naive": scripted("naive", [8.0, 7.0, 9.0]),
               "fast": scripted("fast", [1.0, 1.0, 3.0])}
    res = run_bench("toy", rows=[50], backends=["cudf", "hybrid", "pandas", "naive", "fast"], repeats=3,
                    warmup=1, runners=runners, progress=False)
    by = {r["backend"]: r for r in res["runs"]}
    assert by["cudf"]["status"] == "unavailable" and by["cudf"]["reason"] == "cuDF test reason: not here"
    assert by["hybrid"]["status"] == "unavailable" and "no CUDA device" in by["hybrid"]["reason"]
    sp = {(s["backend"], s["vs"]): s["total"] for s in res["speedups"]}
    assert sp[("fast", "pandas")] == pytest.approx(4.0)
    assert sp[("fast", "naive")] == pytest.approx(8.0)
    assert sp[("naive", "pandas")] == pytest.approx(0.5)
    assert ("cudf", "pandas") not in sp


def test_real_absent_backend_reason_comes_from_backend_status(tmp_path):
    import gpupipe as gp

    status = {s.name: s for s in gp.backend_status()}
    if status["cudf"].available:
        pytest.skip("cuDF is usable here")
    res = run_bench("toy", rows=[5], backends=["cudf", "pandas"], repeats=1, warmup=0,
                    runners={"pandas": scripted("pandas", [1.0], n_warmup=0)}, progress=False)
    cudf = res["runs"][0]
    assert cudf["status"] == "unavailable" and cudf["reason"] == status["cudf"].reason


def test_results_json_markdown_and_charts(no_gpu, tmp_path):
    runners = {"pandas": scripted("pandas", [2.0, 3.0, 2.0, 6.0, 5.0, 6.0], n_warmup=0),
               "naive": scripted("naive", [4.0, 4.0, 4.0, 9.0, 9.0, 9.0], n_warmup=0)}
    res = run_bench("toy", rows=[10, 1000], backends=["cudf", "pandas", "naive"], repeats=3, warmup=0,
                    out=tmp_path, runners=runners, progress=False)
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["pipeline"] == "toy" and data["settings"]["repeats"] == 3
    assert data["machine"]["cpu"] and data["machine"]["versions"]["pandas"] != "not installed"
    assert data["machine"]["threads"]["cores_available"] >= 1
    assert [(r["backend"], r["rows"]) for r in data["runs"]] == [
        ("cudf", 10), ("pandas", 10), ("naive", 10), ("cudf", 1000), ("pandas", 1000), ("naive", 1000)]
    assert {r["status"] for r in data["runs"]} == {"ok", "unavailable"}
    big = next(r for r in data["runs"] if r["backend"] == "pandas" and r["rows"] == 1000)
    assert big["stats"]["total"]["median"] == 6.0
    assert data["files"] == res["files"]

    md = (tmp_path / "results.md").read_text()
    for key in ("10 rows", "1,000 rows"):
        assert f"### {key}" in md
    rows_md = [line for line in md.splitlines() if line.startswith("| ")]
    for b in ("cudf", "pandas", "naive"):
        assert sum(line.startswith(f"| {b} |") for line in rows_md) == 2  # one per rows value
    assert "cuDF test reason: not here" in md

    import matplotlib.image as mpimg

    for name in ("stages.png", "speedup.png", "scaling.png"):
        p = tmp_path / name
        assert p.read_bytes()[:8] == PNG_MAGIC, name
        img = mpimg.imread(p)
        assert img.shape[0] > 100 and img.shape[1] > 100


def test_single_size_draws_no_scaling_curve(no_gpu, tmp_path):
    run_bench("toy", rows=[10], backends=["pandas"], repeats=1, warmup=0, out=tmp_path,
              runners={"pandas": scripted("pandas", [1.0], n_warmup=0)}, progress=False)
    assert (tmp_path / "stages.png").exists() and not (tmp_path / "scaling.png").exists()


def test_failing_backend_is_reported_and_others_still_run(no_gpu, tmp_path):
    def broken(rows, seed, epochs):
        raise RuntimeError("out of memory on purpose")

    res = run_bench("toy", rows=[10], backends=["pandas", "naive"], repeats=2, warmup=0, out=tmp_path,
                    runners={"pandas": broken, "naive": scripted("naive", [1.0, 1.0], n_warmup=0)},
                    progress=False)
    by = {r["backend"]: r for r in res["runs"]}
    assert by["pandas"]["status"] == "error" and "out of memory on purpose" in by["pandas"]["reason"]
    assert by["naive"]["status"] == "ok"
    assert "error: RuntimeError: out of memory on purpose" in (tmp_path / "results.md").read_text()


def test_dataset_caches_are_cleared_before_each_run(no_gpu):
    import importlib

    fl = importlib.import_module("gpupipe.datasets.flights")  # the module, not the function of that name

    seen = []

    def reader(rows, seed, epochs):
        seen.append(fl._arrow_table.cache_info().currsize)
        fl._arrow_table("airlines")  # fills the cache, as a pipeline reading its tables would
        return PipelineResult("toy", "pandas", "cpu", timings={"read": 0.01, "total": 0.01})

    run_bench("toy", rows=[1], backends=["pandas"], repeats=3, warmup=1, runners={"pandas": reader},
              progress=False)
    assert seen == [0, 0, 0, 0]


def test_bad_arguments_raise_with_the_accepted_values():
    runners = bench_runners("flights-delay")
    with pytest.raises(ValueError, match="unknown backend"):
        run_bench("flights-delay", backends=["spark"], progress=False, runners=runners)
    with pytest.raises(ValueError, match="unknown pipeline"):
        bench_runners("taxi")
    with pytest.raises(ValueError, match="repeats"):
        run_bench("flights-delay", backends=["pandas"], repeats=0, progress=False, runners=runners)
    with pytest.raises(ValueError, match="rows"):
        run_bench("flights-delay", rows=[0], backends=["pandas"], progress=False, runners=runners)


@pytest.mark.parametrize("kwargs, name", [
    ({"repeats": 2.5}, "repeats"), ({"repeats": True}, "repeats"), ({"warmup": 0.5}, "warmup"),
    ({"rows": [1.5]}, "rows"), ({"rows": 5}, "rows"), ({"epochs": 2.5}, "epochs"), ({"seed": None}, "seed"),
    ({"seed": -1}, "seed"), ({"progress": "no"}, "progress"), ({"backends": "pandas"}, "backends"),
])
def test_arguments_follow_the_rules_of_every_entry_point(kwargs, name):
    # README, Errors: integers are never floats or bools (2.5 repeats used to run 2), flags are bools, a list of
    # names is never a bare string ("pandas" used to be six unknown backends), seeds lie in [0, 2**63)
    from gpupipe.errors import ParameterError

    calls = []
    args = {"rows": [10], "backends": ["pandas"], "repeats": 1, "warmup": 0, "progress": False,
            "runners": {"pandas": lambda r, s, e: calls.append(r)}, **kwargs}
    with pytest.raises(ParameterError, match=rf"gp\.bench\.run_bench: {name} must be"):
        run_bench("toy", **args)
    assert calls == []


def test_runner_without_total_is_an_error_entry(no_gpu):
    res = run_bench("toy", rows=[1], backends=["pandas"], repeats=1, warmup=0, progress=False,
                    runners={"pandas": lambda r, s, e: PipelineResult("toy", "pandas", "cpu", timings={"read": 1.0})})
    assert res["runs"][0]["status"] == "error" and "'total'" in res["runs"][0]["reason"]


def test_naive_has_no_reference_for_criteo(no_gpu):
    res = run_bench("criteo-ctr", rows=[10], backends=["naive"], repeats=1, warmup=0, progress=False,
                    runners=bench_runners("criteo-ctr"))
    assert res["runs"][0]["status"] == "unavailable"
    assert "only for flights-delay" in res["runs"][0]["reason"]


def test_full_data_size_comes_from_the_split_rows_and_process_times_are_recorded(no_gpu):
    def full(rows, seed, epochs):
        return PipelineResult("toy", "pandas", "cpu", rows={"train": 80, "val": 20, "loader_epoch": 80},
                              timings={"read": 0.01, "total": 0.01})

    res = run_bench("toy", rows=[None], backends=["pandas"], repeats=2, warmup=0, runners={"pandas": full},
                    progress=False)
    run = res["runs"][0]
    assert run["rows"] is None and run["n_rows"] == 100
    assert all(r["process"]["wall_s"] >= 0 and r["process"]["cpu_s"] >= 0 for r in run["repeats"])


def test_a_known_backend_without_a_runner_is_reported_unavailable(monkeypatch):
    statuses = [BackendStatus("cudf", True, "cuDF test reason: here"), BackendStatus("pandas", True, "pandas is here")]
    monkeypatch.setattr("gpupipe.backend.backend_status", lambda: statuses)
    res = run_bench("toy", rows=[1], backends=["cudf", "pandas"], repeats=1, warmup=0, progress=False,
                    runners={"pandas": scripted("pandas", [1.0], n_warmup=0)})
    by = {r["backend"]: r for r in res["runs"]}
    assert by["cudf"]["status"] == "unavailable" and "no runner was given for backend 'cudf'" in by["cudf"]["reason"]
    assert by["pandas"]["status"] == "ok"


def _log_charts():
    """A result whose scaling chart spans 100k..10M rows and 2..300 s, and whose speedups span 1x..40x (log)."""
    def run(b, rows, med):
        return {"backend": b, "rows": rows, "n_rows": rows, "status": "ok",
                "stats": {"total": {"median": med, "min": 0.9 * med, "max": 1.1 * med}}}

    runs = [run("pandas", 100_000, 2.45), run("pandas", 1_000_000, 11.2), run("pandas", 10_000_000, 120.0),
            run("naive", 100_000, 3.15), run("naive", 1_000_000, 33.1), run("naive", 10_000_000, 290.0)]
    speedups = [{"rows": 100_000, "backend": b, "vs": ref, "total": x}
                for b, ref, x in (("cudf", "pandas", 31.0), ("cudf", "naive", 40.0), ("pandas", "pandas", 1.0),
                                  ("pandas", "naive", 1.3))]
    return {"pipeline": "toy", "runs": runs, "speedups": speedups}


def _tick_labels(fig, axis):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()  # tick labels are decided at draw time, from the axis' view limits
    lo, hi = sorted(axis.get_view_interval())
    ticks = [*axis.get_majorticklocs(), *axis.get_minorticklocs()]
    labels = [t.get_text() for t in axis.get_ticklabels(which="both")]
    return [(loc, lab) for loc, lab in zip(ticks, labels, strict=True) if lo <= loc <= hi]


def test_log_axes_label_ticks_with_plain_numbers():
    import re

    from gpupipe.bench.report import _scaling_figure, _speedups_figure

    scaling = _scaling_figure(_log_charts())
    (ax,) = scaling.axes
    speed = _speedups_figure(_log_charts())
    assert speed.axes[0].get_yscale() == "log"
    plain = re.compile(r"^\d{1,3}(,\d{3})*(\.\d+)?$")
    shown = {}
    for name, axis in (("rows", ax.xaxis), ("seconds", ax.yaxis), ("speedup", speed.axes[0].yaxis)):
        ticks = _tick_labels(axis.figure, axis)
        labelled = [(loc, lab) for loc, lab in ticks if lab]
        assert labelled, name
        for loc, lab in labelled:
            assert plain.match(lab), (name, lab)  # no 10^5, no 4x10^1, no 1e+05
            assert float(lab.replace(",", "")) == pytest.approx(loc, rel=1e-9), (name, lab)
        shown[name] = [lab for _, lab in labelled]
    assert {"100,000", "1,000,000", "10,000,000"} <= set(shown["rows"])
    assert {"10", "100"} <= set(shown["seconds"])
    assert {"1", "10"} <= set(shown["speedup"]) and ("2" in shown["speedup"] or "5" in shown["speedup"])


def test_speedup_bars_label_plain_ratios_and_leave_missing_ones_out():
    # naive failed at 1M rows: no ratio against it there, so no bar (it was drawn as a "0x" bar), and a 120x
    # ratio reads "120x" (it read "1.2e+02x")
    from gpupipe.bench.report import _speedups_figure

    speedups = [{"rows": rows, "backend": b, "vs": ref, "total": x}
                for rows, b, ref, x in ((100_000, "cudf", "pandas", 31.0), (100_000, "cudf", "naive", 123.4),
                                        (100_000, "pandas", "pandas", 1.0), (100_000, "pandas", "naive", 0.63),
                                        (1_000_000, "cudf", "pandas", 40.0), (1_000_000, "pandas", "pandas", 1.0))]
    fig = _speedups_figure({"pipeline": "toy", "runs": [], "speedups": speedups})
    small, big = ({t.get_text() for t in ax.texts} - {""} for ax in fig.axes)
    assert small == {"31x", "120x", "1x", "0.63x"}
    assert big == {"40x", "1x"}
    heights = [p.get_height() for p in fig.axes[1].patches]
    assert sorted(h for h in heights if h == h) == [1.0, 40.0] and not any(h == 0 for h in heights)


def test_every_flights_cache_is_cleared_before_each_run(no_gpu):
    # flights_scaled(joined=False), which the pipelines resample at --rows, kept its pandas flights table from
    # the warm-up: the timed runs' read stage skipped that conversion
    import functools
    import importlib

    fl = importlib.import_module("gpupipe.datasets.flights")
    cached = sorted(n for n, v in vars(fl).items() if isinstance(v, functools._lru_cache_wrapper))
    assert {"_arrow_table", "_flights_pandas", "_joined_pandas"} <= set(cached)
    seen = []

    def reader(rows, seed, epochs):
        seen.append({n: getattr(fl, n).cache_info().currsize for n in cached})
        fl._flights_pandas()
        fl._joined_pandas()
        return PipelineResult("toy", "pandas", "cpu", timings={"read": 0.01, "total": 0.01})

    run_bench("toy", rows=[1], backends=["pandas"], repeats=2, warmup=1, runners={"pandas": reader},
              progress=False)
    assert seen == [dict.fromkeys(cached, 0)] * 3


def test_a_size_given_twice_is_measured_once(no_gpu):
    # --rows 10 10 listed two pandas rows under "10 rows", both showing the speedup of the second run's medians
    runner = scripted("pandas", [1.0, 2.0], n_warmup=0)
    res = run_bench("toy", rows=[10, 10], backends=["pandas"], repeats=1, warmup=0, runners={"pandas": runner},
                    progress=False)
    assert runner.calls == [10] and [r["rows"] for r in res["runs"]] == [10]
    assert res["settings"]["rows"] == [10]


def test_a_report_is_written_whole_or_not_at_all(no_gpu, tmp_path, monkeypatch):
    """results.md and the charts were written in place before results.json: a bench failing (or killed) while
    writing its report left new charts beside the previous results.json, and a previous report's scaling.png
    stayed beside a new single-size report that does not draw one."""
    from gpupipe.bench import report

    out = tmp_path / "bench"
    kw = dict(backends=["pandas"], repeats=1, warmup=0, out=out, progress=False)
    run_bench("toy", rows=[10, 100], runners={"pandas": scripted("pandas", [1.0, 2.0], n_warmup=0)}, **kw)
    (out / "criteo.json").write_text("{}")  # another script's result beside the report: kept
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken(result, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report, "plot_scaling", broken)
    with pytest.raises(OSError, match="No space"):
        run_bench("toy", rows=[10, 100], runners={"pandas": scripted("pandas", [3.0, 4.0], n_warmup=0)}, **kw)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    run_bench("toy", rows=[10], runners={"pandas": scripted("pandas", [5.0], n_warmup=0)}, **kw)
    names = {p.name for p in out.iterdir()}
    assert "scaling.png" not in names and {"criteo.json", "results.json", "results.md", "stages.png"} <= names
    assert json.loads((out / "results.json").read_text())["files"]["stages_chart"] == str(out / "stages.png")


def test_an_out_that_cannot_be_written_is_refused_before_any_run(no_gpu, tmp_path):
    """out= a file: every run was timed, then writing the report failed and the results were lost."""
    (tmp_path / "file").write_text("x")
    runner = scripted("pandas", [1.0], n_warmup=0)
    with pytest.raises(gp.ParameterError, match=r"run_bench: out .*is a file"):
        run_bench("toy", rows=[10], backends=["pandas"], repeats=1, warmup=0, out=tmp_path / "file",
                  runners={"pandas": runner}, progress=False)
    assert runner.calls == []
