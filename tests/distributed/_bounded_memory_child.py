"""Child process of test_dist_memory.py: fit, transform, write and stream a many-file dataset.

Prints one JSON line: peak RSS before any partition was read and at the end, rows seen.
Runs alone in its process so ``ru_maxrss`` measures this pipeline and nothing else.
"""

from __future__ import annotations

import json
import resource
import sys


def _peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def main(src: str, out: str) -> None:
    import gpupipe as gp
    from gpupipe import ops

    with gp.use_backend("pandas"):
        ds = gp.Dataset(src)
        wf = gp.Workflow(
            ["x0", "x1"] >> ops.FillMissing(fill_value=0) >> ops.Normalize(),
            ["x2", "x3"] >> ops.FillMissing(fill_value=0) >> ops.NormalizeMinMax(),
            ["c0", "c1"] >> ops.Categorify(freq_threshold=2),
            label="y",
        )
        # Warm the imports (torch alone is ~150 MB) and code paths on a small sample, so the
        # baseline holds the libraries and what grows after it is data.
        sample = ds.head(1000)
        warm = gp.Workflow(["x0"] >> ops.FillMissing(fill_value=0) >> ops.Normalize(), ["c0"] >> ops.Categorify(), label="y")
        for _ in gp.Loader(warm.fit_transform(sample), batch_size=100, schema=warm.output_schema):
            pass
        base = _peak_bytes()
        wf.fit(ds)
        wf.transform(ds).to_parquet(out)
        loader = gp.Loader(gp.Dataset(out), batch_size=65536, shuffle=True, schema=wf.output_schema)
        rows = 0
        for batch in loader:
            rows += int(batch.label.shape[0])
        print(json.dumps({"base": base, "peak": _peak_bytes(), "rows": rows,
                          "partitions": ds.num_partitions}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
