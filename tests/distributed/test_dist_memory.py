"""Larger than memory: a many-file dataset is fitted, transformed, written and streamed with memory
bounded by a few partitions, measured as the peak RSS of a child process.

With ``GPUPIPE_MEMORY_RECORD=FILE.json`` set, the test also appends its measurement to that file (the record
docs/distributed.md quotes is docs/bench/dist_memory.json).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import gpupipe as gp

pytestmark = pytest.mark.distributed

FILES = 80
ROWS = 100_000
CHILD = Path(__file__).with_name("_bounded_memory_child.py")


def _part(i: int, n: int) -> pa.Table:
    rng = np.random.default_rng(i)
    cols = {}
    for k in range(4):
        x = rng.normal(k, 1 + k, n)
        x[rng.random(n) < 0.1] = np.nan
        cols[f"x{k}"] = pa.array(x, from_pandas=True)
    for k, card in enumerate((100, 5_000)):
        # skewed ids: a few frequent, a long tail (what Categorify's frequency threshold is for)
        ids = (card * rng.random(n) ** 3).astype(np.int64)
        cols[f"c{k}"] = pa.array(ids, mask=rng.random(n) < 0.05)
    cols["y"] = pa.array(rng.integers(0, 2, n).astype(np.int8))
    return pa.table(cols)


def _run_child(src: Path, out: Path) -> dict:
    proc = subprocess.run([sys.executable, str(CHILD), str(src), str(out)],
                          capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _record(report: dict, quarter: dict, data_bytes: int, part_bytes: int) -> None:
    """Append this run's figures to the JSON file named by GPUPIPE_MEMORY_RECORD, if set."""
    target = os.environ.get("GPUPIPE_MEMORY_RECORD")
    if not target:
        return
    import datetime
    import platform

    path = Path(target)
    record = json.loads(path.read_text()) if path.exists() else {
        "what": "tests/distributed/test_dist_memory.py: peak RSS growth of a child process over its imported "
                "libraries while it fits, transforms, writes and streams a many-file gp.Dataset (pandas backend, "
                "Dask's threaded scheduler), for all the files and for a quarter of them",
        "files": FILES, "rows_per_file": ROWS, "runs": []}
    record["runs"].append({
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(), "python": platform.python_version(), "load1": round(os.getloadavg()[0], 2),
        "data_mib": round(data_bytes / 2**20), "partition_mib": round(part_bytes / 2**20, 1),
        "grown_mib": round((report["peak"] - report["base"]) / 2**20),
        "grown_quarter_mib": round((quarter["peak"] - quarter["base"]) / 2**20)})
    path.write_text(json.dumps(record, indent=1) + "\n")


@pytest.mark.slow
def test_fit_transform_write_and_stream_stay_within_a_few_partitions(tmp_path: Path) -> None:
    src, small = tmp_path / "src", tmp_path / "small"
    src.mkdir()
    small.mkdir()
    for i in range(FILES):
        pq.write_table(_part(i, ROWS), src / f"part-{i:03d}.parquet")
        if i < FILES // 4:
            os.link(src / f"part-{i:03d}.parquet", small / f"part-{i:03d}.parquet")
    with gp.use_backend("pandas"):
        # what one partition, and the whole dataset, take in memory as gpupipe reads them
        part_bytes = int(gp.read_parquet(src / "part-000.parquet").memory_usage(deep=True).sum())
    data_bytes = part_bytes * FILES

    report = _run_child(src, tmp_path / "out")
    assert report["partitions"] == FILES
    assert report["rows"] == FILES * ROWS  # the Loader streamed every row of the written output
    assert len(list((tmp_path / "out").glob("part-*.parquet"))) == FILES
    quarter = _run_child(small, tmp_path / "out-small")
    assert quarter["rows"] == FILES // 4 * ROWS

    grown = report["peak"] - report["base"]
    grown_quarter = quarter["peak"] - quarter["base"]
    detail = (f"peak RSS grew by {grown / 2**20:.0f} MiB for {FILES} partitions ({data_bytes / 2**20:.0f} MiB in "
              f"memory, {part_bytes / 2**20:.1f} MiB each) and by {grown_quarter / 2**20:.0f} MiB for a quarter of them")
    _record(report, quarter, data_bytes, part_bytes)
    # Loading everything at once would need the whole input, its transformed copy and the staged
    # tensors. Streaming needs a few partitions' working sets (2 scheduler threads, the loader's
    # prefetch) and the statistics, whatever the number of partitions. Measured on the 2-core
    # build machine (docs/bench/dist_memory.json): about 0.1 GB more for the whole dataset and for a quarter of
    # it alike (thread arenas and pools, whatever the data; with 40 files, 198 MiB, that fixed part alone came
    # near the half-of-the-data bound, and the test failed now and then).
    assert grown < data_bytes / 2, detail
    # 4x the data must not cost (nearly) 4x the memory: the extra 150 MiB of partitions would
    # show up almost entirely if anything held them.
    assert grown - grown_quarter < (data_bytes - data_bytes // 4) / 3, detail
