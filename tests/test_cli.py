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


def test_garbage_collector_tuned_only_when_the_command_owns_the_process(capsys):
    import gc

    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    assert main(["info"]) == 0  # called with argv, as from a user's program: their collector untouched
    assert (gc.get_threshold(), gc.get_freeze_count()) == (before, frozen)
    probe = ("import gc, sys; sys.argv = ['gpupipe', 'info']; from gpupipe.cli import {fn}; code = {fn}(); "
             "print(gc.get_threshold(), gc.get_freeze_count() > 0, code)")
    lines = {}
    for fn in ("main", "console_main"):  # a program calling main() with no arguments; the command itself
        out = subprocess.run([sys.executable, "-c", probe.format(fn=fn)], capture_output=True, text=True, check=True)
        lines[fn] = out.stdout.strip().splitlines()[-1]
    assert lines == {"main": f"{gc.get_threshold()} False 0", "console_main": "(50000, 20, 10) True 0"}
