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

from ..imaging.samples import to_samples, to_unit_float
from .atomic import atomic_write
from .formats import ALPHA_FORMATS, GRAY_FORMATS, looks_complete, output_format
from .metadata import XMP_TAG, fitting_metadata, writer_params
from .photo import Photo

__all__ = ["write_photo", "file_samples", "write_mask", "write_cutout", "write_json"]


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
    pixels : ndarray
        (H, W, 3) float32 RGB values in [0, 1] (clipped), or the samples
        :func:`file_samples` made of them for this source and format.
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
    samples = file_samples(pixels, source, format)
    keep = metadata == "keep"
    icc = source.icc_profile
    exif, xmp, left_out = fitting_metadata(name, source.exif if keep else None, source.xmp if keep else None)

    alpha = source.transparency
    if alpha is None or name not in ALPHA_FORMATS or alpha.shape != samples.shape[:2]:
        alpha = None  # alpha belongs to the source geometry and to formats that hold it
    complete = partial(looks_complete, name)

    if samples.dtype == np.uint16:
        channels = samples if alpha is None else np.dstack([samples, to_samples(alpha, np.uint16)])
        if name == "PNG":
            writer = _png16_writer(channels, icc, exif, xmp)
        else:
            writer = _tiff16_writer(channels, icc, xmp)
        atomic_write(path, writer, complete)
        return left_out

    gray = samples.shape[2] == 1
    image = Image.fromarray(samples[:, :, 0] if gray else samples, "L" if gray else "RGB")
    if alpha is not None:
        image.putalpha(Image.fromarray(to_samples(alpha, np.uint8), "L"))
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


def file_samples(pixels: np.ndarray, source: Photo, format: str | None = None) -> np.ndarray:
    """A result's pixels rounded to the samples its file holds (see :func:`write_photo`).

    A batch rounds each result as soon as it is rendered: it then waits to
    be written in a quarter (8 bits) of the memory its floats take.

    Parameters
    ----------
    pixels : ndarray
        (H, W, 3) float32 RGB values in [0, 1]; or samples already rounded
        for this file (what this function returned, which is returned as it
        is, or the three equal channels of a gray source).
    source : Photo
    format : str, optional
        As for :func:`write_photo`.

    Returns
    -------
    ndarray
        uint16 where the file keeps 16 bits (a 16-bit source written as PNG
        or TIFF), else uint8; (H, W, 1) where the file is gray, else (H, W, 3).
    """
    name, _ = output_format(source.format, format)
    depth = np.uint16 if source.high_bit_depth and name in ("PNG", "TIFF") else np.uint8
    gray = source.gray and name in GRAY_FORMATS
    if pixels.dtype.kind != "f":
        if gray and pixels.shape[2] == 3:
            pixels = pixels[:, :, :1]  # a gray source's channels are equal
        if pixels.dtype != depth or pixels.shape[2] != (1 if gray else 3):
            raise ValueError(f"{pixels.dtype} samples with {pixels.shape[2]} channels are not what a "
                             f"{name} file of this source holds")
        return pixels
    if gray:
        pixels = pixels.mean(axis=2, dtype=np.float32)[:, :, None]
    return to_samples(pixels, depth)


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
    """Write an (H, W) alpha, float in [0, 1] or uint8, as an 8-bit greyscale PNG, atomically."""
    image = Image.fromarray(_eight_bit(alpha), "L")
    atomic_write(path, lambda file: image.save(file, format="PNG"), partial(looks_complete, "PNG"))


def write_cutout(
    path, pixels: np.ndarray, alpha: np.ndarray, *, icc_profile: bytes | None = None
) -> None:
    """Write the subject alone as an 8-bit RGBA PNG.

    `pixels` (H, W, 3) and `alpha` (H, W) are uint8, or anything
    :func:`bokehme.imaging.samples.to_unit_float` takes (16-bit samples,
    floats in [0, 1]).
    """
    rgba = np.dstack([_eight_bit(pixels), _eight_bit(alpha)])
    image = Image.fromarray(rgba, "RGBA")
    params = {"icc_profile": icc_profile} if icc_profile else {}
    atomic_write(path, lambda file: image.save(file, format="PNG", **params), partial(looks_complete, "PNG"))


def _eight_bit(values: np.ndarray) -> np.ndarray:
    """uint8 values as they are, others (uint16, floats in [0, 1]) rounded to 8 bits."""
    return values if values.dtype == np.uint8 else to_samples(to_unit_float(values), np.uint8)


def write_json(path, value) -> None:
    """Write a JSON document atomically (reports), in UTF-8.

    A file name that is not valid in the file system's encoding holds lone
    surrogates (Python's ``surrogateescape``); they are written as JSON's
    ``\\udcXX`` escapes, which read back to the same name.
    """
    import json

    text = json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    atomic_write(path, lambda file: file.write(text.encode("utf-8", "backslashreplace")))
