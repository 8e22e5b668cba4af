"""A decoded photo, and the errors of reading and writing one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..imaging.samples import to_unit_float

__all__ = ["DEFAULT_MAX_PIXELS", "Photo", "PhotoError", "ImageTooLarge", "megapixels"]

#: Pillow's own decompression-bomb limit (about 89 megapixels), the default
#: limit of every image bokehme reads.
DEFAULT_MAX_PIXELS = 89_478_485


class PhotoError(Exception):
    """A photo could not be read or written; ``str(error)`` is one line.

    Parameters
    ----------
    path : str or Path
        The file concerned.
    reason : str
        Why, in a few words.
    errno : int, optional
        The operating system's error number, when one caused it (``ENOSPC``
        for a full disk: a batch stops there).
    """

    def __init__(self, path, reason: str, errno: int | None = None):
        self.path = Path(path)
        self.reason = " ".join(str(reason).split())  # always a single line
        self.errno = errno
        super().__init__(f"{self.path}: {self.reason}")


class ImageTooLarge(PhotoError):
    """An image has more pixels than the limit it is read under.

    Attributes
    ----------
    size : (int, int) or None
        Its width and height, None where the decoder refused before telling.
    limit : int
        The largest number of pixels allowed.
    """

    def __init__(self, path, size, limit: int):
        self.size, self.limit = size, limit
        what = f"{size[0]}x{size[1]} pixels ({megapixels(size[0] * size[1])})" if size else "larger than Pillow allows"
        super().__init__(path, f"too large: {what}, above the limit of {megapixels(limit)} ({limit:,} pixels)")


def megapixels(pixels: int) -> str:
    """A pixel count in megapixels, as a photographer says it: ``"108.0 MP"``."""
    return f"{pixels / 1e6:.1f} MP"


@dataclass
class Photo:
    """A decoded photo and what must travel with it to the output.

    Attributes
    ----------
    samples : (H, W, 3) ndarray
        RGB values as the source stores them, encoded as in it (usually
        sRGB), with the EXIF orientation already applied: uint8, uint16 for
        16-bit sources, float32 in [0, 1] for floating-point ones.  A photo
        is held this way until it is rendered (see :attr:`pixels`).
    transparency : (H, W) float32 ndarray or None
        Source opacity in [0, 1], or None when the source is opaque.
    format : str
        Pillow's name for the source format (``"JPEG"``, ``"PNG"``, ``"HEIF"``...).
    icc_profile, exif, xmp : bytes or None
        Source metadata; the orientation in ``exif`` and ``xmp`` is reset to 1
        and the EXIF thumbnail (a picture of the unprocessed photo) removed.
    high_bit_depth : bool
        The source has 16 bits per channel.
    lossless : bool
        The source format is lossless (PNG, TIFF, BMP, GIF, lossless WebP).
    frame_count : int
        Number of frames; above 1 for animations, of which the first is used.
    disparity : (h, w) float32 ndarray or None
        The depth map the camera stored in the file, as disparity in [0, 1]
        (near = 1) oriented like `pixels`, when it was asked for and found.
    gray : bool
        The source is grayscale (its three channels in `samples` are equal);
        results are written gray where the format allows.
    left_behind : tuple of str
        Metadata of the source that no output carries (thumbnails, IPTC,
        comments, PNG text), by exiftool's tag names.
    """

    samples: np.ndarray
    transparency: np.ndarray | None
    format: str
    icc_profile: bytes | None = None
    exif: bytes | None = None
    xmp: bytes | None = None
    high_bit_depth: bool = False
    lossless: bool = False
    frame_count: int = 1
    disparity: np.ndarray | None = None
    gray: bool = False
    left_behind: tuple = ()

    @property
    def pixels(self) -> np.ndarray:
        """(H, W, 3) float32 RGB values in [0, 1]: :attr:`samples` scaled, computed at each access."""
        return to_unit_float(self.samples)
