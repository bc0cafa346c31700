"""The relay's heap: large buffers go straight back to the operating system.

A COPY moves its data through the relay in buffers of a few MB (S3 reads, chunks, converted rows,
CopyData messages). glibc's malloc serves blocks of 128 KB or more with mmap at first, but raises
that threshold (up to 32 MB) each time such a block is freed, so soon those buffers come from its
heaps, which keep freed pages: one 210 MB object left the relay hundreds of MB larger than it
started. ``configure_allocator`` fixes the threshold at MMAP_THRESHOLD (every larger block is
unmapped when freed), and ``release_free_memory`` (``malloc_trim``) returns what the heaps still
hold after a large load. Without glibc both are no-ops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_MMAP_THRESHOLD = -3       # mallopt parameter (malloc.h)
MMAP_THRESHOLD = 256 << 10  # blocks of this size or more are mmapped, and unmapped when freed


@functools.cache
def _libc():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        return libc if libc is not None and hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def configure_allocator() -> bool:
    """Fix glibc's mmap threshold (call once, early, in the relay process); False without glibc."""
    libc = _libc()
    return bool(libc is not None and libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))


def release_free_memory() -> bool:
    """Return free heap pages to the system; False without glibc."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
