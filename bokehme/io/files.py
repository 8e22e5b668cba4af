"""Opening input files: regular files only, so that a named pipe or a device is never waited on or read."""

from __future__ import annotations

import fcntl
import os
import stat
from typing import BinaryIO

from .photo import PhotoError

__all__ = ["file_kind", "open_regular"]

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def file_kind(mode: int) -> str | None:
    """What a file of ``st_mode`` `mode` is, in words; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((words for test, words in _KINDS if test(mode)), "not a regular file")


def open_regular(path) -> BinaryIO:
    """Open a regular file for reading, without waiting on anything else.

    The file is opened non-blocking, so a named pipe with no writer cannot
    hang the caller, and checked on the open descriptor, so a file swapped
    for another kind after a check by name is caught too.

    Raises
    ------
    PhotoError
        If `path` is not a regular file (a folder, a pipe, a device, a socket).
    OSError
        If it cannot be opened.
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        kind = file_kind(os.fstat(descriptor).st_mode)
        if kind is not None:
            raise PhotoError(path, f"{kind}, not a photo file")
        flags = fcntl.fcntl(descriptor, fcntl.F_GETFL)
        fcntl.fcntl(descriptor, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise
