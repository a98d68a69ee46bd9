import subprocess
import sys

HEAVY = ("cudf", "cupy", "torch", "dask", "distributed", "pandas", "sklearn", "cuml", "polars", "fsspec", "s3fs")


def test_import_gpupipe_imports_no_gpu_torch_or_dask_library():
    code = (
        "import sys, gpupipe as gp\n"
        "gp.errors, gp.Schema, gp.get_backend\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"importing gpupipe imported: {out.stdout.strip()}"


def test_public_names_resolve():
    import gpupipe as gp

    missing = [name for name in gp.__all__ if not hasattr(gp, name)]
    assert missing == []


def test_unknown_attribute_is_attribute_error():
    import gpupipe as gp

    try:
        gp.does_not_exist  # noqa: B018
    except AttributeError as exc:
        assert "does_not_exist" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
