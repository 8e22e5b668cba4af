"""MediaPipe's graphs, started without their native log lines in the user's terminal."""

import contextlib
import os
import sys

__all__ = ["native_stderr_silenced", "native_output_silenced"]


@contextlib.contextmanager
def native_stderr_silenced():
    """Silence the C++ log lines that MediaPipe writes straight to file descriptor 2.

    Also asks glog, through its environment variable, for warnings and
    above only, for graphs started later.
    """
    os.environ.setdefault("GLOG_minloglevel", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@contextlib.contextmanager
def native_output_silenced():
    """Silence what native code writes straight to file descriptors 1 and 2 (Ray's raylet and core)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 1)
        with native_stderr_silenced():
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
