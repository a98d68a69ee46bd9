"""cuDF readers and writers, and dask-cuDF partitions: the IO half of the cuDF backend.

Readers give the frames the pandas readers give, column for column (see
:mod:`gpupipe.backend.frame`): the same NA tokens for CSV, all-missing CSV columns as float64,
Arrow's canonical types. Out-of-memory errors become :class:`~gpupipe.errors.OutOfMemoryError`
with advice; other failures a :class:`~gpupipe.errors.DataError` naming the file.

What each backend verifies on read: the pandas backend checks parquet page CRC checksums
(``write_parquet`` writes them on both backends' pandas path). libcudf's parquet reader computes
and checks none (rapidsai/cudf ``cpp/src/io/parquet``), and libcudf's writer writes none: on cuDF a
damaged data page can decode to other values. Both backends check the footer and the schema
(a truncated file or a missing column is a named error).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import oom_advice
from .dataset import _Piece, _read_parquet_piece, _register_dask
from .files import _CSV_NULL_VALUES, _check_columns, _read_csv, _read_failed, _read_parquet, _write_parquet

if TYPE_CHECKING:
    import cudf


@_read_parquet.register("cudf")
def _read_parquet_cudf(paths: list[Path], columns: list[str] | None) -> cudf.DataFrame:
    import cudf
    import pyarrow.parquet as pq

    for p in paths:
        if p.is_file():
            try:
                _check_columns(pq.read_schema(p).names, columns, p)
            except OSError as exc:  # pyarrow raises ArrowInvalid (an OSError/ValueError) on a bad footer
                raise _read_failed("parquet", p, exc) from exc
    where = paths[0] if len(paths) == 1 else f"{len(paths)} parquet files from {paths[0]}"
    # oom_advice outside the try: an OutOfMemoryError (a RuntimeError) must not be re-read as a damaged file
    with oom_advice(f"reading {where} with cuDF", "read"):
        try:
            return cudf.read_parquet([str(p) for p in paths], columns=columns)
        except MemoryError:
            raise
        except (OSError, RuntimeError, ValueError) as exc:
            raise _read_failed("parquet", where, exc) from exc


@_read_csv.register("cudf")
def _read_csv_cudf(paths: list[Path], opts: dict[str, Any]) -> cudf.DataFrame:
    import cudf

    # the pyarrow path's NA tokens exactly, and no others (cuDF's defaults add more)
    na = [*_CSV_NULL_VALUES, *list(opts["na_values"] or [])]
    kw: dict[str, Any] = {"sep": opts["sep"], "skiprows": opts["skip_rows"], "na_values": na,
                          "keep_default_na": False, "na_filter": True}
    if opts["columns"] is not None:
        kw["usecols"] = opts["columns"]
    if opts["dtype"]:
        kw["dtype"] = opts["dtype"]
    if opts["names"] is not None:
        kw["names"] = opts["names"]
        kw["header"] = 0 if opts["header"] else None
    elif not opts["header"]:
        kw["header"] = None
    frames = []
    for p in paths:
        with oom_advice(f"reading {p} with cuDF", "read"):
            try:
                frame = cudf.read_csv(str(p), **kw)
            except MemoryError:
                raise
            except (OSError, RuntimeError, ValueError) as exc:
                raise _read_failed("CSV", p, exc) from exc
        frames.append(_all_missing_as_float(frame, set(opts["dtype"])))
    return frames[0] if len(frames) == 1 else cudf.concat(frames, ignore_index=True)


def _all_missing_as_float(frame: cudf.DataFrame, typed: set[str]) -> cudf.DataFrame:
    """A column with no value at all has no type to infer: pyarrow says null (read as float64), cuDF picks
    one of its own. Both backends make it float64."""
    from ..backend._cudf import column

    for name in frame.columns:
        s = column(frame, name)
        if name not in typed and (len(s) == 0 or int(s.null_count) == len(s)):
            frame[name] = s.astype("float64")
    return frame


@_write_parquet.register("cudf")
def _write_parquet_cudf(frame: cudf.DataFrame, path: str, compression: str) -> None:
    frame.to_parquet(path, compression=compression, index=False)


@_read_parquet_piece.register("cudf")
def _read_parquet_piece_cudf(piece: _Piece) -> cudf.DataFrame:
    import cudf

    cols = None if piece.columns is None else list(piece.columns)
    with oom_advice(f"reading {piece.path} with cuDF", "read"):
        try:
            frame = cudf.read_parquet(piece.path, columns=cols,
                                      row_groups=None if piece.groups is None else [list(piece.groups)])
        except MemoryError:
            raise
        except (OSError, RuntimeError, ValueError) as exc:
            raise _read_failed("parquet", piece.path, exc) from exc
    if piece.length is not None:
        frame = frame.iloc[piece.start:piece.start + piece.length]
    return frame.reset_index(drop=True)


@_register_dask.register("cudf")
def _register_dask_cudf() -> None:
    import dask_cudf  # noqa: F401  (registers cuDF partitions with dask.dataframe)
