"""What the frame workers need that imports nothing heavy: how many there are, their fork server, their errors.

The server imports the libraries the imaging code uses, once a process, in a
process of its own; started first thing, it does so while the caller imports
the same libraries and loads a model, rather than after.  The errors are
worded by the command line, which imports no array library to do so.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import sys
import threading

__all__ = ["FRAME_WORKERS", "SharedMemoryShort", "TERMINAL_SIGNALS", "WorkerLost", "context", "start_server",
           "terminal_signals_ignored"]

#: Frames matted and rendered at once, a worker each (threads or processes),
#: in a clip job as in the live loop: the cores they keep busy, which
#: decoding and encoding leave to them.
FRAME_WORKERS = 2

#: Ctrl-C and a closed terminal's hang-up: they reach every process of the terminal's group.
TERMINAL_SIGNALS = [number for number in (signal.SIGINT, getattr(signal, "SIGHUP", None)) if number is not None]

# What the fork server imports for every worker (most of a worker's start).
# Libraries only: bokehme's own imaging code runs torch operations as it is
# imported, which start OpenMP's threads, and a forked child's first parallel
# operation would wait forever for threads it does not have; and Python 3.11's
# fork server imports before it takes the caller's ``sys.path``, so it could
# find another copy of bokehme.  Each worker imports bokehme itself.
_SERVER_IMPORTS = ["numpy", "cv2", "scipy.ndimage", "torch"]


class WorkerLost(RuntimeError):
    """A frame worker process ended without answering (killed, or out of memory).

    Attributes
    ----------
    exitcode : int or None
        The process's exit status; minus the signal's number if one ended it.
    """

    def __init__(self, exitcode):
        super().__init__(exitcode)
        self.exitcode = exitcode


class SharedMemoryShort(RuntimeError):
    """The shared memory the frames pass through has too little room (a container's small ``/dev/shm``).

    Not an OSError, even where one was its cause (no ``/dev/shm``): nothing
    was written yet, and a recording's writer would take one for its own
    failure.

    Attributes
    ----------
    needed, free : int
        Bytes the frame workers need for their frames, and bytes free (0
        where shared memory cannot be had at all: no ``/dev/shm``, or not
        writable).
    """

    def __init__(self, needed, free):
        super().__init__(needed, free)
        self.needed, self.free = needed, free


def context():
    """The multiprocessing context the workers start from: the fork server on Linux, spawning elsewhere."""
    # Elsewhere than Linux a fork after torch and OpenCV are loaded is not
    # safe (macOS's system libraries), and Windows has no fork at all.
    linux = sys.platform.startswith("linux")
    return multiprocessing.get_context("forkserver" if linux else "spawn")


def start_server():
    """Start the fork server the workers come from, if it is not running; returns at once.

    It imports the libraries the imaging code uses, once a process, while
    the caller goes on: importing them itself and loading a model, say.  A
    worker started before it is ready waits for it.
    """
    chosen = context()
    if chosen.get_start_method() == "forkserver":
        chosen.set_forkserver_preload(_SERVER_IMPORTS)
        from multiprocessing import forkserver

        # The server imports its libraries before it ignores Ctrl-C, and a
        # worker starts with Python's handler: both inherit an ignored signal
        # instead (the main process decides what stops).
        with terminal_signals_ignored():
            forkserver.ensure_running()


@contextlib.contextmanager
def terminal_signals_ignored():
    """Ctrl-C and a closed terminal's hang-up ignored meanwhile, in the main thread (the only one that may)."""
    kept = {}
    if threading.current_thread() is threading.main_thread():
        kept = {number: signal.signal(number, signal.SIG_IGN) for number in TERMINAL_SIGNALS}
    try:
        yield
    finally:
        for number, handler in kept.items():
            signal.signal(number, handler)
