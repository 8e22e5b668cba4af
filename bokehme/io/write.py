"""Writing results: the rendered photo, its mask and cutout, and reports.

Every file is written atomically (:mod:`bokehme.io.atomic`) in the format,
bit depth and metadata policy chosen from its source photo.
"""

from __future__ import annotations

import zlib
from functools import partial
from typing import BinaryIO, Callable

import numpy as np
from PIL import Image

from .atomic import atomic_write
from .formats import ALPHA_FORMATS, GRAY_FORMATS, looks_complete, output_format
from .metadata import XMP_TAG, fitting_metadata, writer_params
from .photo import Photo

__all__ = ["write_photo", "write_mask", "write_cutout", "write_json"]


def write_photo(
    path,
    pixels: np.ndarray,
    *,
    source: Photo,
    format: str | None = None,
    quality: int = 95,
    subsampling: str = "4:4:4",
    metadata: str = "keep",
) -> list[str]:
    """Write an RGB result atomically, alongside the source's alpha and metadata.

    Parameters
    ----------
    path : str or Path
        Output file; replaced only once the new file is completely written.
    pixels : (H, W, 3) float32 ndarray
        RGB values in [0, 1] (clipped).
    source : Photo
        The photo the result comes from: its format, bit depth, transparency,
        grayness and metadata decide how the result is written.
    format : str, optional
        Output format (see `output_format`); the source's by default.
    quality : int, optional
        JPEG/WebP quality, 1-100.
    subsampling : {"4:4:4", "4:2:2", "4:2:0"}, optional
        JPEG chroma subsampling; 4:4:4 keeps thin coloured edges sharp.
    metadata : {"keep", "strip"}, optional
        ``"keep"`` writes the ICC profile, EXIF and XMP of the source where the
        format allows; ``"strip"`` writes only the ICC profile (no EXIF, GPS,
        XMP, comments or thumbnails).

    Returns
    -------
    left_out : list of str
        The metadata that did not fit the output format and was left out
        (a JPEG holds at most 64 KB of EXIF and of XMP), in a few words each.

    Raises
    ------
    PhotoError
        If the file cannot be written; nothing is left behind.

    Notes
    -----
    A gray source gives a gray file (8 or 16 bits) in the formats that hold
    one (JPEG, PNG, TIFF); the channels of its rendering are equal, since
    every step treats them alike.
    """
    if metadata not in ("keep", "strip"):
        raise ValueError(f"metadata must be 'keep' or 'strip', not {metadata!r}")
    if subsampling not in ("4:4:4", "4:2:2", "4:2:0"):
        raise ValueError(f"subsampling must be 4:4:4, 4:2:2 or 4:2:0, not {subsampling!r}")
    name, _ = output_format(source.format, format)
    keep = metadata == "keep"
    icc = source.icc_profile
    exif, xmp, left_out = fitting_metadata(name, source.exif if keep else None, source.xmp if keep else None)
    gray = source.gray and name in GRAY_FORMATS
    if gray:
        pixels = pixels.mean(axis=2, dtype=np.float32)[:, :, None]

    alpha = source.transparency
    if alpha is None or name not in ALPHA_FORMATS or alpha.shape != pixels.shape[:2]:
        alpha = None  # alpha belongs to the source geometry and to formats that hold it
    complete = partial(looks_complete, name)

    if source.high_bit_depth and name in ("PNG", "TIFF"):
        channels = pixels if alpha is None else np.dstack([pixels, alpha])
        array = _quantize(channels, np.uint16)
        if name == "PNG":
            writer = _png16_writer(array, icc, exif, xmp)
        else:
            writer = _tiff16_writer(array, icc, xmp)
        atomic_write(path, writer, complete)
        return left_out

    channels = _quantize(pixels, np.uint8)
    image = Image.fromarray(channels[:, :, 0] if gray else channels, "L" if gray else "RGB")
    if alpha is not None:
        image.putalpha(Image.fromarray(_quantize(alpha, np.uint8), "L"))
    params: dict = {}
    if icc:
        params["icc_profile"] = icc
    if name == "JPEG":
        params.update(quality=quality, subsampling=subsampling, optimize=True)
    elif name == "PNG":
        # On photographs zlib level 1 is several times faster than the
        # default 6 and barely bigger: grain does not compress anyway.
        params["compress_level"] = 1
    elif name == "WEBP":
        # exact: a lossless copy keeps even the colour under transparent pixels.
        params.update(quality=quality, lossless=source.lossless, exact=source.lossless, method=4)
    if exif or xmp:
        params.update(writer_params(name, exif, xmp))
    atomic_write(path, lambda file: image.save(file, format=name, **params), complete)
    return left_out


def _quantize(values: np.ndarray, dtype) -> np.ndarray:
    """Round [0, 1] floats to the full range of an unsigned integer dtype.

    Works in bands of rows so that a 48 MP photo needs no second full-size
    float32 copy (about 550 MB) on top of the caller's.
    """
    if dtype == np.uint8:
        import cv2

        # One pass that scales, rounds and saturates, into the 8-bit result.
        values = np.ascontiguousarray(values, dtype=np.float32)
        return cv2.addWeighted(values, 255.0, values, 0.0, 0.0, dtype=cv2.CV_8U).reshape(values.shape)
    top = np.float32(np.iinfo(dtype).max)
    out = np.empty(values.shape, dtype)
    rows = max(1, (1 << 22) // max(1, values[0].size))
    for start in range(0, len(values), rows):
        scaled = np.clip(values[start : start + rows], 0, 1, dtype=np.float32)
        scaled *= top
        scaled += np.float32(0.5)
        out[start : start + rows] = scaled  # the cast truncates: + 0.5 rounds
    return out


def _png16_writer(array: np.ndarray, icc, exif, xmp) -> Callable[[BinaryIO], None]:
    def write(file: BinaryIO) -> None:
        import cv2

        # OpenCV orders colour BGR(A); gray with alpha it cannot write, so that becomes RGBA.
        order = {1: [0], 2: [0, 0, 0, 1], 3: [2, 1, 0], 4: [2, 1, 0, 3]}[array.shape[2]]
        ok, encoded = cv2.imencode(".png", array[:, :, order])
        if not ok:
            raise OSError("16-bit PNG encoder failed")
        data = encoded.tobytes()
        # Metadata chunks go right after IHDR (8-byte signature + 25-byte IHDR).
        chunks = []
        if icc:
            chunks.append(_png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc)))
        if exif:
            tiff = exif[6:] if exif.startswith(b"Exif\x00\x00") else exif  # eXIf holds no prefix
            chunks.append(_png_chunk(b"eXIf", tiff))
        if xmp:
            chunks.append(_png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + xmp))
        file.write(data[:33] + b"".join(chunks) + data[33:])

    return write


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return len(data).to_bytes(4, "big") + kind + data + crc.to_bytes(4, "big")


def _tiff16_writer(array: np.ndarray, icc, xmp) -> Callable[[BinaryIO], None]:
    def write(file: BinaryIO) -> None:
        import tifffile  # installed with scikit-image

        extratags = [(XMP_TAG, "B", len(xmp), xmp, True)] if xmp else []
        tifffile.imwrite(
            file,
            array,
            photometric="rgb" if array.shape[2] >= 3 else "minisblack",
            extrasamples=("unassalpha",) if array.shape[2] in (2, 4) else None,
            compression="zlib",
            iccprofile=icc,
            extratags=extratags,
        )

    return write


def write_mask(path, alpha: np.ndarray) -> None:
    """Write an (H, W) alpha in [0, 1] as an 8-bit greyscale PNG, atomically."""
    image = Image.fromarray(_quantize(alpha, np.uint8), "L")
    atomic_write(path, lambda file: image.save(file, format="PNG"), partial(looks_complete, "PNG"))


def write_cutout(
    path, pixels: np.ndarray, alpha: np.ndarray, *, icc_profile: bytes | None = None
) -> None:
    """Write the subject alone: RGB (H, W, 3) and alpha (H, W) in [0, 1] as an RGBA PNG."""
    rgba = _quantize(np.dstack([pixels, alpha]), np.uint8)
    image = Image.fromarray(rgba, "RGBA")
    params = {"icc_profile": icc_profile} if icc_profile else {}
    atomic_write(path, lambda file: image.save(file, format="PNG", **params), partial(looks_complete, "PNG"))


def write_json(path, value) -> None:
    """Write a JSON document atomically (reports), in UTF-8.

    A file name that is not valid in the file system's encoding holds lone
    surrogates (Python's ``surrogateescape``); they are written as JSON's
    ``\\udcXX`` escapes, which read back to the same name.
    """
    import json

    text = json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    atomic_write(path, lambda file: file.write(text.encode("utf-8", "backslashreplace")))
