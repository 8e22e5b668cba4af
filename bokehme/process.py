"""Process-wide settings rendering runs best under: in this process and in worker processes.

The local engine renders in the ``bokehme`` process itself; a cluster's
workers are processes of their own, which take the same settings through
their environment (:func:`worker_environment`).  Nothing here imports torch:
OpenMP reads its settings when torch is first imported.
"""

import ctypes
import os

__all__ = ["RENDERING_ENVIRONMENT", "prepare_this_process", "return_freed_memory", "worker_environment"]

#: The settings, as environment variables, unless the user gives their own.
#: ``OMP_WAIT_POLICY``: torch's OpenMP threads otherwise spin while they
#: wait, against whatever else the machine is doing (a passive wait costs
#: next to nothing when the machine is quiet).  ``THP_MEM_ALLOC_ENABLE``:
#: torch's large buffers are laid out for the kernel's 2 MB pages, so a
#: fresh buffer costs one page fault per 2 MB instead of one per 4 KB (numpy
#: asks for them already).  ``MALLOC_*``: glibc's allocator as
#: :func:`return_freed_memory` sets it.
RENDERING_ENVIRONMENT = {
    "OMP_WAIT_POLICY": "PASSIVE",
    "THP_MEM_ALLOC_ENABLE": "1",
    "MALLOC_MMAP_THRESHOLD_": str(14 << 20),
    "MALLOC_ARENA_MAX": "2",
    "MALLOC_TRIM_THRESHOLD_": str(64 << 20),
}

# glibc's mallopt parameter (malloc.h) that each of its variables sets.
_MALLOPT_PARAMETERS = {"MALLOC_MMAP_THRESHOLD_": -3, "MALLOC_ARENA_MAX": -8, "MALLOC_TRIM_THRESHOLD_": -1}


def return_freed_memory():
    """Have glibc's allocator hand a photo's planes back at once and reuse smaller buffers.

    By default glibc raises its threshold for mapping a buffer of its own
    after each large one is freed, and keeps a heap per thread: the planes a
    photo is rendered in then stay in the heaps after use, scattered, and a
    batch's peak memory grows far beyond what it holds.  Here a full-size
    plane of a photo of a few megapixels and up gets its own mapping from
    the start, returned when freed, and threads share two heaps.  The
    strips a full-size pass works through stay under the threshold and are
    reused from the heap, as memory handed back and asked for again costs a
    page fault and the zeroing of each page on first touch; some free
    memory at the top of a heap is kept for the next photo's (the values in
    :data:`RENDERING_ENVIRONMENT`, measured in the README's "Performance").  The
    settings a user gives in glibc's own variables are left as they are;
    other C libraries are left alone.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    for name, parameter in _MALLOPT_PARAMETERS.items():
        if name not in os.environ:
            mallopt(parameter, int(RENDERING_ENVIRONMENT[name]))


def prepare_this_process():
    """Apply :data:`RENDERING_ENVIRONMENT` to this process, before torch is imported.

    The variables of libraries not loaded yet are set in the environment
    (where the user has not set them); glibc, already running, is told
    through :func:`return_freed_memory`.
    """
    for name in ("OMP_WAIT_POLICY", "THP_MEM_ALLOC_ENABLE"):
        os.environ.setdefault(name, RENDERING_ENVIRONMENT[name])
    return_freed_memory()


def worker_environment():
    """The environment variables a worker process starts with: the settings, and the user's own.

    The user's own are theirs of the settings and every ``OMP_*`` and
    ``MALLOC_*`` variable (``OMP_NUM_THREADS``, say), which win.
    """
    own = {name: value for name, value in os.environ.items()
           if name in RENDERING_ENVIRONMENT or name.startswith(("OMP_", "MALLOC_"))}
    return {**RENDERING_ENVIRONMENT, **own}
