"""The test suite's own handling of absent optional packages (tests/conftest.py), as on the GPU machine,
which has no Polars, moto or Dask extras: a module needing one is skipped with the package's name, and
nothing in the collection hook turns a module-level ``pytest.importorskip`` into an internal error."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).parent


def _pytest(tmp_path: Path, modules: dict[str, str]) -> subprocess.CompletedProcess[str]:
    shutil.copy(TESTS / "conftest.py", tmp_path / "conftest.py")
    for name, text in modules.items():
        (tmp_path / name).write_text(text)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)


def test_module_level_importorskip_and_absent_packages_skip_with_reasons(tmp_path: Path) -> None:
    result = _pytest(tmp_path, {
        "test_skips_itself.py": "import pytest\npl = pytest.importorskip('no_such_module_gpupipe')\n\n"
                                "def test_x():\n    pass\n",
        # an optional package (conftest.OPTIONAL_PACKAGES) absent under its own name
        "test_needs_mmh3.py": "import sys\nsys.modules['mmh3'] = None\nimport mmh3\n\ndef test_y():\n    pass\n",
        "test_runs.py": "def test_z():\n    pass\n",
    })
    out = result.stdout + result.stderr
    assert "INTERNALERROR" not in out, out[-3000:]
    assert result.returncode == 0, out[-3000:]
    assert "1 passed, 2 skipped" in out, out[-3000:]
    assert "no_such_module_gpupipe" in out


def test_a_real_import_error_still_fails_the_collection(tmp_path: Path) -> None:
    result = _pytest(tmp_path, {"test_broken.py": "import not_an_optional_package_gpupipe\n\ndef test_x():\n    pass\n"})
    assert result.returncode != 0 and "INTERNALERROR" not in result.stdout + result.stderr
    assert "not_an_optional_package_gpupipe" in result.stdout
