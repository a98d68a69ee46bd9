"""The train/validation split every flights pipeline uses (GPU, CPU and the naive reference alike).

Rule: a seeded random 20% of the 365 calendar days of 2013 is the validation set; every flight on
one of those days is a validation row, every other flight a training row. Splitting by day rather
than by row keeps flights that share a day's weather and congestion on one side, so validation
measures generalisation to unseen days instead of memorised weather. The rule reads only the
``month`` and ``day`` columns, so it gives the same rows on any backend, in any row order and on
any subset or resample of the table (``gp.datasets.flights_scaled``).

Examples
--------
>>> import pandas as pd
>>> from pipelines._split import split_flights, validation_days
>>> frame = pd.DataFrame({"month": [1, 1, 6, 12], "day": [1, 2, 15, 31]})
>>> mask = split_flights(frame, seed=0)
>>> len(mask) == 4 and mask.dtype == bool
True
>>> len(validation_days(seed=0))
73
"""

from __future__ import annotations

import datetime as _dt
import functools
from typing import Any

__all__ = ["VAL_FRACTION", "split_flights", "validation_days"]

#: Share of calendar days held out for validation.
VAL_FRACTION = 0.2

_YEAR = 2013


@functools.cache
def validation_days(seed: int = 0) -> tuple[int, ...]:
    """Validation days as sorted ``month * 100 + day`` keys (73 of the 365 days of 2013 by default).

    Examples
    --------
    >>> from pipelines._split import validation_days
    >>> validation_days(0) == validation_days(0) != validation_days(1)
    True
    """
    import numpy as np

    first = _dt.date(_YEAR, 1, 1)
    days = [first + _dt.timedelta(days=i) for i in range(365)]
    keys = np.array([d.month * 100 + d.day for d in days], dtype=np.int64)
    rng = np.random.default_rng(int(seed))
    chosen = rng.choice(keys, size=round(VAL_FRACTION * len(keys)), replace=False)
    return tuple(int(k) for k in np.sort(chosen))


def split_flights(frame: Any, seed: int = 0) -> Any:
    """Boolean training mask for a flights frame: ``True`` for training rows, ``False`` for validation.

    Parameters
    ----------
    frame : pandas.DataFrame or cudf.DataFrame
        Any frame with integer ``month`` and ``day`` columns (the flights table, joined or not).
    seed : int
        Picks which days are held out (see :func:`validation_days`).

    Returns
    -------
    Series of bool on the frame's backend, aligned with ``frame``.

    Raises
    ------
    gpupipe.SchemaError
        If ``month`` or ``day`` is missing.

    Examples
    --------
    >>> import pandas as pd
    >>> from pipelines._split import split_flights
    >>> frame = pd.DataFrame({"month": [1, 7], "day": [1, 4]})
    >>> train = split_flights(frame, seed=0)
    >>> frame[train].shape[1]
    2
    """
    import gpupipe as gp

    missing = [c for c in ("month", "day") if c not in frame.columns]
    if missing:
        msg = (f"split_flights needs integer 'month' and 'day' columns; missing {missing} "
               f"(received columns {list(frame.columns)[:20]}); split the flights table before dropping them")
        raise gp.SchemaError(msg)
    key = frame["month"].astype("int64") * 100 + frame["day"].astype("int64")
    return ~key.isin(list(validation_days(int(seed))))
