import json
import subprocess
import sys

from gpupipe.cli import main


def test_info_explains_each_backend(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "cudf" in out and "pandas" in out and "Selected" in out


def test_info_json_lists_reasons():
    out = subprocess.run([sys.executable, "-m", "gpupipe", "info", "--json"], capture_output=True, text=True,
                         check=True)
    info = json.loads(out.stdout)
    names = {b["name"]: b for b in info["backends"]}
    assert set(names) == {"cudf", "pandas"}
    assert names["pandas"]["available"] is True
    assert names["cudf"]["reason"]  # always says why
    assert info["cpu_threads"] >= 1
    assert info["versions"]["pyarrow"] != "not installed"
