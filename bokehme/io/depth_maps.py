"""Depth maps that phones store inside photos, read as disparity.

An iPhone Portrait HEIC holds a depth image as an auxiliary item (read with
pillow-heif); Google cameras put one in a JPEG, either appended after the
photo and listed in the XMP container directory (Dynamic Depth) or as a
base64 image in the XMP itself (the older GDepth).
"""

from __future__ import annotations

import base64
import io
import re
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from .formats import is_heif
from .heif_boxes import apply_transforms, depth_map_transforms
from .photo import DEFAULT_MAX_PIXELS, ImageTooLarge, PhotoError

try:
    import pillow_heif
except ImportError:  # pragma: no cover - depends on the installation
    pillow_heif = None

__all__ = ["read_depth", "depth_from_bytes"]

_XMP_EXTENSION = b"http://ns.adobe.com/xmp/extension/\x00"
_XMP_STANDARD = b"http://ns.adobe.com/xap/1.0/\x00"
# HEIF depth representation types (ISO/IEC 23008-12): 2 is distance, the rest disparity.
_HEIF_DEPTH_IS_DISTANCE = 2


def read_depth(path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray | None:
    """The depth map a phone stored inside a photo, as disparity.

    Reads an iPhone/HEIF depth image (pillow-heif), Google's Dynamic Depth
    (a depth item appended to a JPEG and listed in its XMP container
    directory) or the older GDepth (a base64 image in the JPEG's XMP).

    Parameters
    ----------
    path : str or Path
        The photo.
    max_pixels : int, optional
        Refuse depth images with more pixels than this.

    Returns
    -------
    (h, w) float32 ndarray or None
        Disparity in [0, 1], near = 1, oriented like ``read_photo(path).pixels``
        and usually smaller than it; None when the file holds no depth map.

    Raises
    ------
    PhotoError
        If the file cannot be read, or its depth map cannot be decoded.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise PhotoError(path, f"cannot read: {error.strerror or error}") from None
    return depth_from_bytes(data, path, max_pixels=max_pixels)


def depth_from_bytes(data: bytes, path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray | None:
    """:func:`read_depth` of a photo file's bytes, already read; `path` names it in errors."""
    try:
        if is_heif(data):
            return _heif_depth(data) if pillow_heif is not None else None
        if data[:2] == b"\xff\xd8":
            return _jpeg_depth(data, path, max_pixels)
    except PhotoError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, zlib.error) as error:
        raise PhotoError(path, f"cannot decode its depth map: {error}") from None
    return None


def _embedded_gray(encoded: bytes, path, max_pixels: int) -> np.ndarray:
    """Gray values of an image file held inside the photo, under the photo's pixel limit."""
    with Image.open(io.BytesIO(encoded)) as image:
        if image.size[0] * image.size[1] > max_pixels:
            raise ImageTooLarge(path, image.size, max_pixels)
        return _gray_values(image)

def _gray_values(image: Image.Image) -> np.ndarray:
    """Gray values of any Pillow image as float32 in [0, 1] of its bit depth."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        return np.clip(np.asarray(image, dtype=np.float32) / 65535, 0, 1)
    if image.mode == "F":
        return np.clip(np.asarray(image, dtype=np.float32), 0, 1)
    values = np.asarray(image if image.mode == "L" else image.convert("L"), dtype=np.float32)
    return values / np.float32(255)


def _heif_depth(data: bytes) -> np.ndarray | None:
    # From the bytes already read for the file type and the boxes, not the path again.
    heif = pillow_heif.open_heif(io.BytesIO(data))
    if not heif.info.get("depth_images"):
        return None
    depth_image = heif.info["depth_images"][0]
    disparity = _gray_values(depth_image.to_pillow())
    if depth_image.info.get("metadata", {}).get("representation_type") == _HEIF_DEPTH_IS_DISTANCE:
        disparity = 1 - disparity
    # libheif turns each item by its own transform properties only; a depth
    # item that lacks its primary's comes out in sensor orientation.  The EXIF
    # orientation plays no part: pillow-heif resets it without turning the photo.
    disparity = apply_transforms(disparity, depth_map_transforms(data))
    return np.ascontiguousarray(disparity, dtype=np.float32)


# auxC types that libheif takes for the depth map of the image they are auxiliary to.


def _jpeg_xmp(data: bytes) -> bytes:
    """The standard XMP packet and the extended XMP of a JPEG, concatenated."""
    standard, chunks = b"", {}
    position = 2
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no more metadata
            break
        length = int.from_bytes(data[position + 2:position + 4], "big")
        body = data[position + 4:position + 2 + length]
        if marker == 0xE1 and body.startswith(_XMP_STANDARD):
            standard = body[len(_XMP_STANDARD):]
        elif marker == 0xE1 and body.startswith(_XMP_EXTENSION):
            # GUID (32), full length (4), offset (4), then this chunk's data.
            header = len(_XMP_EXTENSION)
            offset = int.from_bytes(body[header + 36:header + 40], "big")
            chunks[offset] = body[header + 40:]
        position += 2 + length
    return standard + b"".join(chunks[offset] for offset in sorted(chunks))


def _xmp_value(xmp: bytes, name: str) -> str | None:
    """An XMP property written as an attribute or as an element."""
    match = re.search(rb"%s\s*=\s*\"([^\"]*)\"|<%s>([^<]*)</%s>" % ((re.escape(name.encode()),) * 3), xmp)
    if match is None:
        return None
    return (match.group(1) if match.group(1) is not None else match.group(2)).decode("ascii", "replace")


def _range_to_disparity(values: np.ndarray, format_: str | None, near, far) -> np.ndarray:
    """Google depth encodings (near = 0) to disparity in [0, 1] (near = 1)."""
    if format_ == "RangeLinear" and near and far and float(far) > float(near) > 0:
        near, far = float(near), float(far)
        distance = near + values * (far - near)
        return ((1 / distance - 1 / far) / (1 / near - 1 / far)).astype(np.float32)
    # RangeInverse stores a value linear in 1 / distance: disparity is its complement.
    return (1 - values).astype(np.float32)


def _jpeg_depth(data: bytes, path, max_pixels: int) -> np.ndarray | None:
    xmp = _jpeg_xmp(data)
    if not xmp:
        return None
    encoded = _xmp_value(xmp, "GDepth:Data")
    if encoded:
        values = _embedded_gray(base64.b64decode(encoded), path, max_pixels)
        return _range_to_disparity(values, _xmp_value(xmp, "GDepth:Format"),
                                   _xmp_value(xmp, "GDepth:Near"), _xmp_value(xmp, "GDepth:Far"))
    return _dynamic_depth(data, xmp, path, max_pixels)


def _dynamic_depth(data: bytes, xmp: bytes, path, max_pixels: int) -> np.ndarray | None:
    """The depth item of a Dynamic Depth JPEG (items appended after the photo)."""
    attributes = re.findall(rb"<Container:Item\b([^>]*)>", xmp)
    lengths = [int(_xmp_value(item, "Item:Length") or 0) for item in attributes]
    semantics = [_xmp_value(item, "Item:Semantic") for item in attributes]
    if "Depth" not in semantics:
        return None
    index = semantics.index("Depth")
    start = len(data) - sum(lengths[index:])
    end = start + lengths[index]
    if start <= 0 or lengths[index] <= 0:
        return None
    values = _embedded_gray(data[start:end], path, max_pixels)
    return _range_to_disparity(values, _xmp_value(xmp, "Depth:Format"),
                               _xmp_value(xmp, "Depth:Near"), _xmp_value(xmp, "Depth:Far"))
