"""The host-memory check the generators make before allocating ``rows`` rows."""

from __future__ import annotations

import os

from .._info import format_bytes
from ..errors import OutOfMemoryError

__all__ = ["check_rows_fit", "total_memory"]


def total_memory() -> int | None:
    """This machine's physical memory in bytes, or None where the OS does not say (no psutil needed)."""
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # no os.sysconf (Windows) or no such name here
        return None
    if pages <= 0 or page_size <= 0:
        return None
    return int(pages) * int(page_size)


def check_rows_fit(where: str, rows: int, bytes_per_row: float, *, total: int | None = None) -> None:
    """Raise :class:`~gpupipe.errors.OutOfMemoryError` before allocating when ``rows`` rows of about
    ``bytes_per_row`` bytes (the generated frame alone, a lower bound of the peak) exceed this machine's
    total memory (``total``, default :func:`total_memory`; no check where it is unknown)."""
    total = total_memory() if total is None else total
    if total is None:
        return
    need = rows * bytes_per_row
    if need <= total:
        return
    msg = (f"{where}: rows={rows} needs at least {format_bytes(need)} of host memory ({bytes_per_row:.0f} bytes a row "
           f"for the generated columns alone), more than this machine's {format_bytes(total)} in all; refused before "
           f"allocating. Ask for fewer rows (well under {int(total // bytes_per_row):,} here: the work needs "
           f"more than the result), or generate the data in parts with different seeds and write each part to "
           f"parquet")
    raise OutOfMemoryError(msg)
