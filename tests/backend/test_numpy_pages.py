"""While gpupipe works on pandas (Workflow passes, file reads), NumPy does not ask for huge pages; before and
after, and wherever the user set NumPy's own knob or GPUPIPE_NUMPY_HUGEPAGE=1, NumPy's setting is untouched."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from gpupipe.backend._pandas import numpy_small_pages

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="NumPy madvises huge pages on Linux only")

# prints NumPy's setting: before, inside a Workflow pass (a LambdaOp reads it), after it, after a parquet read
_PROBE = """
import sys
import numpy as np
core = getattr(np, "_core", None) or np.core
def state():
    prev = core.multiarray._set_madvise_hugepage(True)
    core.multiarray._set_madvise_hugepage(prev)
    return prev
import pandas as pd
import gpupipe as gp
from gpupipe import ops
before = state()
frame = gp.from_pandas(pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]}))
seen = []
wf = gp.Workflow(["x"] >> ops.LambdaOp(lambda s: (seen.append(state()), s)[1]) >> ops.Normalize(),
                 ["c"] >> ops.Categorify())
wf.fit_transform(frame)
after = state()
gp.write_parquet(frame, sys.argv[1])
gp.read_parquet(sys.argv[1])
print(before, seen[0], after, state())
"""


def _probe(tmp_path, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("NUMPY_MADVISE_HUGEPAGE", "GPUPIPE_NUMPY_HUGEPAGE")}
    out = subprocess.run([sys.executable, "-c", _PROBE, str(tmp_path / "f.parquet")], env={**clean, **env},
                         capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def test_huge_pages_are_off_only_while_gpupipe_works(tmp_path) -> None:
    assert _probe(tmp_path) == "True False True True"


def test_opt_outs_keep_numpys_setting_throughout(tmp_path) -> None:
    assert _probe(tmp_path, GPUPIPE_NUMPY_HUGEPAGE="1") == "True True True True"
    assert _probe(tmp_path, NUMPY_MADVISE_HUGEPAGE="1") == "True True True True"  # the user's own NumPy setting wins


def _state() -> bool:
    core = getattr(np, "_core", None) or np.core
    prev = core.multiarray._set_madvise_hugepage(True)
    core.multiarray._set_madvise_hugepage(prev)
    return bool(prev)


def test_overlapping_scopes_restore_the_setting_when_the_last_one_ends(monkeypatch) -> None:
    monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
    monkeypatch.delenv("GPUPIPE_NUMPY_HUGEPAGE", raising=False)
    before = _state()
    entered, release = threading.Event(), threading.Event()

    def other() -> None:
        with numpy_small_pages():
            entered.set()
            release.wait(10)

    t = threading.Thread(target=other)
    t.start()
    entered.wait(10)
    with numpy_small_pages():
        assert _state() is False
    assert _state() is False  # the other thread's scope is still open
    release.set()
    t.join()
    assert _state() is before
