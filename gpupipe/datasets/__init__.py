"""Data to try gpupipe on: the real nycflights13 tables and deterministic synthetic generators."""

from __future__ import annotations

from .flights import flights, flights_joined, flights_scaled
from .synthetic import criteo

__all__ = ["criteo", "flights", "flights_joined", "flights_scaled"]
