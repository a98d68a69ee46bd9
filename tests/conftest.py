"""Shared fixtures: the ``backend`` fixture runs a test once per installed backend."""

from __future__ import annotations

import os

import pytest

import gpupipe as gp
from gpupipe.backend import BACKENDS, backend_status

# Probe once: a GPU backend that is installed but unusable is skipped with its reason.
_STATUS = {s.name: s for s in backend_status()}


def _backend_param(name: str) -> pytest.param:
    marks = [pytest.mark.gpu] if name == "cudf" else []
    st = _STATUS[name]
    if not st.available:
        marks.append(pytest.mark.skip(reason=f"{name} backend unavailable: {st.reason}"))
    return pytest.param(name, marks=marks, id=name)


@pytest.fixture(params=[_backend_param(n) for n in BACKENDS])
def backend(request: pytest.FixtureRequest) -> str:
    """Name of a usable backend; the test body runs with it selected."""
    with gp.use_backend(request.param):
        yield request.param


@pytest.fixture
def has_cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip `gpu`-marked tests cleanly where no CUDA device is usable, with the reason."""
    if os.environ.get("GPUPIPE_FORCE_GPU_TESTS"):
        return
    try:
        import torch

        cuda = torch.cuda.is_available()
    except ImportError:
        cuda = False
    if cuda:
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (none usable here): " + _STATUS["cudf"].reason)
    for item in items:
        if "gpu" in item.keywords and not any(m.name == "skip" for m in item.iter_markers()):
            item.add_marker(skip)
