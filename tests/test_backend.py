import subprocess
import sys

import pandas as pd
import pytest

import gpupipe as gp
from gpupipe.backend import Dispatch, array_namespace, backend_of
from gpupipe.backend._detect import probe


def test_pandas_always_available():
    assert "pandas" in gp.available_backends()
    assert gp.available_backends()[-1] == "pandas"


def test_auto_picks_cudf_only_when_usable():
    expected = "cudf" if probe("cudf").available else "pandas"
    with gp.use_backend("auto"):
        assert gp.get_backend().name == expected


def test_use_backend_restores_previous():
    before = gp.get_backend()
    with gp.use_backend("pandas") as b:
        assert b.name == "pandas" and b.device == "cpu"
        assert gp.get_backend().name == "pandas"
    assert gp.get_backend() == before


def test_unknown_backend_name_is_value_error():
    with pytest.raises(ValueError, match="not a backend"):
        gp.set_backend("numpy")


@pytest.mark.skipif(probe("cudf").available, reason="cuDF is usable here")
def test_cudf_unavailable_raises_with_reason():
    with pytest.raises(gp.BackendUnavailableError, match="not usable here") as info:
        gp.set_backend("cudf")
    assert probe("cudf").reason in str(info.value)
    with pytest.raises(gp.BackendUnavailableError), gp.use_backend("cudf"):
        pass


def test_env_variable_selects_backend_and_rejects_garbage():
    code = "import gpupipe as gp; print(gp.get_backend().name)"
    env = {"GPUPIPE_BACKEND": "pandas", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "pandas"
    env["GPUPIPE_BACKEND"] = "tpu"
    bad = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and "GPUPIPE_BACKEND" in bad.stderr


def test_set_backend_persists_until_changed():
    try:
        assert gp.set_backend("pandas").name == "pandas"
        assert gp.get_backend().name == "pandas"
    finally:
        gp.set_backend("auto")


def test_dispatch_by_frame_type_and_by_name():
    g = Dispatch("nrows")

    @g.register("pandas")
    def _nrows_pandas(frame):
        return len(frame)

    assert g(pd.DataFrame({"a": [1, 2, 3]})) == 3
    assert g.impl("pandas") is _nrows_pandas
    with pytest.raises(gp.BackendUnavailableError, match="nrows has no implementation"):
        g.impl("cudf")
    with pytest.raises(TypeError, match=r"builtins\.list"):
        g([1, 2])


def test_dispatch_lazy_module_is_imported_on_first_use(tmp_path, monkeypatch):
    mod = tmp_path / "gp_lazy_impl_mod.py"
    mod.write_text(
        "from tests_lazy_generic import G\n"
        "@G.register('pandas')\n"
        "def _g_pandas(frame):\n    return 'lazy'\n"
    )
    (tmp_path / "tests_lazy_generic.py").write_text(
        "from gpupipe.backend import Dispatch\nG = Dispatch('g')\nG.register_lazy('pandas', 'gp_lazy_impl_mod')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import tests_lazy_generic

    assert "gp_lazy_impl_mod" not in sys.modules
    assert tests_lazy_generic.G(pd.DataFrame()) == "lazy"
    assert "gp_lazy_impl_mod" in sys.modules


def test_array_namespace_and_backend_of():
    import numpy as np

    s = pd.Series([1.0, 2.0])
    assert backend_of(s) == "pandas"
    assert array_namespace(s) is np
    assert array_namespace(np.zeros(2)) is np
    with pytest.raises(TypeError):
        array_namespace("not an array")


@pytest.mark.gpu
def test_cudf_frames_dispatch_to_cudf():
    cudf = pytest.importorskip("cudf")
    import cupy

    s = cudf.Series([1, 2])
    assert backend_of(s) == "cudf"
    assert array_namespace(s) is cupy
