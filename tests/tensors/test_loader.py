"""Loader semantics checked against torch's DataLoader and DistributedSampler."""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

import gpupipe as gp
from gpupipe.schema import ColumnSchema, Schema

SCHEMA = Schema([
    ColumnSchema("rid", "cont", "float32"),
    ColumnSchema("x", "cont", "float32"),
    ColumnSchema("c1", "cat", "int64", 1000),
    ColumnSchema("c2", "cat", "int64", 1000),
    ColumnSchema("y", "label", "float32"),
])


def _frame(n: int, offset: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(n + offset)
    rid = np.arange(offset, offset + n)
    return pd.DataFrame({
        "rid": rid.astype(np.float32),  # row id, to check coverage
        "x": rng.random(n, dtype=np.float32),
        "c1": rid % 1000,
        "c2": rng.integers(0, 1000, n),
        "y": (rid % 2).astype(np.float32),
    })


def _torch_reference(df, batch_size, shuffle, seed, drop_last, rank, world_size, epoch):
    """Batches torch itself makes from the same data: TensorDataset + DistributedSampler + DataLoader."""
    ds = TensorDataset(torch.tensor(df[["rid", "x"]].to_numpy()), torch.tensor(df[["c1", "c2"]].to_numpy()),
                       torch.tensor(df["y"].to_numpy()))
    sampler = DistributedSampler(ds, num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed)
    sampler.set_epoch(epoch)
    return list(DataLoader(ds, batch_size=batch_size, sampler=sampler, drop_last=drop_last))


@pytest.mark.parametrize(
    ("n", "batch_size", "shuffle", "drop_last", "world_size"),
    [(103, 10, True, False, 1), (103, 10, True, True, 1), (100, 10, False, False, 1), (103, 7, False, True, 1),
     (103, 8, True, False, 3), (103, 8, True, True, 3), (101, 16, False, False, 4), (5, 8, True, False, 1),
     (3, 2, True, False, 4)],
)
def test_batches_equal_torch_dataloader_with_distributed_sampler(n, batch_size, shuffle, drop_last, world_size):
    df = _frame(n)
    for rank, epoch in itertools.product(range(world_size), (0, 3)):
        loader = gp.Loader(df, batch_size=batch_size, shuffle=shuffle, seed=7, drop_last=drop_last, schema=SCHEMA,
                           rank=rank, world_size=world_size)
        loader.set_epoch(epoch)
        ours = list(loader)
        ref = _torch_reference(df, batch_size, shuffle, 7, drop_last, rank, world_size, epoch)
        assert len(loader) == len(ours) == len(ref)
        for b, (cont, cat, label) in zip(ours, ref, strict=True):
            torch.testing.assert_close(b.cont, cont.float())
            torch.testing.assert_close(b.cat, cat)
            torch.testing.assert_close(b.label, label.float())


def test_unshuffled_single_process_order_equals_plain_dataloader():
    df = _frame(50)
    ds = TensorDataset(torch.tensor(df[["rid", "x"]].to_numpy()))
    ref = list(DataLoader(ds, batch_size=16, shuffle=False))
    ours = list(gp.Loader(df, batch_size=16, shuffle=False, schema=SCHEMA))
    assert [len(b) for b in ours] == [len(r[0]) for r in ref] == [16, 16, 16, 2]
    for b, (cont,) in zip(ours, ref, strict=True):
        torch.testing.assert_close(b.cont, cont)


def _row_ids(loader) -> list[int]:
    return [int(v) for b in loader for v in b.cont[:, 0].tolist()]


def test_each_epoch_covers_every_row_once_and_reshuffles():
    df = _frame(1000)
    loader = gp.Loader(df, batch_size=64, seed=3, schema=SCHEMA)
    first, second = _row_ids(loader), _row_ids(loader)
    assert sorted(first) == sorted(second) == list(range(1000))
    assert first != second  # the epoch advanced, so did the order
    loader.set_epoch(0)
    assert _row_ids(loader) == first
    assert _row_ids(gp.Loader(df, batch_size=64, seed=3, schema=SCHEMA)) == first  # reproducible
    assert _row_ids(gp.Loader(df, batch_size=64, seed=4, schema=SCHEMA)) != first


def test_rows_and_features_stay_together():
    df = _frame(300)
    for b in gp.Loader(df, batch_size=32, seed=1, schema=SCHEMA):
        rid = b.cont[:, 0].long().numpy()
        np.testing.assert_array_equal(b.cont[:, 1].numpy(), df["x"].to_numpy()[rid])
        np.testing.assert_array_equal(b.cat.numpy(), df[["c1", "c2"]].to_numpy()[rid])
        np.testing.assert_array_equal(b.label.numpy(), df["y"].to_numpy()[rid])


@pytest.mark.parametrize("world_size", [2, 3, 7])
def test_shards_are_disjoint_and_cover_the_data(world_size):
    n = 1000
    df = _frame(n)
    shards = [_row_ids(gp.Loader(df, batch_size=50, seed=0, schema=SCHEMA, rank=r, world_size=world_size))
              for r in range(world_size)]
    per_rank = -(-n // world_size)
    assert all(len(s) == per_rank for s in shards)
    together = [i for s in shards for i in s]
    assert set(together) == set(range(n))
    assert len(together) - len(set(together)) == per_rank * world_size - n  # only DistributedSampler's padding repeats


def test_batch_layout_dtypes_and_empty_groups():
    df = _frame(20)
    b = next(iter(gp.Loader(df, batch_size=8, schema=SCHEMA)))
    assert b.cont.shape == (8, 2) and b.cont.dtype == torch.float32
    assert b.cat.shape == (8, 2) and b.cat.dtype == torch.int64
    assert b.label.shape == (8,) and b.label.dtype == torch.float32
    cont, cat, label = b
    assert cont is b.cont and cat is b.cat and label is b.label and len(b) == 8
    only_cat = Schema([ColumnSchema("c1", "cat", "int64", 1000)])
    b = next(iter(gp.Loader(df, batch_size=8, schema=only_cat)))
    assert b.cont.shape == (8, 0) and b.cont.dtype == torch.float32 and b.cat.shape == (8, 1) and b.label is None


def test_attributes_and_table_input():
    df = _frame(30)
    tt = gp.to_tensors(df, schema=SCHEMA)
    loader = gp.Loader(tt, batch_size=10)
    assert loader.schema == SCHEMA and loader.device.type == "cpu" and loader.num_rows == 30
    assert loader.batch_size == 10 and len(loader) == 3
    sub = Schema([SCHEMA["x"], SCHEMA["y"]])
    b = next(iter(gp.Loader(tt, batch_size=10, schema=sub)))
    assert b.cont.shape == (10, 1) and b.cat.shape == (10, 0)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, None])
def test_bad_batch_size_is_value_error(bad):
    with pytest.raises(ValueError, match="batch_size"):
        gp.Loader(_frame(10), batch_size=bad, schema=SCHEMA)


@pytest.mark.parametrize(("rank", "world_size"), [(2, 2), (-1, 2), (0, 0)])
def test_bad_rank_or_world_size_is_value_error(rank, world_size):
    with pytest.raises(ValueError, match=r"rank|world_size"):
        gp.Loader(_frame(10), batch_size=2, schema=SCHEMA, rank=rank, world_size=world_size)


def test_empty_data_is_a_data_error():
    with pytest.raises(gp.DataError, match="no rows"):
        gp.Loader(_frame(0), batch_size=2, schema=SCHEMA)


def test_label_nan_is_caught_when_the_loader_is_built():
    df = _frame(10)
    df.loc[4, "y"] = np.nan
    with pytest.raises(gp.DataError, match="'y'"):
        gp.Loader(df, batch_size=2, schema=SCHEMA)


# -- datasets (a stand-in with gp.Dataset's streaming interface) ----------------------------------
class StandInDataset:
    """``iter_partitions()`` and ``num_partitions`` like gp.Dataset; records which thread computed what."""

    def __init__(self, sizes, random_access=True):
        offsets = np.cumsum([0, *sizes])
        self.parts = [_frame(n, int(o)) for n, o in zip(sizes, offsets, strict=False)]
        self.num_partitions = len(sizes)
        self.threads: list[str] = []
        self.requested: list[int] = []
        if not random_access:
            self.get_partition = None

    def iter_partitions(self):
        for i, p in enumerate(self.parts):
            self.threads.append(threading.current_thread().name)
            self.requested.append(i)
            yield p

    def get_partition(self, i):  # replaced by None in instances that model sequential-only datasets
        self.threads.append(threading.current_thread().name)
        self.requested.append(i)
        return self.parts[i]


def _dataset_loader(ds, **kw):
    return gp.Loader(ds, schema=SCHEMA, **kw)


@pytest.mark.parametrize("random_access", [True, False])
def test_dataset_epoch_covers_every_row_in_full_batches(random_access):
    sizes = [37, 0, 90, 5, 64]
    ds = StandInDataset(sizes, random_access=random_access)
    loader = _dataset_loader(ds, batch_size=16, seed=2)
    batches = list(loader)
    assert [len(b) for b in batches[:-1]] == [16] * (len(batches) - 1)  # full across partition boundaries
    ids = _row_ids(batches)
    assert sorted(ids) == list(range(sum(sizes)))
    assert len(loader) == len(batches) == -(-sum(sizes) // 16)
    assert all(name.startswith("gpupipe-loader") for name in ds.threads)  # prepared in the background thread
    again = _row_ids(loader)
    assert sorted(again) == sorted(ids) and again != ids


def test_dataset_partition_order_is_shuffled_per_epoch_and_reproducible():
    ds = StandInDataset([10] * 8)
    loader = _dataset_loader(ds, batch_size=10, seed=5)
    list(loader)
    first = ds.requested[:]
    ds.requested.clear()
    list(loader)
    assert sorted(first) == list(range(8)) and ds.requested != first
    ds2 = StandInDataset([10] * 8)
    list(_dataset_loader(ds2, batch_size=10, seed=5))
    assert ds2.requested == first


def test_dataset_unshuffled_is_in_order_and_drop_last_drops_the_tail():
    ds = StandInDataset([30, 25])
    ids = _row_ids(_dataset_loader(ds, batch_size=20, shuffle=False))
    assert ids == list(range(55))
    batches = list(_dataset_loader(StandInDataset([30, 25]), batch_size=20, shuffle=False, drop_last=True))
    assert [len(b) for b in batches] == [20, 20]


def test_dataset_shards_are_disjoint_and_cover():
    sizes = [33, 20, 47]
    shards = [_row_ids(_dataset_loader(StandInDataset(sizes), batch_size=8, rank=r, world_size=3)) for r in range(3)]
    assert len({len(s) for s in shards}) == 1
    together = [i for s in shards for i in s]
    assert set(together) == set(range(sum(sizes)))
    assert len(together) - len(set(together)) == -(-100 // 3) * 3 - 100  # DistributedSampler's padding: 2 rows


@pytest.mark.parametrize("sizes", [[1] * 10, [5, 5], [3, 0, 1, 40, 2, 1], [1, 1, 1], [0, 7]])
@pytest.mark.parametrize(("world_size", "batch_size", "shuffle", "drop_last"),
                         [(2, 4, True, False), (2, 3, False, True), (3, 1, True, False), (8, 2, True, True),
                          (4, 5, False, False)])
def test_dataset_shards_are_distributed_samplers_split_of_the_epoch(sizes, world_size, batch_size, shuffle, drop_last):
    # The epoch's row order (partitions in their shuffled order, rows shuffled within each) split by torch's
    # DistributedSampler: padded once, by repeating the epoch's head, not once per partition (ten one-row
    # partitions gave every row twice over two ranks, and three one-row partitions each row 8 times over 8).
    n = sum(sizes)
    order = _row_ids(_dataset_loader(StandInDataset(sizes), batch_size=1000, shuffle=shuffle, seed=4, workers=0))
    assert sorted(order) == list(range(n))
    together = []
    for rank in range(world_size):
        loader = _dataset_loader(StandInDataset(sizes), batch_size=batch_size, shuffle=shuffle, seed=4,
                                 drop_last=drop_last, rank=rank, world_size=world_size)
        batches = list(loader)
        sampler = DistributedSampler(range(n), num_replicas=world_size, rank=rank, shuffle=False)
        ref = [[order[i] for i in b.tolist()] for b in DataLoader(list(sampler), batch_size=batch_size,
                                                                  drop_last=drop_last)]
        assert [b.cont[:, 0].to(torch.int64).tolist() for b in batches] == ref
        assert [b.label.tolist() for b in batches] == [[float(i % 2) for i in b] for b in ref]
        assert len(loader) == len(ref)
        if not shuffle:  # the in-memory Loader's shard of the same rows
            whole = pd.concat(StandInDataset(sizes).parts, ignore_index=True)
            assert _batch_ids(gp.Loader(whole, batch_size=batch_size, shuffle=False, drop_last=drop_last,
                                         schema=SCHEMA, rank=rank, world_size=world_size)) == ref
        together += [i for b in ref for i in b] if not drop_last else []
    if not drop_last:
        assert sorted(set(together)) == list(range(n)) and len(together) == -(-n // world_size) * world_size


def _batch_ids(loader) -> list[list[int]]:
    return [b.cont[:, 0].to(torch.int64).tolist() for b in loader]


def test_dataset_length_unknown_until_read_once():
    ds = StandInDataset([10, 10])
    loader = _dataset_loader(ds, batch_size=4, world_size=2, rank=0)
    with pytest.raises(TypeError, match="read once"):
        len(loader)
    n = len(list(loader))
    assert len(loader) == n and loader.num_rows == 20


def test_dataset_errors_surface_from_the_background_thread():
    ds = StandInDataset([10, 10])
    ds.parts[1] = ds.parts[1].assign(y=np.nan)
    with pytest.raises(gp.DataError, match="'y'"):
        list(_dataset_loader(ds, batch_size=4, shuffle=False))


def test_dataset_schema_is_inferred_from_every_partition():
    ds = StandInDataset([10, 30, 0, 25])
    loader = gp.Loader(ds, batch_size=4, label="y")
    whole = pd.concat(ds.parts, ignore_index=True)
    assert loader.schema == gp.Schema.infer(whole, label="y")  # what the frame of all rows infers
    assert loader.schema.cat == ["c1", "c2"] and loader.schema.cardinalities["c1"] == 65
    assert len(loader) == 17 and loader.num_rows == 65  # the sizes come from the same pass
    assert sorted(_row_ids(loader)) == list(range(65))


def test_a_gp_dataset_without_a_schema_gets_the_cardinalities_of_all_partitions():
    # ids grow partition by partition: the first partition alone says cardinality 2, and ids 2..9 would fail
    pytest.importorskip("dask")
    n = 100
    df = pd.DataFrame({"x": np.arange(n, dtype="float32"), "c": np.arange(n) // 10,
                       "y": (np.arange(n) % 2).astype("float32")})
    with gp.use_backend("pandas"):
        ds = gp.Dataset(df, partition_rows=20)
    loader = gp.Loader(ds, batch_size=16, shuffle=False, label="y")
    assert loader.schema == gp.Loader(df, batch_size=16, label="y").schema  # the frame path's: c has 10 ids
    assert loader.schema.cardinalities == {"c": 10} and len(loader) == 7
    batches = list(loader)
    ref = list(DataLoader(TensorDataset(torch.tensor(df[["x"]].to_numpy()), torch.tensor(df[["c"]].to_numpy()),
                                        torch.tensor(df["y"].to_numpy())), batch_size=16))
    assert [len(b) for b in batches] == [len(r[0]) for r in ref]
    for got, (cont, cat, label) in zip(batches, ref, strict=True):
        assert torch.equal(got.cont, cont) and torch.equal(got.cat, cat) and torch.equal(got.label, label)
    model = gp.models.TabularMLP.from_schema(loader.schema, hidden=(4,))
    assert gp.train(model, loader, epochs=1, progress=False).history[0]["rows"] == n


def test_a_dataset_whose_partitions_disagree_on_a_role_asks_for_the_schema():
    ds = StandInDataset([10, 10])
    ds.parts[1] = ds.parts[1].assign(c2=ds.parts[1]["c2"].astype("float64"))  # cat in one, cont in the other
    with pytest.raises(gp.SchemaError, match=r"'c2': cat \(int64\) in partition 0, cont \(float64\) in partition 1"
                                             r".*schema=wf.output_schema"):
        gp.Loader(ds, batch_size=4, label="y")


def test_a_real_gp_dataset_streams_shuffled_partitions():
    pytest.importorskip("dask")
    df = _frame(250)
    with gp.use_backend("pandas"):
        ds = gp.Dataset(df, partition_rows=60)
    loader = gp.Loader(ds, batch_size=32, seed=1, schema=SCHEMA)
    assert len(loader) == 8 and loader.num_rows == 250 and loader.device.type == "cpu"
    first = list(loader)
    ids = _row_ids(first)
    assert sorted(ids) == list(range(250)) and [len(b) for b in first[:-1]] == [32] * 7
    # partitions come in a shuffled order: the first batch's rows do not all come from partition 0
    assert ids != sorted(ids)
    assert _row_ids(loader) != ids


def test_gather_threads_keep_the_order_and_leave_torch_threads_alone():
    df = _frame(2000)
    threads = torch.get_num_threads()
    runs = [[b.cont for b in gp.Loader(df, batch_size=64, seed=9, schema=SCHEMA, workers=w)] for w in (0, 1, 3)]
    for other in runs[1:]:
        assert len(other) == len(runs[0])
        for a, b in zip(runs[0], other, strict=True):
            torch.testing.assert_close(a, b)
    assert torch.get_num_threads() == threads
    with pytest.raises(ValueError, match="workers"):
        gp.Loader(df, batch_size=64, schema=SCHEMA, workers=-1)


def test_gather_threads_do_not_change_the_thread_count_of_the_process():
    # torch.set_num_threads in any thread sets the count that every thread which has not used torch's
    # pool yet picks up (the main thread of a fresh process, a thread started later): gathers must not call it.
    import os
    import subprocess
    import sys

    code = """
import threading
import numpy as np, pandas as pd, torch, gpupipe as gp
df = pd.DataFrame({"x": np.arange(5000, dtype="float32"), "c": np.arange(5000) % 7, "y": np.zeros(5000, "float32")})
loader = gp.Loader(df, batch_size=64, schema=gp.Schema.infer(df, label="y"), workers=2)
for _ in loader:
    pass
later = []
t = threading.Thread(target=lambda: later.append(torch.get_num_threads()))
t.start(); t.join()
print(torch.get_num_threads(), later[0])
"""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    env["OMP_NUM_THREADS"] = "2"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == ["2", "2"]


@pytest.mark.parametrize("big", [2**31 - 1, 2**31, 2**32 + 5])
def test_ids_beyond_int32_are_gathered_exactly(big):
    # CPU shuffled batches come from 4-byte row records (ids as int32) when every id fits; otherwise
    # from the int64 matrices: either way the batches hold the ids as they are.
    schema = Schema([c if c.name != "c2" else ColumnSchema("c2", "cat", "int64", 2**33) for c in SCHEMA])
    df = _frame(300)
    df.loc[7, "c2"] = big
    for frame in (_frame(300), df):
        ref = _torch_reference(frame, 64, True, 3, False, 0, 1, 0)
        got = list(gp.Loader(frame, batch_size=64, seed=3, schema=schema))
        assert len(got) == len(ref)
        for b, (cont, cat, label) in zip(got, ref, strict=True):
            assert torch.equal(b.cont, cont) and torch.equal(b.cat, cat) and torch.equal(b.label, label)
            assert b.cat.dtype == torch.int64 and b.cont.is_contiguous() and b.cat.is_contiguous()


@pytest.mark.parametrize("workers", [1, 2])
def test_gather_errors_come_in_batch_order_and_helpers_stop(monkeypatch, workers):
    import gpupipe.tensors.loader as loader_mod

    df = _frame(1000)
    loader = gp.Loader(df, batch_size=64, seed=5, schema=SCHEMA, workers=workers)
    bad_first = int(loader_mod.epoch_indices(1000, epoch=0, seed=5, shuffle=True)[3 * 64])
    real = loader_mod._Records.gather

    def failing(self, idx, *args, **kwargs):
        if int(idx[0]) == bad_first:
            raise RuntimeError("batch 3 failed")
        return real(self, idx, *args, **kwargs)

    monkeypatch.setattr(loader_mod._Records, "gather", failing)
    got = []
    with pytest.raises(RuntimeError, match="batch 3 failed"):
        for b in loader:
            got.append(b)
    assert len(got) == 3
    for _b in itertools.islice(loader, 2):  # an abandoned epoch: its helpers are joined when it is closed
        pass
    assert not [t for t in threading.enumerate() if t.name.startswith("gpupipe-gather")]


def test_a_tensor_table_is_checked_against_its_schema_as_a_frame_is():
    """A TensorTable reaches the Loader without to_tensors' checks (built by hand, or given another schema):
    ids past a cardinality, dtypes other than its role's and a NaN label are refused before any batch."""
    import torch

    n = 10
    df = pd.DataFrame({"x": np.arange(n, dtype="float32"), "c": np.arange(n) % 5, "y": (np.arange(n) % 2).astype("float32")})
    with gp.use_backend("pandas"):
        schema = gp.Schema.infer(df, label="y", cat=["c"])
        tt = gp.to_tensors(df, schema=schema)
        assert len(list(gp.Loader(tt, batch_size=4, shuffle=False))) == 3  # what to_tensors made passes
        small = gp.Schema([gp.ColumnSchema("x", "cont", "float32"), gp.ColumnSchema("c", "cat", "int64", 3),
                           gp.ColumnSchema("y", "label", "float32")])
        with pytest.raises(gp.DataError, match=r"'c' has ids in \[0, 4\] but the schema allows \[0, 3\)"):
            gp.Loader(tt, batch_size=4, schema=small)
        by_hand = gp.TensorTable({"x": torch.arange(n, dtype=torch.float64), "c": torch.arange(n) % 5,
                                  "y": torch.zeros(n)}, schema)
        with pytest.raises(gp.SchemaError, match=r"'x' is torch.float64 but its schema makes it cont"):
            gp.Loader(by_hand, batch_size=4)
        nan_label = gp.TensorTable({"x": torch.zeros(n), "c": torch.arange(n) % 5,
                                    "y": torch.full((n,), float("nan"))}, schema)
        with pytest.raises(gp.DataError, match="label column 'y' has 10 NaN"):
            gp.Loader(nan_label, batch_size=4)


def test_a_partitions_error_names_the_partition():
    """A DataError raised while a background thread prepares a partition names it: its row numbers count within
    that partition, not the dataset."""
    ds = StandInDataset([10, 10, 10])
    ds.parts[2] = ds.parts[2].assign(y=np.where(np.arange(10) == 3, np.nan, 1.0).astype(np.float32))
    with pytest.raises(gp.DataError, match=r"partition 2 of the dataset: label column 'y' .*first at row 3"):
        list(_dataset_loader(ds, batch_size=4, shuffle=False))


@pytest.mark.parametrize("bad", [-1, 2.5, None, "3", True])
def test_set_epoch_takes_a_non_negative_integer(bad):
    """set_epoch refuses what would be truncated (2.5), parsed ("3") or crash later in the partition thread (-1)."""
    loader = _dataset_loader(StandInDataset([5, 5]), batch_size=4)
    with pytest.raises(gp.ParameterError, match="set_epoch: epoch"):
        loader.set_epoch(bad)
    assert loader.epoch == 0
    loader.set_epoch(np.int64(3))
    assert loader.epoch == 3 and type(loader.epoch) is int


def test_an_abandoned_iterator_collected_in_a_gather_thread_closes_cleanly(monkeypatch):
    """The garbage collector runs in whichever thread allocates: an abandoned iterator held in a reference cycle
    may be closed in one of its own gather threads, which must then not try to join itself."""
    import gc
    import sys

    import gpupipe.tensors.loader as loader_mod

    real = loader_mod._Records.gather
    ready, collected = threading.Event(), threading.Event()

    def gather(self, idx, *args, **kwargs):
        if threading.current_thread().name.startswith("gpupipe-gather") and not collected.is_set():
            ready.wait(5)
            gc.collect()  # what an allocation in this thread may trigger
            collected.set()
        return real(self, idx, *args, **kwargs)

    raised = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: raised.append(u.exc_value))
    monkeypatch.setattr(loader_mod._Records, "gather", gather)
    it = iter(gp.Loader(_frame(1000), batch_size=64, schema=SCHEMA, workers=1))
    next(it)
    enabled = gc.isenabled()
    gc.disable()  # so that only the gather thread collects the cycle
    try:
        cycle = [it]
        cycle.append(cycle)
        del it, cycle
        ready.set()
        assert collected.wait(5)
    finally:
        if enabled:
            gc.enable()
    for t in [t for t in threading.enumerate() if t.name.startswith("gpupipe-gather")]:
        t.join(5)
    assert not [t for t in threading.enumerate() if t.name.startswith("gpupipe-gather")]
    assert raised == []


def test_two_threads_starting_epochs_at_once_get_one_each():
    """iter() read the epoch and advanced it in two steps: two threads starting an epoch together could both read
    the same epoch and get the same order. The advance is forced slow here so that the other thread's iter()
    comes between the two steps."""
    import time

    class SlowEpoch(int):
        def __add__(self, other):
            time.sleep(0.3)  # the other thread's iter() runs meanwhile
            return int(self) + other

    df = _frame(500)
    loader = gp.Loader(df, batch_size=50, seed=3, schema=SCHEMA)
    expected = {e: [b.cont[:, 0].tolist() for b in gp.Loader(df, batch_size=50, seed=3, schema=SCHEMA)._iter_table(
        loader._staged, e)] for e in (0, 1)}
    loader.epoch = SlowEpoch(0)
    started = []
    other = threading.Thread(target=lambda: started.append(iter(loader)))
    other.start()
    time.sleep(0.05)
    mine = iter(loader)
    other.join()
    orders = sorted([[b.cont[:, 0].tolist() for b in it] for it in (mine, started[0])])
    assert orders == sorted([expected[0], expected[1]])
    assert loader.epoch == 2


def test_a_gp_dataset_partitions_error_names_its_file_and_rows(tmp_path):
    """The Loader named a gp.Dataset's partition by its number only, where the Dataset's own errors give its file
    and rows."""
    df = _frame(30)
    df.loc[23, "y"] = np.nan
    df.to_parquet(tmp_path / "d.parquet", row_group_size=10)
    ds = gp.Dataset(str(tmp_path / "d.parquet"), partition_rows=10)
    with pytest.raises(gp.DataError, match=r"^partition 2 of the dataset \(rows 20 to 29 of .*d\.parquet\): label "
                                           r"column 'y' .*\(first at row 3\).*\(rows counted from the partition's first row\)"):
        list(gp.Loader(ds, batch_size=4, shuffle=False, schema=SCHEMA))
