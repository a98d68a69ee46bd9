"""The pandas backend turns off NumPy's huge-page madvise on its first use, unless told not to."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# prints NumPy's setting after `import gpupipe` and after the pandas backend's first use
_PROBE = """
import numpy as np
core = getattr(np, "_core", None) or np.core
def state():
    prev = core.multiarray._set_madvise_hugepage(True)
    core.multiarray._set_madvise_hugepage(prev)
    return prev
import gpupipe as gp
a = state()
import pandas as pd
gp.from_pandas(pd.DataFrame({"x": [1, 2]}))
print(a, state())
"""


def _probe(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("NUMPY_MADVISE_HUGEPAGE", "GPUPIPE_NUMPY_HUGEPAGE")}
    out = subprocess.run([sys.executable, "-c", _PROBE], env={**clean, **env}, capture_output=True, text=True,
                         check=True)
    return out.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="NumPy madvises huge pages on Linux only")
def test_first_pandas_use_turns_numpy_huge_pages_off() -> None:
    assert _probe() == "True False"  # import alone changes nothing


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="NumPy madvises huge pages on Linux only")
def test_opt_outs_keep_numpys_setting() -> None:
    assert _probe(GPUPIPE_NUMPY_HUGEPAGE="1") == "True True"
    assert _probe(NUMPY_MADVISE_HUGEPAGE="1") == "True True"  # the user's own NumPy setting wins
