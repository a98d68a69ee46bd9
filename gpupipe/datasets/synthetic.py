"""Deterministic synthetic data: a Criteo-shaped click log of any size."""

from __future__ import annotations

import os
from typing import Any

from ..backend import get_backend
from ._memory import check_rows_fit

__all__ = ["CRITEO_CARDINALITIES", "criteo", "criteo_arrow"]

N_COUNTS, N_CATS = 13, 26
# Vocabulary sizes of C1..C26, log-spaced from 10 to 1e6 as in the real log's spread.
CRITEO_CARDINALITIES = tuple(round(10 * (1e5 ** (i / (N_CATS - 1)))) for i in range(N_CATS))
_COUNT_NULL_RATE, _CAT_NULL_RATE = 0.20, 0.05
_GOLDEN = 2654435761  # odd, so rank -> id is a bijection modulo 2**31
#: bytes a row of the generated table takes: label int8, 39 int32 columns and their validity bits
_BYTES_PER_ROW = 1 + (N_COUNTS + N_CATS) * 4 + (N_COUNTS + N_CATS) / 8


def _masked(values: Any, null: Any) -> Any:
    """Arrow array from values and a boolean null mask (packing the validity bitmap directly:
    ``pa.array(values, mask=...)`` is ~100x slower)."""
    import numpy as np
    import pyarrow as pa

    validity = pa.py_buffer(np.packbits(~null, bitorder="little"))
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values), [validity, pa.py_buffer(values)])


def _count_column(n: int, seed: int, i: int) -> tuple[Any, Any, Any]:
    import numpy as np

    rng = np.random.default_rng([seed, 1, i])
    # Heavy-tailed counts: lognormal with a per-column scale, floored to integers.
    # (float32 exp of a float32 normal: 5x faster than Generator.lognormal, same distribution)
    normal = rng.standard_normal(n, dtype=np.float32)
    vals = np.floor(np.exp(np.float32(0.5 + 0.35 * i) + np.float32(1.2 + 0.05 * i) * normal))
    if i == 1:  # like Criteo's I2, a few -1 values that a Clip(0) must handle
        vals[rng.random(n, dtype=np.float32) < 0.02] = -1
    vals = vals.astype(np.int32)
    null = rng.random(n, dtype=np.float32) < _COUNT_NULL_RATE
    contrib = None
    if i < 4:
        z = np.log1p(np.maximum(vals, 0, dtype=np.float32))
        contrib = np.float32(0.35 - 0.15 * i) * (z - z.mean()) / (z.std() + np.float32(1e-9)) * ~null
    return _masked(vals, null), contrib, None


def _cat_column(n: int, seed: int, j: int, card: int) -> tuple[Any, Any, Any]:
    import numpy as np

    rng = np.random.default_rng([seed, 2, j])
    # Zipf(1) over ranks 1..card: P(rank <= k) = log(k + 1) / log(card + 1), so rank = floor((card + 1) ** u)
    # (floor(card ** u) never reached rank card: C1 held 9 distinct ids of its 10)
    u = rng.random(n, dtype=np.float32)
    rank = np.minimum(np.exp(u * np.float32(np.log(card + 1))), card).astype(np.int64)
    null = rng.random(n, dtype=np.float32) < _CAT_NULL_RATE
    contrib = None
    if j < 6:
        effect = ((rank * 0x9E3779B1 + j) & 1023).astype(np.float32) / np.float32(1024.0) - np.float32(0.5)
        contrib = np.float32(0.9 - 0.12 * j) * effect * ~null
    ids = ((rank * _GOLDEN + 7919 * j) & 0x7FFFFFFF).astype(np.int32)
    return _masked(ids, null), contrib, None


def criteo_arrow(rows: int, seed: int = 0) -> Any:
    """The synthetic click log as a ``pyarrow.Table`` (see :func:`criteo`)."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    import pyarrow as pa

    from .. import _validate as V

    n = V.integer(rows, "rows", "gp.datasets.criteo", min_value=1)
    seed = V.seed(seed, "gp.datasets.criteo")
    check_rows_fit("gp.datasets.criteo", n, _BYTES_PER_ROW)
    jobs = [(f"I{i + 1}", _count_column, (n, seed, i)) for i in range(N_COUNTS)]
    jobs += [(f"C{j + 1}", _cat_column, (n, seed, j, card)) for j, card in enumerate(CRITEO_CARDINALITIES)]
    # Each column has its own seeded generator, so threads (NumPy releases the GIL) change nothing.
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        results = list(pool.map(lambda job: job[1](*job[2]), jobs))
    logit = np.full(n, -1.25, dtype=np.float32)
    for _, contrib, _ in results:
        if contrib is not None:
            logit += contrib
    rng = np.random.default_rng([seed, 3])
    label = (rng.random(n, dtype=np.float32) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int8)
    return pa.table({"label": pa.array(label), **{name: r[0] for (name, _, _), r in zip(jobs, results, strict=True)}})


def criteo(rows: int, seed: int = 0) -> Any:
    """A synthetic click log shaped like Criteo's, as a frame of the active backend.

    Columns: ``label`` (int8, ~25% positive, learnable from the features), ``I1``..``I13``
    heavy-tailed int32 counts with ~20% nulls (``I2`` has a few ``-1``), and ``C1``..``C26``
    int32 ids drawn from Zipf distributions over vocabularies of 10 to 1,000,000, ~5% nulls.
    Identical for identical ``(rows, seed)`` on every machine and backend.

    Raises
    ------
    OutOfMemoryError
        Before allocating, when ``rows`` rows of the generated columns alone would exceed this machine's
        total memory (``os.sysconf``; not checked where the OS does not report it).

    Examples
    --------
    >>> import gpupipe as gp
    >>> with gp.use_backend("pandas"):
    ...     df = gp.datasets.criteo(1000, seed=0)
    >>> df.shape
    (1000, 40)
    """
    from ..io import from_arrow

    get_backend()
    return from_arrow(criteo_arrow(rows, seed))
