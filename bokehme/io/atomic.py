"""Atomic writes: a file is replaced only once its new content is complete and on disk.

The new content goes to a hidden sibling, ``.NAME.XXXXXXXX.bokehme-tmp``,
which is renamed over ``NAME`` once written, flushed, synced and checked;
whatever goes wrong it is removed.  A process killed outright (SIGKILL, a
power cut) leaves the temporary behind: :func:`is_temporary_of` lets a later
run recognise and remove it.
"""

from __future__ import annotations

import io
import os
import re
import secrets
from pathlib import Path
from typing import BinaryIO, Callable

from .photo import PhotoError

__all__ = ["atomic_write", "temporary_path", "is_temporary_of", "name_limit"]

_SUFFIX = ".bokehme-tmp"
_TOKEN_LENGTH = 8  # hex digits
# "." + NAME + "." + token + suffix: what a temporary name adds to NAME.
_ADDED = 2 + _TOKEN_LENGTH + len(_SUFFIX)


def name_limit(folder) -> int:
    """The longest file name, in bytes, the file system of `folder` (or its nearest existing parent) takes."""
    folder = Path(folder)
    for candidate in (folder, *folder.parents):
        try:
            return os.pathconf(candidate, "PC_NAME_MAX")
        except (OSError, ValueError):
            continue
    return 255


def _stem_of_temporaries(path: Path) -> str:
    """``NAME`` as temporaries of `path` spell it: cut, in bytes, so that the whole name fits the file system."""
    name = os.fsencode(path.name)
    room = max(1, name_limit(path.parent) - _ADDED)
    return os.fsdecode(name[:room])


def temporary_path(path, token: str) -> Path:
    """The temporary sibling that holds `path`'s new content while it is written."""
    path = Path(path)
    return path.with_name(f".{_stem_of_temporaries(path)}.{token}{_SUFFIX}")


def is_temporary_of(name: str, path) -> bool:
    """Whether a file called `name`, beside `path`, is a temporary of `path` (one that a killed run left)."""
    path = Path(path)
    stem = re.escape(_stem_of_temporaries(path))
    return re.fullmatch(rf"\.{stem}\.[0-9a-f]{{{_TOKEN_LENGTH}}}{re.escape(_SUFFIX)}", name) is not None


class _WrittenThroughPython(io.BufferedWriter):
    """A file that encoders cannot write to by descriptor.

    Pillow writes straight to a file's descriptor when it has one, and its
    JPEG encoder then takes a short write on a full disk for success,
    leaving a truncated file.  Without a descriptor every write goes through
    Python, which retries short writes and raises on errors.  `end` is how
    far the file was written, for the size check.
    """

    end = 0

    def fileno(self):
        raise io.UnsupportedOperation("written through Python only")

    def write(self, data) -> int:
        count = super().write(data)
        self.end = max(self.end, self.tell())
        return count


def atomic_write(path, write: Callable[[BinaryIO], None],
                 complete: Callable[[bytes, bytes, int], bool] | None = None) -> None:
    """Write a file through a temporary sibling and rename it into place.

    Readers see either the old file or the complete new one; whatever goes
    wrong (an encoder error, a full disk, Ctrl-C) the temporary file is removed.
    Missing folders on the way are made (a mirrored tree under an output folder).

    Parameters
    ----------
    path : str or Path
    write : callable
        ``write(file)`` writes the whole content to a binary file.
    complete : callable, optional
        ``complete(head, tail, size) -> bool``: whether the first and last 16
        bytes of what reached the disk, and its size, make a whole file of its
        kind (see :func:`bokehme.io.formats.looks_complete`).

    Raises
    ------
    PhotoError
        If the file cannot be written whole; ``errno`` says why (``ENOSPC``
        for a full disk, ``EROFS`` for a read-only one).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PhotoError(path.parent, f"cannot create folder: {error.strerror or error}", errno=error.errno) from None
    temp = temporary_path(path, secrets.token_hex(_TOKEN_LENGTH // 2))
    try:
        raw = open(temp, "xb+", buffering=0)  # exclusive: never clobber a namesake; read back to check
    except OSError as error:
        raise PhotoError(path, f"cannot write: {error.strerror or error}", errno=error.errno) from None
    try:
        with _WrittenThroughPython(raw) as file:
            write(file)
            file.flush()
            os.fsync(raw.fileno())
            size = os.fstat(raw.fileno()).st_size
            if size != file.end:
                raise PhotoError(path, f"cannot write: {size} of {file.end} bytes reached the disk")
            if complete is not None and not complete(os.pread(raw.fileno(), 16, 0),
                                                     os.pread(raw.fileno(), 16, max(0, size - 16)), size):
                raise PhotoError(path, "cannot write: the file written is incomplete")
        os.replace(temp, path)
    except BaseException as error:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        if isinstance(error, OSError):
            raise PhotoError(path, f"cannot write: {error.strerror or error}", errno=error.errno) from None
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    # Makes the rename itself durable; not possible (nor needed) everywhere.
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
