"""The statistic ops inside gp.Workflow: Dataset fits equal in-memory fits, save/load, output schema."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import gpupipe as gp
from gpupipe import ops


def _data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "shop": pd.array([f"s{v}" for v in rng.integers(0, 12, n)], dtype="str"),
        "item": pd.array(rng.integers(0, 40, n), dtype="Int32"),
        "price": rng.normal(10, 2, n),
        "y": rng.integers(0, 2, n).astype("int8"),
    })


def _workflow():
    return gp.Workflow(
        ["shop", "item"] >> ops.Categorify(freq_threshold=2, num_oov_buckets=2),
        ["item"] >> ops.Rename(postfix="_h") >> ops.HashBucket(16),
        ["shop"] >> ops.TargetEncoding("y", smoothing=5),
        ["shop"] >> ops.JoinGroupby(["price"], stats=("count", "mean", "std")),
        ["price"] >> ops.Bucketize([8, 10, 12]),
        label="y",
    )


@pytest.mark.distributed
def test_dataset_fit_equals_frame_fit(backend, tmp_path):
    df = gp.from_pandas(_data())
    in_memory = _workflow().fit(df)
    partitioned = _workflow().fit(gp.Dataset(df, partition_rows=97))
    a, b = in_memory.transform(df), partitioned.transform(df)
    pd.testing.assert_frame_equal(gp.to_pandas(a), gp.to_pandas(b), rtol=1e-5)
    assert in_memory.output_schema == partitioned.output_schema


def test_save_load_and_schema(backend, tmp_path):
    df = gp.from_pandas(_data())
    wf = _workflow().fit(df)
    wf.save(tmp_path / "wf")
    loaded = gp.Workflow.load(tmp_path / "wf")
    pd.testing.assert_frame_equal(gp.to_pandas(wf.transform(df)), gp.to_pandas(loaded.transform(df)))
    schema = wf.output_schema
    cat_op = wf.nodes[0].ops[0] if hasattr(wf, "nodes") else None
    if cat_op is not None:
        assert schema["shop"].cardinality == cat_op.cardinality("shop")
    assert schema["item_h"].cardinality == 16
    assert schema["item"].role == "cat" and schema["TE_shop_y"].role == "cont"
    assert schema["price"].cardinality == 5


def test_workflow_fit_transform_uses_out_of_fold_encodings(backend):
    df = gp.from_pandas(_data())
    wf = gp.Workflow(["shop"] >> ops.TargetEncoding("y", smoothing=5, kfold=4), label="y")
    train = gp.to_pandas(wf.fit_transform(df))["TE_shop_y"].to_numpy()
    direct = ops.TargetEncoding("y", smoothing=5, kfold=4).fit_transform(df, ["shop"])
    np.testing.assert_allclose(train, gp.to_pandas(direct)["TE_shop_y"].to_numpy())
    assert not np.allclose(train, gp.to_pandas(wf.transform(df))["TE_shop_y"].to_numpy())
