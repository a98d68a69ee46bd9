"""Where a save may go: a workflow or checkpoint save replaces its whole directory (or URL prefix), so it
refuses, before writing anything, one that holds what is not a previous save of the same thing, and a
path that is a file. Local directories and ``memory://`` prefixes (fsspec's in-process store) alike."""

from __future__ import annotations

import uuid

import fsspec
import numpy as np
import pandas as pd
import pytest

import gpupipe as gp
from gpupipe import ops
from gpupipe.errors import WorkflowFormatError


def _workflow() -> gp.Workflow:
    df = pd.DataFrame({"x": np.arange(8, dtype="float64"), "c": list("abababab"), "y": np.float32(1)})
    return gp.Workflow(["x"] >> ops.Normalize(), ["c"] >> ops.Categorify(), label="y").fit(df)


def _save_workflow(where: str) -> None:
    _workflow().save(where)


def _save_checkpoint(where: str) -> None:
    model = gp.models.TabularMLP.from_schema(_workflow().output_schema, hidden=(4,))
    gp.save_checkpoint(model, where, extra={"epoch": 1})


def _load_workflow(where: str) -> None:
    gp.Workflow.load(where)


def _load_checkpoint(where: str) -> None:
    gp.load_checkpoint(where)


SAVES = {"workflow": (_save_workflow, _load_workflow), "checkpoint": (_save_checkpoint, _load_checkpoint)}


@pytest.fixture(params=["local", "memory"])
def place(request, tmp_path):
    """(where a save goes, write(name, text) of a file there, read(name))."""
    if request.param == "local":
        root = tmp_path / "out"
        root.mkdir()

        def write(name: str, text: str) -> None:
            (root / name).write_text(text)

        def read(name: str) -> str:
            return (root / name).read_text()

        yield str(root), write, read
        return
    fs = fsspec.filesystem("memory")
    prefix = f"/gpupipe-save-targets/{uuid.uuid4().hex}"

    def write_remote(name: str, text: str) -> None:
        fs.pipe_file(f"{prefix}/{name}", text.encode())

    def read_remote(name: str) -> str:
        return fs.cat_file(f"{prefix}/{name}").decode()

    yield f"memory://{prefix}", write_remote, read_remote
    fs.rm(prefix, recursive=True)


@pytest.mark.parametrize("what", list(SAVES))
def test_a_save_refuses_a_place_holding_something_else_and_leaves_it(what, place):
    where, write, read = place
    save, _ = SAVES[what]
    write("notes.txt", "mine")
    with pytest.raises(WorkflowFormatError, match=rf"notes\.txt.*not a saved {what}'s.*empty or new one"):
        save(where)
    assert read("notes.txt") == "mine"


@pytest.mark.parametrize("what", list(SAVES))
def test_a_previous_save_with_other_files_beside_it_is_refused_and_the_files_kept(what, place):
    """A workflow save accepted any place that held a workflow.json, and deleted everything else there (notes,
    data written beside the saved workflow)."""
    where, write, read = place
    save, load = SAVES[what]
    save(where)
    write("notes.txt", "mine")
    with pytest.raises(WorkflowFormatError, match=rf"\['notes\.txt'\].*not a saved {what}'s"):
        save(where)
    assert read("notes.txt") == "mine"
    load(where)  # the previous save is untouched too


@pytest.mark.parametrize("what", list(SAVES))
def test_a_save_replaces_a_previous_save_of_the_same_thing(what, place):
    where, _, _ = place
    save, load = SAVES[what]
    save(where)
    save(where)
    load(where)


@pytest.mark.parametrize(("first", "second"), [("workflow", "checkpoint"), ("checkpoint", "workflow")])
def test_one_kind_of_save_is_not_written_over_the_other(first, second, place):
    where, _, _ = place
    SAVES[first][0](where)
    with pytest.raises(WorkflowFormatError, match=f"not a saved {second}'s"):
        SAVES[second][0](where)
    SAVES[first][1](where)  # untouched: it still loads


@pytest.mark.parametrize("what", list(SAVES))
def test_a_save_to_a_file_is_a_parameter_error(what, tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    save, _ = SAVES[what]
    with pytest.raises(gp.ParameterError, match="directory"):
        save(str(f))
    assert f.read_text() == "x"


@pytest.mark.parametrize("what", list(SAVES))
@pytest.mark.parametrize("given", [".", "./", "sub/.."])
def test_a_save_to_the_current_directory_is_a_parameter_error(what, given, tmp_path, monkeypatch):
    """A save replaces its directory by renaming it aside: the current directory could not be (a bare
    OSError: [Errno 16] Device or resource busy: '.' -> '..old-...'), and must not be."""
    save, load = SAVES[what]
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    with pytest.raises(gp.ParameterError, match=rf"directory of its own.*{here}.* is the current directory"):
        save(given)
    assert list(here.iterdir()) == []
    save(str(here / "saved"))
    monkeypatch.chdir(here / "saved")  # inside a previous save: refused as well, and the save kept
    with pytest.raises(gp.ParameterError, match="current directory"):
        save(".")
    load(".")
    assert sorted(p.name for p in here.iterdir()) == ["saved"]
