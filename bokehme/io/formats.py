"""Which format a photo is, and which format its result is written in."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from .files import open_regular
from .photo import PhotoError

__all__ = ["HEIF_BRANDS", "is_heif", "output_format", "output_extension", "looks_complete"]

#: ISO-BMFF brands (``ftyp``) of HEIF still images.
HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")

# Writable output formats and their usual extension.
EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "TIFF": ".tif"}
_FORMAT_ALIASES = {"JPG": "JPEG", "TIF": "TIFF"}
# Source formats bokehme cannot (or should not) write back, and what to use instead.
_FALLBACK_FORMATS = {"MPO": "JPEG", "HEIF": "JPEG", "AVIF": "JPEG"}
#: Formats whose files can hold an alpha channel.
ALPHA_FORMATS = ("PNG", "WEBP", "TIFF")
#: Formats whose files can be gray (one channel, with alpha where they hold it).
GRAY_FORMATS = ("JPEG", "PNG", "TIFF")
#: Formats that are always lossless (WebP may be either).
LOSSLESS_FORMATS = ("PNG", "TIFF", "BMP", "GIF")


def is_heif(head: bytes) -> bool:
    """Whether the first bytes of a file are those of a HEIF image (HEIC, iPhone photos)."""
    return head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS


def output_format(source_format: str, requested: str | None = None) -> tuple[str, str]:
    """Choose the format of an output file.

    Parameters
    ----------
    source_format : str
        Pillow's name for the source format.
    requested : str, optional
        ``"JPEG"``, ``"PNG"``, ``"WEBP"`` or ``"TIFF"`` (case-insensitive,
        ``"jpg"`` and ``"tif"`` accepted); None keeps the source format where
        bokehme can write it.

    Returns
    -------
    pillow_format : str
        The Pillow format name to write.
    extension : str
        The usual extension for it, with the dot (``".jpg"``).
    """
    if requested:
        name = _FORMAT_ALIASES.get(requested.upper(), requested.upper())
        if name not in EXTENSIONS:
            choices = ", ".join(EXTENSIONS)
            raise ValueError(f"cannot write {requested!r} files; choose one of {choices}")
    elif source_format in EXTENSIONS:
        name = source_format
    else:
        # GIF/BMP and anything unusual: PNG is lossless and keeps alpha.
        name = _FALLBACK_FORMATS.get(source_format, "PNG")
    return name, EXTENSIONS[name]


def _source_format(path: Path) -> str:
    """Pillow's name for the format of the file at `path`, from its header; "" if unknown."""
    try:
        with open_regular(path) as file:
            if is_heif(file.read(12)):
                return "HEIF"
            file.seek(0)
            with Image.open(file) as image:
                return image.format or ""
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, PhotoError):
        return ""


def output_extension(path, requested: str | None = None) -> str:
    """The extension an output for `path` gets: the format `output_format` picks.

    Only the file's header is read.  A source whose extension already names
    the output format keeps it as spelled (``.JPEG`` stays ``.JPEG``); a file
    that cannot be identified keeps its own, and fails later when it is read.
    """
    path = Path(path)
    source_format = _source_format(path)
    if not source_format and not requested:
        return path.suffix
    name, extension = output_format(source_format, requested)
    spelled = path.suffix.upper().lstrip(".")
    if _FORMAT_ALIASES.get(spelled, spelled) == name:
        return path.suffix
    return extension


def looks_complete(name: str, head: bytes, tail: bytes, size: int) -> bool:
    """Whether a file of Pillow format `name` holds a whole image, by its ends.

    A cheap check of a file just written: its signature at the start and
    the marker its format puts last (JPEG's end-of-image, PNG's IEND chunk)
    or the length its header announces (WebP).  A truncated file fails it.

    Parameters
    ----------
    name : str
        ``"JPEG"``, ``"PNG"``, ``"WEBP"`` or ``"TIFF"``.
    head, tail : bytes
        The first and the last 16 bytes of the file (fewer if it is shorter).
    size : int
        The file's size in bytes.
    """
    if name == "JPEG":
        return head[:2] == b"\xff\xd8" and tail[-2:] == b"\xff\xd9"
    if name == "PNG":
        return head[:8] == b"\x89PNG\r\n\x1a\n" and tail[-12:] == b"\x00\x00\x00\x00IEND\xaeB`\x82"
    if name == "WEBP":
        return head[:4] == b"RIFF" and head[8:12] == b"WEBP" and int.from_bytes(head[4:8], "little") + 8 == size
    if name == "TIFF":
        order = {b"II*\x00": "little", b"MM\x00*": "big"}.get(head[:4])
        return order is not None and 8 <= int.from_bytes(head[4:8], order) < size
    return size > 0
