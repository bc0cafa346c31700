"""Giving freed heap memory back to the operating system after a large COPY.

CPython returns large buffers to glibc's malloc, which keeps freed pages of its heaps (and of the
per-thread arenas the S3 reads and conversions run in) for reuse: after a load the relay's RSS
stayed hundreds of MB above its start. ``malloc_trim(0)`` releases those pages. Elsewhere (no
glibc) this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def _malloc_trim():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        return libc.malloc_trim if libc is not None else None
    except (OSError, AttributeError):
        return None


def release_free_memory() -> bool:
    """Return free heap pages to the system; False where malloc_trim does not exist."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
