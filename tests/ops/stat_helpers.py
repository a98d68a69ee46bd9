"""Helpers for the statistic-op tests: a partitioned stand-in for gp.Dataset and a save round trip."""

from __future__ import annotations

import itertools
import os
import tempfile
from typing import Any

import gpupipe as gp


class Partitioned:
    """The part of gp.Dataset that StatOp.fit uses: ``map_partials`` over row slices of a frame."""

    def __init__(self, frame: Any, cuts: list[int]) -> None:
        bounds = [0, *sorted(set(cuts)), len(frame)]
        self.parts = [frame.iloc[a:b] for a, b in itertools.pairwise(bounds) if b > a]

    def map_partials(self, fn: Any) -> list[Any]:
        return [fn(p) for p in self.parts]


def save_load(op: Any, fresh: Any) -> Any:
    """to_state → JSON-able check → artifacts through parquet → load_state on ``fresh``."""
    import json

    import pandas as pd

    state, artifacts = op.to_state()
    state = json.loads(json.dumps(state))
    loaded = {}
    with tempfile.TemporaryDirectory() as d:
        for name, frame in artifacts.items():
            path = os.path.join(d, f"{name}.parquet")
            gp.to_arrow(frame)  # artifacts must be Arrow-convertible
            pd.DataFrame(gp.to_pandas(frame)).to_parquet(path)
            with gp.use_backend("pandas"):  # load_state receives pandas frames, read as gpupipe reads
                loaded[name] = gp.read_parquet(path)
    fresh.load_state(state, loaded)
    return fresh
