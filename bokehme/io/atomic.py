"""Atomic writes: a file is replaced only once its new content is complete."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import BinaryIO, Callable

from .photo import PhotoError

__all__ = ["atomic_write"]


def atomic_write(path, write: Callable[[BinaryIO], None]) -> None:
    """Write a file through a temporary sibling and rename it into place.

    Readers see either the old file or the complete new one; whatever goes
    wrong (an encoder error, a full disk, Ctrl-C) the temporary file is removed.
    """
    path = Path(path)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.bokehme-tmp")
    try:
        file = open(temp, "xb")  # exclusive: never clobber a namesake
    except OSError as error:
        raise PhotoError(path, f"cannot write: {error.strerror or error}") from None
    try:
        with file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException as error:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        if isinstance(error, OSError):
            raise PhotoError(path, f"cannot write: {error.strerror or error}") from None
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
