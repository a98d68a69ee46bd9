"""`gpupipe bench` from the command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import gpupipe as gp
from gpupipe.cli import main


def test_bench_help_lists_every_option():
    out = subprocess.run([sys.executable, "-m", "gpupipe", "bench", "--help"], capture_output=True, text=True,
                         check=True).stdout
    for opt in ("--pipeline", "--rows", "--backends", "--repeats", "--warmup", "--out"):
        assert opt in out
    assert "flights-delay" in out and "criteo-ctr" in out
    for backend in ("cudf", "hybrid", "polars-gpu", "pandas", "polars", "naive"):
        assert backend in out
    # the default runs every backend, polars included
    from gpupipe.bench import BACKENDS
    from gpupipe.cli import build_parser

    default = build_parser().parse_args(["bench"]).backends
    assert default.split(",") == list(BACKENDS) and "polars" in default.split(",")


def test_bench_unknown_backend_is_a_clean_error(capsys, tmp_path):
    assert main(["bench", "--backends", "pandas,spark", "--out", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "spark" in err and "cudf" in err and "Traceback" not in err


@pytest.mark.parametrize("argv, line", [
    (["--rows", "100", "-3"], "--rows must be positive, got -3"),
    (["--repeats", "0"], "--repeats must be at least 1, got 0"),
    (["--warmup", "-1"], "--warmup must be 0 or more, got -1"),
])
def test_bench_option_errors_name_the_option(capsys, tmp_path, argv, line):
    assert main(["bench", *argv, "--backends", "pandas", "--out", str(tmp_path / "b"), "--no-progress"]) == 2
    assert capsys.readouterr().err.strip() == f"gpupipe: error: {line}"
    assert not (tmp_path / "b").exists()


def test_bench_reports_an_unusable_backend_and_writes_files(capsys, tmp_path):
    if "cudf" in gp.available_backends():
        pytest.skip("cuDF is usable here; this checks the report of an absent backend")
    assert main(["bench", "--backends", "cudf", "--rows", "10", "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "| cudf | unavailable:" in out
    assert str(tmp_path / "results.json") in out
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["runs"][0]["status"] == "unavailable" and data["runs"][0]["reason"]
