"""The command line: the ``bokehme`` command and the words of its messages.

:func:`main` imports the command only when called, so that Ctrl-C while
Python loads it ends without a traceback too.
"""

import ctypes
import os
import sys

from .. import __version__

__all__ = ["__version__", "main", "return_freed_memory"]

# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8


def return_freed_memory():
    """Have glibc's allocator hand large freed buffers back to the system at once.

    By default glibc raises its threshold for mapping a buffer of its own
    after each large one is freed, up to 32 MB, and keeps a heap per
    thread: the planes a photo is rendered in then stay in the heaps after
    use, scattered, and a batch's peak memory grows by hundreds of
    megabytes beyond what it holds.  Buffers of 14 MB and more (a
    full-size plane of a photo of a few megapixels and up) are given their
    own mapping from the start, returned when freed, and threads share two
    heaps.  Smaller ones stay: the strips a full-size pass works through,
    up to 12 MB each and asked for again and again, are reused from the
    heap, as memory handed back and asked for again costs a page fault and
    the zeroing of each page on first touch; up to 64 MB free at the top
    of a heap is kept for the next photo's.  Keeping larger buffers too
    saves little more and keeps a 48 MP photo's planes scattered over the
    heaps.  The settings a user gives in glibc's own variables
    (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_ARENA_MAX``,
    ``MALLOC_TRIM_THRESHOLD_``) are left as they are; other C libraries
    are left alone.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        mallopt(_M_MMAP_THRESHOLD, 14 << 20)
    if "MALLOC_ARENA_MAX" not in os.environ:
        mallopt(_M_ARENA_MAX, 2)
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        mallopt(_M_TRIM_THRESHOLD, 64 << 20)


def main(args=None, prog_name="bokehme"):
    """Entry point of the ``bokehme`` console script, ``python -m bokehme`` and ``bokehME.py``.

    ``bokehme live ...`` runs the live camera (:mod:`bokehme.cli.live`);
    anything else is photos and clips (:mod:`bokehme.cli.command`).
    """
    # Before torch starts: its OpenMP threads otherwise spin while they wait,
    # against whatever else the machine is doing (a passive wait costs next
    # to nothing when the machine is quiet).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # Also before torch's first allocation: its large buffers are then laid
    # out for the kernel's 2 MB pages, so a fresh buffer costs one page
    # fault per 2 MB instead of one per 4 KB (numpy asks for them already).
    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
    return_freed_memory()
    args = sys.argv[1:] if args is None else list(args)
    try:
        if args[:1] == ["live"]:
            from .live import main as run

            args, prog_name = args[1:], f"{prog_name} live"
        else:
            from .command import main as run
    except KeyboardInterrupt:
        sys.stderr.write("bokehme: interrupted\n")
        raise SystemExit(130) from None
    run(args, prog_name)
