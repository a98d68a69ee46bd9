"""gp.audit.transfers on the CPU: sharing checked from data_ptr ranges; memcpy parsing of profiler traces."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import gpupipe as gp
from gpupipe.schema import ColumnSchema, Schema
from gpupipe.tensors.audit import _memcpy_events_from_trace

SCHEMA = Schema([ColumnSchema("a", "cont", "float32"), ColumnSchema("b", "cont", "float32"),
                 ColumnSchema("c", "cat", "int64", 10), ColumnSchema("y", "label", "float32")])


def _frame(n=100):
    return pd.DataFrame({"a": np.ones(n, dtype=np.float32), "b": np.arange(n, dtype=np.float64),
                         "c": np.arange(n) % 10, "y": np.zeros(n, dtype=np.int8)})


def test_report_lists_shared_and_copied_columns_with_reasons():
    df = _frame()
    with gp.audit.transfers(cuda=False) as report:
        tt = gp.to_tensors(df, schema=SCHEMA)
    assert sorted(report.shared) == ["a", "c"]
    assert set(report.copied) == {"b", "y"} == set(tt.copies)
    assert "float64" in report.copied["b"] and "int8" in report.copied["y"]
    assert report.h2d_bytes == report.d2h_bytes == 0 and report.device == "cpu"
    host = {e.name: e.bytes for e in report.events if e.kind == "host"}
    assert host == {"b": 400, "y": 400}
    text = str(report)
    assert "zero-copy" in text and "b: float64 → float32" in text


def test_an_empty_frame_copies_nothing_and_the_report_agrees_with_copies():
    with gp.audit.transfers(cuda=False) as report:
        tt = gp.to_tensors(_frame(0), schema=SCHEMA)
    assert set(tt.copies) == {"b", "y"} == set(report.copied)
    assert sorted(report.shared) == ["a", "c"]
    assert {e.name: e.bytes for e in report.events} == {"b": 0, "y": 0}


def test_sharing_is_checked_not_assumed(monkeypatch):
    """A converter that claims zero-copy but returns a copy is reported as copied."""
    from gpupipe.tensors import convert

    real = convert._pandas_buffer

    def lying(series, name, role):
        arr, reasons, source = real(series, name, role)
        return arr.copy(), reasons, source  # a new buffer, with no reason given

    monkeypatch.setattr(convert, "_pandas_buffer", lying)
    with gp.audit.transfers(cuda=False) as report:
        gp.to_tensors(_frame(), schema=Schema([SCHEMA["a"]]))
    assert report.shared == [] and "a" in report.copied


def test_loader_staging_and_gathers_are_counted():
    df = _frame(100)
    with gp.audit.transfers(cuda=False) as report:
        loader = gp.Loader(df, batch_size=30, schema=SCHEMA)
        batches = list(loader)
    staging = [e for e in report.events if e.kind == "staging"]
    # shuffled on the CPU: one matrix of 4-byte row records (2 cont, 1 cat id as int32, the label)
    assert [e.name for e in staging] == ["rows [100, 2+1+1]"]
    assert staging[0].bytes == 100 * 4 * 4
    assert report.gathers == len(batches) == 4
    assert report.gather_bytes == 100 * (2 * 4 + 8 + 4)
    assert "batch gathers: 4" in str(report)


def test_sequential_loader_stages_matrices_and_gathers_nothing():
    df = _frame(100)
    with gp.audit.transfers(cuda=False) as report:
        batches = list(gp.Loader(df, batch_size=30, schema=SCHEMA, shuffle=False))
    staging = [e for e in report.events if e.kind == "staging"]
    assert [e.name for e in staging] == ["cont [100, 2]"]  # one cat column is a view, not a copy
    assert staging[0].bytes == 100 * 2 * 4
    assert report.gathers == 0 and len(batches) == 4  # batches are views


def test_nothing_is_recorded_outside_a_block():
    with gp.audit.transfers(cuda=False) as report:
        pass
    gp.to_tensors(_frame(), schema=SCHEMA)
    assert report.shared == [] and report.events == [] and report.gathers == 0


def test_cuda_requested_without_a_device_says_so():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is usable here; this checks the report on a machine without one")
    with gp.audit.transfers(cuda=True) as report:
        pass
    assert report.method == "registered" and "CUDA" in (report.profiler_error or "")


def test_memcpy_events_are_read_from_a_kineto_trace(tmp_path):
    trace = {"traceEvents": [
        {"ph": "X", "cat": "gpu_memcpy", "name": "Memcpy HtoD (Pinned -> Device)", "args": {"bytes": 4000}},
        {"ph": "X", "cat": "gpu_memcpy", "name": "Memcpy DtoH (Device -> Pageable)", "args": {"bytes": 8}},
        {"ph": "X", "cat": "gpu_memcpy", "name": "Memcpy DtoD (Device -> Device)", "args": {"bytes": 64}},
        {"ph": "X", "cat": "kernel", "name": "void at::native::index_select_kernel", "args": {}},
        {"ph": "X", "cat": "cuda_runtime", "name": "cudaMemcpyAsync", "args": {}},
        {"ph": "X", "cat": "gpu_memset", "name": "Memset (Device)", "args": {"bytes": 16}},
    ]}
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(trace))
    events = _memcpy_events_from_trace(str(path))
    assert [(e.kind, e.bytes) for e in events] == [("h2d", 4000), ("d2h", 8), ("d2d", 64)]


def test_transfers_without_cuda_imports_no_torch():
    import subprocess
    import sys

    code = ("import sys, gpupipe as gp\n"
            "with gp.audit.transfers(cuda=False) as r:\n    pass\n"
            "print('torch' in sys.modules, r.h2d_bytes)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "0"]


def test_synchronize_leaves_a_torch_still_being_imported_alone(monkeypatch):
    import importlib.machinery
    import sys
    import types

    from gpupipe.backend import synchronize

    half = types.ModuleType("torch")  # what another thread's `import torch` leaves in sys.modules midway
    half.__spec__ = importlib.machinery.ModuleSpec("torch", None)
    half.__spec__._initializing = True
    monkeypatch.setitem(sys.modules, "torch", half)
    synchronize()  # no AttributeError on the missing torch.cuda


def test_a_nested_block_closing_leaves_the_enclosing_one_recording():
    """Reports are told apart by identity: an inner block closing with the same (empty) content as the outer one
    removed the outer one, which then missed the rest of its block and failed at its own end."""
    df = _frame()
    with gp.audit.transfers(cuda=False) as outer:
        with gp.audit.transfers(cuda=False) as inner:
            pass
        gp.to_tensors(df, schema=SCHEMA)
        with gp.audit.transfers(cuda=False) as second:
            list(gp.Loader(df, batch_size=30, schema=SCHEMA))
    assert inner.shared == [] and inner.events == []
    assert sorted(outer.shared) == ["a", "a", "c", "c"] and outer.gathers == second.gathers == 4
    assert sorted(second.shared) == ["a", "c"]
    with gp.audit.transfers(cuda=False) as after:
        gp.to_tensors(df, schema=SCHEMA)
    assert sorted(after.shared) == ["a", "c"]


def test_a_block_records_only_the_work_of_its_own_thread():
    """Two threads, one in a block: the other thread's to_tensors and Loader epoch (outside any block) are not its,
    and a block in the other thread records only that thread's work."""
    import threading

    opened, worked, closed = threading.Event(), threading.Event(), threading.Event()
    reports = {}

    def other() -> None:
        with gp.audit.transfers(cuda=False) as report:
            opened.set()
            worked.wait(10)
        reports["idle"] = report
        with gp.audit.transfers(cuda=False) as report:
            gp.to_tensors(_frame(), schema=SCHEMA)
            closed.wait(10)
        reports["own"] = report

    t = threading.Thread(target=other)
    t.start()
    assert opened.wait(10)
    gp.to_tensors(_frame(), schema=SCHEMA)
    list(gp.Loader(_frame(100), batch_size=30, schema=SCHEMA))
    worked.set()
    with gp.audit.transfers(cuda=False) as mine:
        list(gp.Loader(_frame(100), batch_size=30, schema=SCHEMA))
    closed.set()
    t.join(10)
    idle, own = reports["idle"], reports["own"]
    assert idle.shared == [] and idle.copied == {} and idle.events == [] and idle.gathers == 0
    assert sorted(own.shared) == ["a", "c"] and own.gathers == 0
    assert mine.gathers == 4 and [e.kind for e in mine.events] == ["host", "host", "staging"]


def test_gathers_are_the_batches_delivered_inside_the_block(monkeypatch):
    """A Loader's helper thread gathers batches ahead of the consumer: a block around part of an epoch counts the
    batches the consumer took inside it, not those gathered ahead meanwhile (here all of the helper's share, before
    the block closes), and two blocks over the two halves of an epoch count every batch once."""
    import threading

    from gpupipe.tensors import loader as L

    real = L._Records.gather
    helper_done = threading.Event()
    gathered = []

    def gather(self, idx, *args, **kwargs):
        out = real(self, idx, *args, **kwargs)
        if threading.current_thread().name.startswith("gpupipe-gather"):
            gathered.append(len(idx))
            if len(gathered) == 5:  # every batch of the helper's share: 1, 3, 5, 7, 9
                helper_done.set()
        return out

    monkeypatch.setattr(L._Records, "gather", gather)
    loader = gp.Loader(_frame(100), batch_size=10, schema=SCHEMA, workers=1)
    it = iter(loader)
    with gp.audit.transfers(cuda=False) as first:
        taken = [next(it), next(it)]
        assert helper_done.wait(10)
    with gp.audit.transfers(cuda=False) as second:
        taken += list(it)
    assert len(taken) == 10
    assert (first.gathers, second.gathers) == (2, 8)
    assert first.gather_bytes == 2 * 10 * (2 * 4 + 8 + 4)


def test_a_dataset_loader_records_the_partitions_staged_in_its_background_thread():
    ds = gp.Dataset(_frame(100), partition_rows=40)
    with gp.audit.transfers(cuda=False) as report:
        batches = list(gp.Loader(ds, batch_size=30, schema=SCHEMA))
    staging = [e.name for e in report.events if e.kind == "staging"]
    assert sorted(staging) == ["rows [20, 2+1+1]", "rows [40, 2+1+1]", "rows [40, 2+1+1]"]
    assert report.gathers == 5 and sum(len(b) for b in batches) == 100
