"""Reading and writing photos: the only module of bokehme that touches image files.

Everything inside bokehme works on float32 arrays in [0, 1]; this module turns
files of any common kind into such arrays (orientation applied, alpha split
off) and writes results back atomically, with a chosen metadata policy.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np
from PIL import Image, ImageCms, PngImagePlugin, UnidentifiedImageError

try:
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_SUPPORT = True
except ImportError:  # pragma: no cover - depends on the installation
    HEIF_SUPPORT = False

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "Photo",
    "PhotoError",
    "metadata_fields",
    "output_extension",
    "output_format",
    "read_mask",
    "read_photo",
    "write_cutout",
    "write_mask",
    "write_json",
    "write_photo",
]

#: Pillow's own decompression-bomb limit (about 89 megapixels).
DEFAULT_MAX_PIXELS: int = Image.MAX_IMAGE_PIXELS or 89_478_485

# read_photo enforces its own max_pixels limit with a clear message, so
# Pillow's warning for the same condition would only be noise.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

_ORIENTATION = 0x0112
_XMP_TAG = 700
_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
# Descriptive IFD0 tags worth carrying over from a TIFF source; the rest of a
# TIFF's IFD0 describes its own pixel layout and must not leak into an output.
_TIFF_DESCRIPTIVE_TAGS = (0x010E, 0x010F, 0x0110, 0x0131, 0x0132, 0x013B, 0x8298)
_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")

# Writable output formats and their usual extension.
_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "TIFF": ".tif"}
_FORMAT_ALIASES = {"JPG": "JPEG", "TIF": "TIFF"}
# Source formats bokehme cannot (or should not) write back, and what to use instead.
_FALLBACK_FORMATS = {"MPO": "JPEG", "HEIF": "JPEG", "AVIF": "JPEG"}
_ALPHA_FORMATS = ("PNG", "WEBP", "TIFF")
_LOSSLESS_FORMATS = ("PNG", "TIFF", "BMP", "GIF")


class PhotoError(Exception):
    """A photo could not be read or written; ``str(error)`` is one line.

    Parameters
    ----------
    path : str or Path
        The file concerned.
    reason : str
        Why, in a few words.
    """

    def __init__(self, path, reason: str):
        self.path = Path(path)
        self.reason = " ".join(str(reason).split())  # always a single line
        super().__init__(f"{self.path}: {self.reason}")


@dataclass
class Photo:
    """A decoded photo and what must travel with it to the output.

    Attributes
    ----------
    pixels : (H, W, 3) float32 ndarray
        RGB values in [0, 1], encoded as in the source (usually sRGB), with the
        EXIF orientation already applied.
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
    """

    pixels: np.ndarray
    transparency: np.ndarray | None
    format: str
    icc_profile: bytes | None = None
    exif: bytes | None = None
    xmp: bytes | None = None
    high_bit_depth: bool = False
    lossless: bool = False
    frame_count: int = 1


# --------------------------------------------------------------------------- reading


def read_photo(path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Photo:
    """Decode an image file into a `Photo`.

    The kind of file is recognised from its content, not its name.  The file
    is only ever opened for reading.

    Parameters
    ----------
    path : str or Path
        The image file.
    max_pixels : int, optional
        Refuse images with more pixels than this (decompression bombs).

    Returns
    -------
    photo : Photo

    Raises
    ------
    PhotoError
        For any file that cannot be decoded, with a one-line reason.
    """
    path = Path(path)
    if max_pixels > (Image.MAX_IMAGE_PIXELS or 0):
        # Pillow refuses outright above twice its own limit; the caller has
        # asked for more, and max_pixels below is the limit that applies.
        Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with open(path, "rb") as file:
            head = file.read(32)
            if not head:
                raise PhotoError(path, "empty file (0 bytes)")
            file.seek(0)
            try:
                image = Image.open(file)
            except UnidentifiedImageError:
                raise PhotoError(path, _unidentified_reason(head)) from None
            except Image.DecompressionBombError:
                raise PhotoError(path, _too_large_reason(None, max_pixels)) from None
            with image:
                width, height = image.size
                if width * height > max_pixels:
                    raise PhotoError(path, _too_large_reason((width, height), max_pixels))
                return _decode(image, path, head)
    except PhotoError:
        raise
    except FileNotFoundError:
        raise PhotoError(path, "no such file") from None
    except IsADirectoryError:
        raise PhotoError(path, "is a folder, not an image") from None
    except PermissionError:
        raise PhotoError(path, "permission denied") from None
    except (OSError, SyntaxError, ValueError, EOFError, zlib.error) as error:
        # Pillow reports damaged data as OSError (truncated), SyntaxError
        # (broken headers) or ValueError; all are bad input, not bugs.
        raise PhotoError(path, f"cannot decode: {error}") from None


def _unidentified_reason(head: bytes) -> str:
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS and not HEIF_SUPPORT:
        return "install pillow-heif to read HEIC/HEIF"
    return "not a recognised image file"


def _too_large_reason(size, max_pixels: int) -> str:
    what = f"{size[0]}x{size[1]} = {size[0] * size[1]:,} pixels" if size else "image"
    return f"too large ({what} > {max_pixels:,}); raise the limit with --max-pixels"


def _decode(image: Image.Image, path: Path, head: bytes) -> Photo:
    source_format = image.format or "unknown"
    frame_count = getattr(image, "n_frames", 1)
    image.seek(0)
    orientation = image.getexif().get(_ORIENTATION, 1)
    icc_profile = image.info.get("icc_profile") or None
    exif = _source_exif(image)
    xmp = _source_xmp(image)
    lossless = source_format in _LOSSLESS_FORMATS or (
        source_format == "WEBP" and _webp_is_lossless(image.fp)  # before load() closes fp
    )

    high_bit_depth = _is_16_bit(image, head)
    if high_bit_depth and image.mode in ("RGB", "RGBA", "LA"):
        # Pillow has no 16-bit colour mode and would truncate to 8 bits.
        pixels, transparency = _decode_16_bit_colour(path)
    else:
        image.load()
        # Pillow turns TIFFs upright while loading and then drops the tag.
        orientation = image.getexif().get(_ORIENTATION, 1)
        pixels, transparency, icc_profile = _to_rgb(image, icc_profile)

    pixels = _orient(pixels, orientation)
    if transparency is not None:
        transparency = _orient(transparency, orientation)
    return Photo(
        pixels=pixels,
        transparency=transparency,
        format=source_format,
        icc_profile=icc_profile,
        exif=exif,
        xmp=xmp,
        high_bit_depth=high_bit_depth,
        lossless=lossless,
        frame_count=frame_count,
    )


def _is_16_bit(image: Image.Image, head: bytes) -> bool:
    if image.mode.startswith("I;16") or image.mode == "I":
        return True
    if image.format == "PNG":
        return head[24] == 16  # IHDR bit depth
    if image.format == "TIFF":
        bits = image.tag_v2.get(258, (8,))
        return 16 in (bits if isinstance(bits, tuple) else (bits,))
    return False


def _decode_16_bit_colour(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    import cv2  # present with mediapipe; only 16-bit colour files need it

    data = bytearray(path.read_bytes())
    # IMREAD_UNCHANGED keeps 16 bits and alpha and ignores EXIF orientation,
    # but OpenCV's TIFF decoder applies the file's own orientation tag anyway.
    # The caller applies it once for every format, so neutralise it here.
    try:
        _reset_orientation(data, 0)
    except (IndexError, ValueError):
        pass  # a PNG, or a TIFF layout we do not patch
    array = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None or array.dtype != np.uint16:
        raise ValueError("unsupported 16-bit layout")
    if array.ndim == 2:
        array = array[:, :, None]
    scale = np.float32(1 / 65535)
    colour = array[:, :, [2, 1, 0]] if array.shape[2] >= 3 else array[:, :, [0, 0, 0]]
    pixels = colour.astype(np.float32)
    pixels *= scale
    transparency = None
    if array.shape[2] in (2, 4):
        transparency = array[:, :, -1].astype(np.float32)
        transparency *= scale
    return pixels, _opaque_to_none(transparency)


def _to_rgb(image: Image.Image, icc_profile: bytes | None):
    """Convert any Pillow mode to float RGB (+ alpha); returns the matching ICC."""
    mode = image.mode
    transparency = None
    if mode == "CMYK":
        image, icc_profile = _cmyk_to_rgb(image, icc_profile)
    elif mode.startswith("I;16") or mode == "I":
        gray = np.asarray(image).astype(np.float32)
        gray *= np.float32(1 / 65535)
        np.clip(gray, 0, 1, out=gray)
        return np.repeat(gray[:, :, None], 3, axis=2), None, _rgb_compatible(icc_profile)
    elif mode == "F":
        gray = np.clip(np.asarray(image, dtype=np.float32), 0, 1)
        return np.repeat(gray[:, :, None], 3, axis=2), None, _rgb_compatible(icc_profile)

    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        image = image.convert("RGBA")
        rgba = np.asarray(image)
        transparency = rgba[:, :, 3].astype(np.float32)
        transparency *= np.float32(1 / 255)
        rgb = rgba[:, :, :3]
    else:
        rgb = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    pixels = rgb.astype(np.float32)
    pixels *= np.float32(1 / 255)
    return pixels, _opaque_to_none(transparency), _rgb_compatible(icc_profile)


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


def _source_exif(image: Image.Image) -> bytes | None:
    raw = image.info.get("exif")
    if isinstance(raw, bytes) and raw:
        if not raw.startswith(b"Exif\x00\x00"):
            raw = b"Exif\x00\x00" + raw
        upright = _upright_exif(raw)
        if upright is not None:
            return upright
        # Unparseable by hand: Pillow rebuilds it (without the thumbnail).
        exif = Image.Exif()
        exif.load(raw)
        exif[_ORIENTATION] = 1
        return exif.tobytes()
    if image.format != "TIFF":
        return None
    # A TIFF keeps its EXIF in its own IFD0 among its layout tags: copy the
    # descriptive tags and the EXIF/GPS sub-directories only.
    source = image.getexif()
    exif = Image.Exif()
    for tag in _TIFF_DESCRIPTIVE_TAGS:
        if tag in source:
            exif[tag] = source[tag]
    for tag in (_EXIF_IFD, _GPS_IFD):
        if tag in source:
            exif[tag] = source.get_ifd(tag)
    if not len(exif):
        return None
    exif[_ORIENTATION] = 1
    return exif.tobytes()


def _tiff_fields(data: bytearray, tiff: int):
    """Readers for the classic TIFF structure at ``data[tiff]`` (file or EXIF block).

    Returns ``(byteorder, number, entries)``: ``number(start, size)`` reads an
    unsigned integer, ``entries(ifd)`` yields ``(position, tag)`` of each
    directory entry.  Raises ValueError for a bad header, IndexError when the
    structure points outside the data.
    """
    byteorder = {b"II": "little", b"MM": "big"}.get(bytes(data[tiff : tiff + 2]))
    if byteorder is None or int.from_bytes(data[tiff + 2 : tiff + 4], byteorder) != 42:
        raise ValueError("not a classic TIFF structure")

    def number(start: int, size: int) -> int:
        if start + size > len(data):
            raise IndexError(start)
        return int.from_bytes(data[start : start + size], byteorder)

    def entries(ifd: int):
        for entry in range(ifd + 2, ifd + 2 + 12 * number(ifd, 2), 12):
            yield entry, number(entry, 2)

    return byteorder, number, entries


def _reset_orientation(data: bytearray, tiff: int) -> int:
    """Set Orientation to 1 in the first directory, in place.

    Returns the position of that directory's pointer to the next one.
    """
    byteorder, number, entries = _tiff_fields(data, tiff)
    ifd0 = tiff + number(tiff + 4, 4)
    for entry, tag in entries(ifd0):
        if tag == _ORIENTATION:
            data[entry + 8 : entry + 10] = (1).to_bytes(2, byteorder)
    return ifd0 + 2 + 12 * number(ifd0, 2)


def _upright_exif(raw: bytes) -> bytes | None:
    """Set Orientation to 1 and drop the thumbnail, patching EXIF bytes in place.

    Rewriting the whole block would move maker notes whose internal offsets
    then point nowhere; patching a few bytes cannot break them.  The embedded
    thumbnail shows the unprocessed photo (file browsers display it), so its
    link is cut and its bytes blanked.  Returns None if the bytes cannot be
    parsed.
    """
    data = bytearray(raw)
    tiff = 6  # after b"Exif\0\0"
    try:
        next_pointer = _reset_orientation(data, tiff)
        _, number, entries = _tiff_fields(data, tiff)
        ifd1 = number(next_pointer, 4)
        if ifd1:
            data[next_pointer : next_pointer + 4] = bytes(4)
            thumbnail = {tag: number(entry + 8, 4) for entry, tag in entries(tiff + ifd1)}
            start, length = tiff + thumbnail.get(0x0201, 0), thumbnail.get(0x0202, 0)
            if length and start + length <= len(data):
                if start + length == len(data):
                    del data[start:]  # the usual layout: thumbnail last
                else:
                    data[start : start + length] = bytes(length)
    except (IndexError, ValueError):
        return None
    return bytes(data)


def _source_xmp(image: Image.Image) -> bytes | None:
    xmp = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp")
    if isinstance(xmp, tuple):
        xmp = bytes(xmp)
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    if not xmp:
        return None
    # The pixels are upright now; an XMP orientation would rotate them again.
    # Both XMP spellings: tiff:Orientation="6" and <tiff:Orientation>6</...>.
    xmp = re.sub(rb'(tiff:Orientation(?:="|>))[0-9]', rb"\g<1>1", xmp)
    # A written photo never carries the depth map along (extended XMP and
    # appended items are not copied), and a depth map would no longer fit
    # blurred pixels: pointers to one would be stale.
    return re.sub(_DEPTH_XMP, b"", xmp)


# GDepth properties, the extended-XMP pointer, and Dynamic Depth's directory
# of appended items, each as an attribute or as an element.
_DEPTH_XMP = re.compile(
    rb'\s(?:GDepth:\w+|xmpNote:HasExtendedXMP)\s*=\s*"[^"]*"'
    rb"|<(GDepth:\w+|xmpNote:HasExtendedXMP|Container:Directory)\b[^>]*?(?:/>|>.*?</\1>)",
    re.DOTALL,
)


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


# --------------------------------------------------------------------------- writing


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
        if name not in _EXTENSIONS:
            choices = ", ".join(_EXTENSIONS)
            raise ValueError(f"cannot write {requested!r} files; choose one of {choices}")
    elif source_format in _EXTENSIONS:
        name = source_format
    else:
        # GIF/BMP and anything unusual: PNG is lossless and keeps alpha.
        name = _FALLBACK_FORMATS.get(source_format, "PNG")
    return name, _EXTENSIONS[name]


def write_photo(
    path,
    pixels: np.ndarray,
    *,
    source: Photo,
    format: str | None = None,
    quality: int = 95,
    subsampling: str = "4:4:4",
    metadata: str = "keep",
) -> None:
    """Write an RGB result atomically, alongside the source's alpha and metadata.

    Parameters
    ----------
    path : str or Path
        Output file; replaced only once the new file is completely written.
    pixels : (H, W, 3) float32 ndarray
        RGB values in [0, 1] (clipped).
    source : Photo
        The photo the result comes from: its format, bit depth, transparency
        and metadata decide how the result is written.
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

    Raises
    ------
    PhotoError
        If the file cannot be written; nothing is left behind.
    """
    if metadata not in ("keep", "strip"):
        raise ValueError(f"metadata must be 'keep' or 'strip', not {metadata!r}")
    if subsampling not in ("4:4:4", "4:2:2", "4:2:0"):
        raise ValueError(f"subsampling must be 4:4:4, 4:2:2 or 4:2:0, not {subsampling!r}")
    name, _ = output_format(source.format, format)
    keep = metadata == "keep"
    icc = source.icc_profile
    exif = source.exif if keep else None
    xmp = source.xmp if keep else None

    alpha = source.transparency
    if alpha is None or name not in _ALPHA_FORMATS or alpha.shape != pixels.shape[:2]:
        alpha = None  # alpha belongs to the source geometry and to formats that hold it

    if source.high_bit_depth and name in ("PNG", "TIFF"):
        channels = pixels if alpha is None else np.dstack([pixels, alpha])
        array = _quantize(channels, np.uint16)
        if name == "PNG":
            writer = _png16_writer(array, icc, exif, xmp)
        else:
            writer = _tiff16_writer(array, icc, xmp)
        _atomic_write(path, writer)
        return

    image = Image.fromarray(_quantize(pixels, np.uint8), "RGB")
    if alpha is not None:
        image.putalpha(Image.fromarray(_quantize(alpha, np.uint8), "L"))
    params: dict = {}
    if icc:
        params["icc_profile"] = icc
    if name == "JPEG":
        params.update(quality=quality, subsampling=subsampling, optimize=True)
    elif name == "PNG":
        # On photographs zlib level 1 is ~3x faster than the default 6 and
        # no bigger (12 MP: 1.7 s vs 5.8 s, 20.4 vs 20.6 MB).
        params["compress_level"] = 1
    elif name == "WEBP":
        # exact: a lossless copy keeps even the colour under transparent pixels.
        params.update(quality=quality, lossless=source.lossless, exact=source.lossless, method=4)
    if exif or xmp:
        params.update(_metadata_params(name, exif, xmp))
    _atomic_write(path, lambda file: image.save(file, format=name, **params))


def _metadata_params(name: str, exif: bytes | None, xmp: bytes | None) -> dict:
    if name in ("JPEG", "WEBP"):
        return {key: value for key, value in (("exif", exif), ("xmp", xmp)) if value}
    if name == "PNG":
        params = {"exif": exif} if exif else {}
        if xmp:
            info = PngImagePlugin.PngInfo()
            info.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8", "replace"))
            params["pnginfo"] = info
        return params
    # TIFF: EXIF tags live in the file's own IFD0, XMP in tag 700.  Pillow
    # writes EXIF/GPS sub-directories only uncompressed (libtiff refuses them).
    tags = Image.Exif()
    if exif:
        tags.load(exif)
    if xmp:
        tags[_XMP_TAG] = xmp
    return {"exif": tags}


def _quantize(values: np.ndarray, dtype) -> np.ndarray:
    """Round [0, 1] floats to the full range of an unsigned integer dtype.

    Works in bands of rows so that a 48 MP photo needs no second full-size
    float32 copy (about 550 MB) on top of the caller's.
    """
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

        bgr = array[:, :, [2, 1, 0, 3][: array.shape[2]]]
        ok, encoded = cv2.imencode(".png", bgr)
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

        extratags = [(_XMP_TAG, "B", len(xmp), xmp, True)] if xmp else []
        tifffile.imwrite(
            file,
            array,
            photometric="rgb",
            extrasamples=("unassalpha",) if array.shape[2] == 4 else None,
            compression="zlib",
            iccprofile=icc,
            extratags=extratags,
        )

    return write


def write_mask(path, alpha: np.ndarray) -> None:
    """Write an (H, W) alpha in [0, 1] as an 8-bit greyscale PNG, atomically."""
    image = Image.fromarray(_quantize(alpha, np.uint8), "L")
    _atomic_write(path, lambda file: image.save(file, format="PNG"))


def write_cutout(
    path, pixels: np.ndarray, alpha: np.ndarray, *, icc_profile: bytes | None = None
) -> None:
    """Write the subject alone: RGB (H, W, 3) and alpha (H, W) in [0, 1] as an RGBA PNG."""
    rgba = _quantize(np.dstack([pixels, alpha]), np.uint8)
    image = Image.fromarray(rgba, "RGBA")
    params = {"icc_profile": icc_profile} if icc_profile else {}
    _atomic_write(path, lambda file: image.save(file, format="PNG", **params))


def _atomic_write(path, write: Callable[[BinaryIO], None]) -> None:
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


def output_extension(path, requested: str | None = None) -> str:
    """The extension an output for `path` gets: the format `output_format` picks.

    Only the file's header is read.  A source whose extension already names
    the output format keeps it as spelled (``.JPEG`` stays ``.JPEG``); a file
    that cannot be identified keeps its own, and fails later when it is read.
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            source_format = image.format or ""
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        source_format = ""
    if not source_format and not requested:
        return path.suffix
    name, extension = output_format(source_format, requested)
    spelled = path.suffix.upper().lstrip(".")
    if _FORMAT_ALIASES.get(spelled, spelled) == name:
        return path.suffix
    return extension


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


def metadata_fields(photo: Photo) -> list[str]:
    """Names of the metadata a photo carries besides its ICC profile.

    EXIF tags by their EXIF names (GPS tags prefixed ``GPS``), and ``XMP``;
    what a stripped output no longer has.
    """
    from PIL import ExifTags

    fields = set()
    if photo.exif:
        exif = Image.Exif()
        exif.load(photo.exif)
        fields.update(ExifTags.TAGS.get(tag, f"0x{tag:04x}") for tag in exif)
        fields.update(ExifTags.TAGS.get(tag, f"0x{tag:04x}") for tag in exif.get_ifd(_EXIF_IFD))
        fields.update("GPS" + ExifTags.GPSTAGS.get(tag, f"0x{tag:04x}") for tag in exif.get_ifd(_GPS_IFD))
    if photo.xmp:
        fields.add("XMP")
    return sorted(fields)


def write_json(path, value) -> None:
    """Write a JSON document atomically (reports)."""
    import json

    text = json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    _atomic_write(path, lambda file: file.write(text.encode("utf-8")))


# --------------------------------------------------------------------------- depth maps

__all__ += ["read_depth", "read_depth_file"]

_XMP_EXTENSION = b"http://ns.adobe.com/xmp/extension/\x00"
_XMP_STANDARD = b"http://ns.adobe.com/xap/1.0/\x00"
# HEIF depth representation types (ISO/IEC 23008-12): 2 is distance, the rest disparity.
_HEIF_DEPTH_IS_DISTANCE = 2


def read_depth(path) -> np.ndarray | None:
    """The depth map a phone stored inside a photo, as disparity.

    Reads an iPhone/HEIF depth image (pillow-heif), Google's Dynamic Depth
    (a depth item appended to a JPEG and listed in its XMP container
    directory) or the older GDepth (a base64 image in the JPEG's XMP).

    Parameters
    ----------
    path : str or Path
        The photo.

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
    try:
        if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
            return _heif_depth(data) if HEIF_SUPPORT else None
        if data[:2] == b"\xff\xd8":
            return _jpeg_depth(data)
    except (OSError, SyntaxError, ValueError, EOFError, zlib.error) as error:
        raise PhotoError(path, f"cannot decode its depth map: {error}") from None
    return None


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
    disparity = _apply_item_transforms(disparity, _heif_depth_correction(data))
    return np.ascontiguousarray(disparity, dtype=np.float32)


# auxC types that libheif takes for the depth map of the image they are auxiliary to.
_HEIF_DEPTH_AUXILIARIES = (b"urn:mpeg:hevc:2015:auxid:2", b"urn:mpeg:mpegB:cicp:systems:auxiliary:depth")


def _boxes(data: bytes, start: int = 0, end: int | None = None):
    """The ISO-BMFF boxes in ``data[start:end]``.

    Yields
    ------
    kind : bytes
        The four-character box type.
    body, stop : int
        Where the box's content starts and where the box ends.

    Raises
    ------
    ValueError
        If a box's size is impossible or runs past `end`.
    """
    end = len(data) if end is None else end
    while start + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, start)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, start + 8)[0], 16
        elif size == 0:  # the last box runs to the end of its container
            size = end - start
        if size < header or start + size > end:
            raise ValueError(f"broken {kind!r} box")
        yield kind, start + header, start + size
        start += size


def _heif_item_properties(data: bytes, start: int, end: int) -> dict[int, list[tuple[bytes, bytes]]]:
    """Each item's properties from an ``iprp`` box's content, in ``ipma`` order.

    Returns
    -------
    dict
        Item ID to a list of (box type, box content) pairs.
    """
    children = {kind: (body, stop) for kind, body, stop in _boxes(data, start, end)}
    properties = [(kind, data[body:stop]) for kind, body, stop in _boxes(data, *children[b"ipco"])]
    position, stop = children[b"ipma"]
    version, flags = data[position], data[position + 3]
    id_size, index_size = (2 if version == 0 else 4), (2 if flags & 1 else 1)
    index_mask = 0x7FFF if flags & 1 else 0x7F  # the top bit marks an essential property
    (count,), position = struct.unpack_from(">I", data, position + 4), position + 8
    items = {}
    for _ in range(count):
        item = int.from_bytes(data[position:position + id_size], "big")
        associations = data[position + id_size]
        position += id_size + 1
        indices = [int.from_bytes(data[at:at + index_size], "big") & index_mask
                   for at in range(position, position + associations * index_size, index_size)]
        position += associations * index_size
        if position > stop:
            raise ValueError("ipma runs past its box")
        # Index 0 means "no property".
        items[item] = [properties[index - 1] for index in indices if index]
    return items


def _heif_depth_item(data: bytes, start: int, end: int, primary: int, properties: dict) -> int | None:
    """The item holding the depth map of the `primary` image, as libheif picks it.

    Parameters
    ----------
    data : bytes
        The file.
    start, end : int
        Where the ``iref`` box's content lies in `data`.
    primary : int
        The primary item's ID (``pitm``).
    properties : dict
        `_heif_item_properties`.

    Returns
    -------
    int or None
        An item with an ``auxl`` reference to `primary` and a depth ``auxC``
        type; None if there is none.
    """
    id_size = 2 if data[start] == 0 else 4
    depth_items = []
    for kind, body, stop in _boxes(data, start + 4, end):
        if kind != b"auxl":
            continue
        source = int.from_bytes(data[body:body + id_size], "big")
        targets = [int.from_bytes(data[at:at + id_size], "big") for at in range(body + id_size + 2, stop, id_size)]
        aux_types = {content[4:].split(b"\0")[0] for name, content in properties.get(source, ()) if name == b"auxC"}
        if primary in targets and aux_types & set(_HEIF_DEPTH_AUXILIARIES):
            depth_items.append(source)
    # libheif keeps one depth map per image: the last of its items by ID.
    return max(depth_items, default=None)


def _heif_transforms(properties: list[tuple[bytes, bytes]], size: tuple[int, int] | None) -> list[tuple[str, object]]:
    """An item's transformative properties, in the order libheif applies them.

    Parameters
    ----------
    properties : list of (bytes, bytes)
        The item's (box type, box content) pairs in ``ipma`` order.
    size : (int, int) or None
        The item's (height, width) before any transform (``ispe``); crops
        are left out without it.

    Returns
    -------
    list of (str, object)
        ``("rotate", k)``: k quarter turns anticlockwise (``irot``);
        ``("mirror", axis)``: flip along this numpy axis (``imir``: axis 0
        exchanges top and bottom, axis 1 left and right);
        ``("crop", (top, left, bottom, right))``: keep this window, in
        fractions of the height and width at that point (``clap``).
    """
    height, width = size or (0, 0)
    operations = []
    for kind, content in properties:
        if kind == b"irot":
            operations.append(("rotate", content[0] & 3))
            if content[0] & 1:
                height, width = width, height
        elif kind == b"imir":
            operations.append(("mirror", content[0] & 1))
        elif kind == b"clap" and height and width:
            fractions = struct.unpack_from(">IIIIiIiI", content)  # numerator, denominator pairs
            crop_width, crop_height, offset_x, offset_y = (
                fractions[at] / fractions[at + 1] for at in range(0, 8, 2))
            # The clean aperture is centred on the image's centre plus the offset.
            left, top = (width - crop_width) / 2 + offset_x, (height - crop_height) / 2 + offset_y
            operations.append(("crop", (top / height, left / width,
                                        (top + crop_height) / height, (left + crop_width) / width)))
            height, width = crop_height, crop_width
    return operations


def _depth_correction(primary: list, depth: list) -> list[tuple[str, object]]:
    """What turns a depth map decoded with its own transforms into the photo's frame.

    The depth item's own turns and flips are undone, back to sensor
    orientation, and the primary's applied.  A crop cannot be undone: when
    the depth item has its own, the primary's crops are left out.

    Parameters
    ----------
    primary, depth : list of (str, object)
        `_heif_transforms` of the primary image and of its depth item.

    Returns
    -------
    list of (str, object)
        Operations for `_apply_item_transforms`.
    """
    undo = [(kind, -value % 4 if kind == "rotate" else value) for kind, value in reversed(depth) if kind != "crop"]
    depth_is_cropped = any(kind == "crop" for kind, _ in depth)
    return undo + [(kind, value) for kind, value in primary if not (depth_is_cropped and kind == "crop")]


def _heif_depth_correction(data: bytes) -> list[tuple[str, object]]:
    """Transforms to apply to the decoded depth map of a HEIF file (see `_depth_correction`).

    Returns no transform for a file without a depth item, or with boxes too
    damaged to tell: the depth map is then used as libheif decodes it.
    """
    try:
        meta = next((body, stop) for kind, body, stop in _boxes(data) if kind == b"meta")
        boxes = {kind: (body, stop) for kind, body, stop in _boxes(data, meta[0] + 4, meta[1])}
        pitm = boxes[b"pitm"][0]
        primary = int.from_bytes(data[pitm + 4:pitm + (6 if data[pitm] == 0 else 8)], "big")
        properties = _heif_item_properties(data, *boxes[b"iprp"])
        depth = _heif_depth_item(data, *boxes[b"iref"], primary, properties)
        if depth is None:
            return []
        spatial_extents = [content for kind, content in properties.get(primary, ()) if kind == b"ispe"]
        size = struct.unpack_from(">II", spatial_extents[0], 4)[::-1] if spatial_extents else None
        return _depth_correction(_heif_transforms(properties.get(primary, ()), size),
                                 _heif_transforms(properties[depth], None))
    except (StopIteration, KeyError, IndexError, ValueError, ZeroDivisionError, struct.error):
        return []


def _apply_item_transforms(array: np.ndarray, operations: list[tuple[str, object]]) -> np.ndarray:
    """Apply `_heif_transforms` operations to an (H, W) array of any resolution."""
    for kind, value in operations:
        if kind == "rotate":
            array = np.rot90(array, value)
        elif kind == "mirror":
            array = np.flip(array, value)
        else:
            height, width = array.shape[:2]
            top, left, bottom, right = value
            rows = slice(round(top * height), max(round(bottom * height), round(top * height) + 1))
            columns = slice(round(left * width), max(round(right * width), round(left * width) + 1))
            array = array[rows, columns]
    return array


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


def _jpeg_depth(data: bytes) -> np.ndarray | None:
    xmp = _jpeg_xmp(data)
    if not xmp:
        return None
    encoded = _xmp_value(xmp, "GDepth:Data")
    if encoded:
        import base64

        with Image.open(io.BytesIO(base64.b64decode(encoded))) as image:
            values = _gray_values(image)
        return _range_to_disparity(values, _xmp_value(xmp, "GDepth:Format"),
                                   _xmp_value(xmp, "GDepth:Near"), _xmp_value(xmp, "GDepth:Far"))
    return _dynamic_depth(data, xmp)


def _dynamic_depth(data: bytes, xmp: bytes) -> np.ndarray | None:
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
    with Image.open(io.BytesIO(data[start:end])) as image:
        values = _gray_values(image)
    return _range_to_disparity(values, _xmp_value(xmp, "Depth:Format"),
                               _xmp_value(xmp, "Depth:Near"), _xmp_value(xmp, "Depth:Far"))
