"""The GPU API check (`make gpu-api-check`) catches calls cuDF does not have, and passes real code.

These run the checker itself (scripts/gpu_api_check.sh) on a copy of a GPU-only module, once as it
is and once with mistakes planted in it. They need the checker's environment, .venv-gpuapi (the
Python layers of the real RAPIDS packages and pyright, no GPU), which `make gpu-api-check` builds;
without it they skip and say so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gpu_api_check.sh"
VENV = Path(os.environ.get("GPU_API_VENV", ROOT / ".venv-gpuapi"))
# The backend layer's cuDF module: where the cuDF half of every op lives.
MODULE = Path("gpupipe/backend/_cudf.py")

pytestmark = [
    pytest.mark.gpu_api,
    pytest.mark.skipif(not (VENV / ".installed").is_file(),
                       reason=f"needs the RAPIDS type-check environment {VENV.name} (no GPU): "
                              f"run `make gpu-api-check` once to build it"),
]

# Each planted mistake (on the line marked "# planted: NAME") and the words the checker must name it with.
PLANTS = {
    "to_cupy": (
        "def _planted_to_cupy(values: list[float]) -> object:\n"
        "    import cudf\n"
        "\n"
        "    series = cudf.Series(values)\n"
        "    return series.to_cupy(nan_value=0)  # planted: to_cupy\n",
        'No parameter named "nan_value"',
    ),
    "read_parquet": (
        "def _planted_read_parquet(path: str) -> object:\n"
        "    import cudf\n"
        "\n"
        '    return cudf.read_parquet(path, colums=["a"])  # planted: read_parquet\n',
        '"colums" is not a named parameter of cudf.read_parquet',
    ),
    "unannotated": (
        "def _planted_unannotated(frame):  # planted: unannotated\n"
        "    return frame.to_arrow(preserve_index=False)\n",
        'parameter "frame" of _planted_unannotated() has no annotation',
    ),
}


def _copy_package(tmp_path: Path) -> Path:
    """The whole package, so the module's relative imports resolve as they do in place."""
    shutil.copytree(ROOT / "gpupipe", tmp_path / "gpupipe", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path / MODULE


def _check(path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GPU_API_VENV": str(VENV)}
    return subprocess.run(["bash", str(SCRIPT), str(path)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def test_unmodified_module_passes(tmp_path: Path) -> None:
    result = _check(_copy_package(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 errors" in result.stdout


def test_planted_calls_are_named(tmp_path: Path) -> None:
    module = _copy_package(tmp_path)
    text = module.read_text() + "".join(f"\n\n{code}" for code, _ in PLANTS.values())
    module.write_text(text)
    lines = {name: number for number, line in enumerate(text.splitlines(), start=1)
             for name in PLANTS if line.endswith(f"# planted: {name}")}
    assert len(lines) == len(PLANTS)

    result = _check(module)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    for name, (_, words) in PLANTS.items():
        named = [line for line in output.splitlines() if f"{module.name}:{lines[name]}:" in line]
        assert named, f"nothing reported at line {lines[name]} ({name}):\n{output}"
        assert any(words in line for line in named), f"{words!r} not in {named}\n{output}"
