"""Which format a photo is, and which format its result is written in."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

__all__ = ["HEIF_BRANDS", "is_heif", "output_format", "output_extension"]

#: ISO-BMFF brands (``ftyp``) of HEIF still images.
HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")

# Writable output formats and their usual extension.
EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "TIFF": ".tif"}
_FORMAT_ALIASES = {"JPG": "JPEG", "TIF": "TIFF"}
# Source formats bokehme cannot (or should not) write back, and what to use instead.
_FALLBACK_FORMATS = {"MPO": "JPEG", "HEIF": "JPEG", "AVIF": "JPEG"}
#: Formats whose files can hold an alpha channel.
ALPHA_FORMATS = ("PNG", "WEBP", "TIFF")
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
        with open(path, "rb") as file:
            if is_heif(file.read(12)):
                return "HEIF"
            file.seek(0)
            with Image.open(file) as image:
                return image.format or ""
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
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
