"""Input and output: parquet, CSV and Arrow files, local or in object storage; Arrow, pandas and Polars interop."""

from __future__ import annotations

from .convert import from_arrow, from_pandas, to_arrow, to_backend, to_pandas, to_polars
from .dataset import Dataset
from .files import read_arrow, read_csv, read_parquet, write_parquet

__all__ = [
    "Dataset",
    "from_arrow",
    "from_pandas",
    "read_arrow",
    "read_csv",
    "read_parquet",
    "to_arrow",
    "to_backend",
    "to_pandas",
    "to_polars",
    "write_parquet",
]
