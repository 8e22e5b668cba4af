"""Threads kept for the steps that hand part of their work to a second thread.

Two steps of a rendering do: the alpha's evaluation (strips of rows at
once) and the bokeh, whose soft-edge colours are estimated while the
background's light is summed; and one of segmentation: the salient model
looks for what the main person holds while the pose model outlines them
(:mod:`bokehme.models.people`).  A thread started for one call and ended
after it costs more than the work it takes over when calls come many times
a second, as a clip's frames do: its first numpy and torch calls map fresh
memory (an allocator arena of its own) and start torch's own helper
threads, page fault after page fault.  So the threads are started once and
kept for the process (docs/video.md).
"""

import os
from concurrent.futures import ThreadPoolExecutor

__all__ = ["kept_threads", "usable_cores"]

# Each rendering or segmentation hands one piece of work at a time to a
# second thread: enough for as many of them at once as a batch runs on this
# machine's cores (and a clip's two frame workers on two cores).
_THREADS = 2 * max(2, os.cpu_count() or 1)


def usable_cores():
    """The processors this process may run on (a container's or ``taskset``'s, not the machine's)."""
    return os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)


def _new_pool():
    # Its threads start as work comes, and are kept.
    return ThreadPoolExecutor(_THREADS, thread_name_prefix="bokehme-imaging")


_pool = _new_pool()


def kept_threads():
    """The process's kept threads, a :class:`~concurrent.futures.ThreadPoolExecutor`.

    Work handed to them must never wait for other work handed to them: all
    of the threads could be waiting.
    """
    return _pool


def _forget():
    """A forked child has none of its parent's threads: it starts its own."""
    global _pool
    _pool = _new_pool()


os.register_at_fork(after_in_child=_forget)
