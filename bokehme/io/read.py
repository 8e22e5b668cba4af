"""Reading photos: any common image file to pixel samples, upright, with its metadata.

Everything inside bokehme computes on float32 arrays in [0, 1]; this module
turns files of any common kind into the samples they store, 8 or 16 bits
(orientation applied, alpha split off), which ``Photo.pixels`` gives as such
floats; it reads each file once.  It changes no process-wide state: Pillow's own
decompression-bomb limit stays what the caller set, and HEIF files are
decoded through pillow-heif directly, without registering it with Pillow.
"""

from __future__ import annotations

import io
import os
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageCms, UnidentifiedImageError

from ..imaging.samples import to_unit_float
from .depth_maps import depth_from_bytes
from .files import open_regular
from .formats import LOSSLESS_FORMATS, is_heif
from .metadata import ORIENTATION, left_behind, reset_orientation, source_exif, source_xmp
from .photo import DEFAULT_MAX_PIXELS, ImageTooLarge, Photo, PhotoError

try:
    import pillow_heif
except ImportError:  # pragma: no cover - depends on the installation
    pillow_heif = None

__all__ = ["read_photo", "read_mask", "read_depth_file"]

# Pillow modes of one gray channel, with or without alpha.
_GRAY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")


def read_photo(path, *, max_pixels: int = DEFAULT_MAX_PIXELS, with_depth: bool = False) -> Photo:
    """Decode an image file into a `Photo`.

    The kind of file is recognised from its content, not its name.  The file
    is only ever opened for reading, and read once.

    Parameters
    ----------
    path : str or Path
        The image file.
    max_pixels : int, optional
        Refuse images with more pixels than this (decompression bombs).
        Pillow refuses images of more than twice its own limit,
        ``PIL.Image.MAX_IMAGE_PIXELS``, before this one is looked at: raise
        (or clear) that to read larger ones.
    with_depth : bool, optional
        Also read the depth map a phone stored in the file, into
        ``Photo.disparity``; one that cannot be decoded is left out
        (:func:`bokehme.io.depth_maps.read_depth` says why).

    Returns
    -------
    photo : Photo

    Raises
    ------
    PhotoError
        For any file that cannot be decoded, with a one-line reason
        (:class:`~bokehme.io.photo.ImageTooLarge` above `max_pixels`).
    """
    path = Path(path)
    try:
        with open_regular(path) as file:
            data = file.read()
        if not data:
            raise PhotoError(path, "empty file (0 bytes)")
        photo = _decode_bytes(data, path, max_pixels)
    except PhotoError:
        raise
    except FileNotFoundError:
        raise PhotoError(path, "no such file") from None
    except PermissionError:
        raise PhotoError(path, "permission denied") from None
    except (OSError, SyntaxError, ValueError, EOFError, zlib.error) as error:
        # Pillow reports damaged data as OSError (truncated), SyntaxError
        # (broken headers) or ValueError; all are bad input, not bugs.
        raise PhotoError(path, f"cannot decode: {error}") from None
    if with_depth:
        try:
            photo.disparity = depth_from_bytes(data, path, max_pixels=max_pixels)
        except PhotoError:
            pass  # a damaged depth map is no reason to lose the photo: it has two planes
    return photo


def _decode_bytes(data: bytes, path: Path, max_pixels: int) -> Photo:
    if is_heif(data):
        if pillow_heif is None:
            raise PhotoError(path, "install pillow-heif to read HEIC/HEIF")
        heif = pillow_heif.open_heif(io.BytesIO(data))
        image = heif.to_pillow()
        image.format = "HEIF"
        frame_count = len(heif)
    else:
        try:
            image = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            raise PhotoError(path, "not a recognised image file") from None
        except Image.DecompressionBombError:
            raise ImageTooLarge(path, None, max_pixels) from None
        frame_count = getattr(image, "n_frames", 1)
    with image:
        width, height = image.size
        if width * height > max_pixels:
            raise ImageTooLarge(path, (width, height), max_pixels)
        return _decode(image, data, frame_count)


def _decode(image: Image.Image, data: bytes, frame_count: int) -> Photo:
    source_format = image.format or "unknown"
    image.seek(0)
    orientation = image.getexif().get(ORIENTATION, 1)
    icc_profile = image.info.get("icc_profile") or None
    exif = source_exif(image)
    xmp = source_xmp(image)
    lossless = source_format in LOSSLESS_FORMATS or (
        source_format == "WEBP" and _webp_is_lossless(image.fp)  # before load() closes fp
    )

    gray = image.mode in _GRAY_MODES
    high_bit_depth = _is_16_bit(image, data)
    if high_bit_depth and image.mode in ("RGB", "RGBA", "LA"):
        # Pillow has no 16-bit colour mode and would truncate to 8 bits.
        samples, transparency = _decode_16_bit_colour(data)
    else:
        image.load()
        # Pillow turns TIFFs upright while loading and then drops the tag.
        orientation = image.getexif().get(ORIENTATION, 1)
        samples, transparency, icc_profile = _to_rgb(image, icc_profile)

    samples = _orient(samples, orientation)
    if transparency is not None:
        transparency = _orient(transparency, orientation)
    return Photo(
        gray=gray,
        left_behind=left_behind(image),
        samples=samples,
        transparency=transparency,
        format=source_format,
        icc_profile=icc_profile,
        exif=exif,
        xmp=xmp,
        high_bit_depth=high_bit_depth,
        lossless=lossless,
        frame_count=frame_count,
    )


def _is_16_bit(image: Image.Image, data: bytes) -> bool:
    if image.mode.startswith("I;16") or image.mode == "I":
        return True
    if image.format == "PNG":
        return data[24] == 16  # IHDR bit depth
    if image.format == "TIFF":
        bits = image.tag_v2.get(258, (8,))
        return 16 in (bits if isinstance(bits, tuple) else (bits,))
    return False


def _decode_16_bit_colour(data: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    import cv2  # present with mediapipe; only 16-bit colour files need it

    data = bytearray(data)
    # IMREAD_UNCHANGED keeps 16 bits and alpha and ignores EXIF orientation,
    # but OpenCV's TIFF decoder applies the file's own orientation tag anyway.
    # The caller applies it once for every format, so neutralise it here.
    try:
        reset_orientation(data, 0)
    except (IndexError, ValueError):
        pass  # a PNG, or a TIFF layout we do not patch
    array = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None or array.dtype != np.uint16:
        raise ValueError("unsupported 16-bit layout")
    if array.ndim == 2:
        array = array[:, :, None]
    samples = array[:, :, [2, 1, 0]] if array.shape[2] >= 3 else array[:, :, [0, 0, 0]]
    transparency = None
    if array.shape[2] in (2, 4):
        transparency = to_unit_float(array[:, :, -1])
    return samples, _opaque_to_none(transparency)


def _to_rgb(image: Image.Image, icc_profile: bytes | None):
    """Convert any Pillow mode to RGB samples (+ float alpha); returns the matching ICC."""
    mode = image.mode
    transparency = None
    if mode == "CMYK":
        image, icc_profile = _cmyk_to_rgb(image, icc_profile)
    elif mode.startswith("I;16") or mode == "I":
        gray = np.clip(np.asarray(image), 0, 65535).astype(np.uint16)
        return np.repeat(gray[:, :, None], 3, axis=2), None, _rgb_compatible(icc_profile)
    elif mode == "F":
        gray = np.clip(np.asarray(image, dtype=np.float32), 0, 1)
        return np.repeat(gray[:, :, None], 3, axis=2), None, _rgb_compatible(icc_profile)

    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        image = image.convert("RGBA")
        rgba = np.asarray(image)
        transparency = to_unit_float(rgba[:, :, 3])
        rgb = rgba[:, :, :3]
    else:
        rgb = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    return rgb, _opaque_to_none(transparency), _rgb_compatible(icc_profile)


def _cmyk_to_rgb(image: Image.Image, icc_profile: bytes | None):
    if icc_profile:
        try:
            srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
            converted = ImageCms.profileToProfile(
                image,
                ImageCms.ImageCmsProfile(io.BytesIO(icc_profile)),
                srgb,
                renderingIntent=ImageCms.Intent.PERCEPTUAL,
                outputMode="RGB",
            )
            return converted, srgb.tobytes()
        except (ImageCms.PyCMSError, OSError):
            pass  # a broken profile: fall back to the naive conversion
    return image.convert("RGB"), None


def _rgb_compatible(icc_profile: bytes | None) -> bytes | None:
    """Drop a profile that cannot describe RGB pixels (grey sources become RGB)."""
    if not icc_profile:
        return None
    try:
        space = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile)).profile.xcolor_space
    except (ImageCms.PyCMSError, OSError):
        return None
    return icc_profile if space.strip() == "RGB" else None


def _opaque_to_none(transparency: np.ndarray | None) -> np.ndarray | None:
    if transparency is None or transparency.min() >= 1:
        return None
    return transparency


def _orient(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to an (H, W, ...) array, as a viewer would."""
    if orientation in (5, 6, 7, 8):
        array = array.swapaxes(0, 1)
    flips = {2: (1,), 3: (0, 1), 4: (0,), 6: (1,), 7: (0, 1), 8: (0,)}.get(orientation, ())
    for axis in flips:
        array = np.flip(array, axis)
    return np.ascontiguousarray(array)


def _webp_is_lossless(file: BinaryIO | None) -> bool:
    """Walk the RIFF chunks of a WebP file looking for a lossless (VP8L) bitstream."""
    if file is None:
        return False
    file.seek(12)
    while True:
        header = file.read(8)
        if len(header) < 8:
            return False
        kind, size = header[:4], int.from_bytes(header[4:], "little")
        if kind == b"VP8L":
            return True
        if kind in (b"VP8 ", b"ANMF"):
            return False
        file.seek(size + (size & 1), os.SEEK_CUR)


def read_mask(path, shape: tuple[int, int]) -> np.ndarray:
    """Read a user's subject mask: (H, W) float32 in [0, 1], 1 = subject.

    An 8-bit greyscale image is read as it is (white = subject); an image with
    transparency gives its alpha.  EXIF orientation is applied, as for photos.

    Raises
    ------
    PhotoError
        If the mask cannot be read or its size differs from `shape` (H, W).
    """
    mask = read_photo(path)
    alpha = mask.transparency if mask.transparency is not None else mask.pixels.mean(axis=2)
    if alpha.shape != tuple(shape):
        raise PhotoError(
            path, f"mask is {alpha.shape[1]}x{alpha.shape[0]}, the photo is {shape[1]}x{shape[0]} (after EXIF orientation)"
        )
    return alpha.astype(np.float32, copy=False)


def read_depth_file(path, far_bright: bool = False) -> np.ndarray:
    """A user's grayscale depth or disparity image (``--depth FILE``).

    Parameters
    ----------
    path : str or Path
        An 8- or 16-bit grayscale image (PNG, TIFF...), read like a photo;
        colour images are converted to gray.
    far_bright : bool, optional
        The file is a depth map (far = bright) rather than a disparity map
        (near = bright); it is inverted.

    Returns
    -------
    (h, w) float32 ndarray
        Disparity in [0, 1], near = 1.

    Raises
    ------
    PhotoError
        If the file cannot be decoded.
    """
    values = read_photo(path).pixels.mean(axis=2)
    return 1 - values if far_bright else values
