"""EXIF and XMP as bokehme keeps them: upright, without thumbnails or depth pointers.

The pixels bokehme writes are already upright, so every orientation tag is
reset to 1; the EXIF thumbnail shows the unprocessed photo, so it is cut;
XMP pointers to a depth map no longer fit blurred pixels, so they go.
EXIF is patched in place where possible, since rewriting the whole block
would move maker notes whose internal offsets then point nowhere.
"""

from __future__ import annotations

import re

from PIL import ExifTags, Image, IptcImagePlugin, PngImagePlugin

__all__ = [
    "ORIENTATION",
    "source_exif",
    "source_xmp",
    "reset_orientation",
    "metadata_fields",
    "left_behind",
    "fitting_metadata",
    "writer_params",
]

#: The EXIF Orientation tag.
ORIENTATION = 0x0112
#: The TIFF tag that holds XMP.
XMP_TAG = 700
_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_INTEROP_IFD = 0xA005
_SHORT = 3  # the TIFF field type of Orientation
#: The most EXIF (with its ``Exif\0\0`` header) and XMP one JPEG APP1 segment holds.
JPEG_EXIF_LIMIT = 65533
JPEG_XMP_LIMIT = 65533 - len(b"http://ns.adobe.com/xap/1.0/\x00")
# Descriptive IFD0 tags worth carrying over from a TIFF source; the rest of a
# TIFF's IFD0 describes its own pixel layout and must not leak into an output.
_TIFF_DESCRIPTIVE_TAGS = (0x010E, 0x010F, 0x0110, 0x0131, 0x0132, 0x013B, 0x8298)

# GDepth properties, the extended-XMP pointer, and Dynamic Depth's directory
# of appended items, each as an attribute or as an element.
_DEPTH_XMP = re.compile(
    rb'\s(?:GDepth:\w+|xmpNote:HasExtendedXMP)\s*=\s*"[^"]*"'
    rb"|<(GDepth:\w+|xmpNote:HasExtendedXMP|Container:Directory)\b[^>]*?(?:/>|>.*?</\1>)",
    re.DOTALL,
)


# XMP thumbnails (xmp:Thumbnails, a base64 JPEG of the whole photo, under
# any namespace prefix) and any thumbnail image outside that structure.
_XMP_THUMBNAILS = re.compile(
    rb"<(\w+:Thumbnails)\b[^>]*?(?:/>|>.*?</\1>)"
    rb'|\s\w*GImg:image\s*=\s*"[^"]*"'
    rb"|<(\w+GImg:image)\b[^>]*>.*?</\2>",
    re.DOTALL,
)

#: exiftool's names of the IPTC datasets (record 2) photos carry most.
IPTC_NAMES = {
    5: "ObjectName", 15: "Category", 20: "SupplementalCategories", 25: "Keywords", 40: "SpecialInstructions",
    55: "DateCreated", 60: "TimeCreated", 80: "By-line", 85: "By-lineTitle", 90: "City", 92: "Sub-location",
    95: "Province-State", 100: "Country-PrimaryLocationCode", 101: "Country-PrimaryLocationName",
    103: "OriginalTransmissionReference", 105: "Headline", 110: "Credit", 115: "Source", 116: "CopyrightNotice",
    118: "Contact", 120: "Caption-Abstract", 122: "Writer-Editor",
}


def source_exif(image: Image.Image) -> bytes | None:
    """The EXIF of an opened image, upright and without its thumbnail; None if it has none.

    A TIFF's EXIF tags live among its own layout tags: only the descriptive
    ones and the EXIF and GPS directories are taken.
    """
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
        exif[ORIENTATION] = 1
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
    exif[ORIENTATION] = 1
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


def reset_orientation(data: bytearray, tiff: int) -> int:
    """Set Orientation to 1 in the first directory, in place.

    Returns the position of that directory's pointer to the next one.
    """
    byteorder, number, entries = _tiff_fields(data, tiff)
    ifd0 = tiff + number(tiff + 4, 4)
    for entry, tag in entries(ifd0):
        if tag == ORIENTATION:
            # Written as the standard says, one SHORT, whatever type the
            # source used: a LONG patched in its first two bytes would read
            # 65537 in big-endian files.
            data[entry + 2 : entry + 12] = (
                _SHORT.to_bytes(2, byteorder) + (1).to_bytes(4, byteorder) + (1).to_bytes(2, byteorder) + bytes(2)
            )
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
        next_pointer = reset_orientation(data, tiff)
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


def source_xmp(image: Image.Image) -> bytes | None:
    """The XMP packet of an opened image, upright and without depth-map pointers; None if none."""
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
    # blurred pixels: pointers to one would be stale.  Thumbnails show the
    # unblurred photo.
    return re.sub(_XMP_THUMBNAILS, b"", re.sub(_DEPTH_XMP, b"", xmp))


def left_behind(image: Image.Image) -> tuple[str, ...]:
    """Metadata of an opened image that no output carries, by exiftool's tag names.

    Embedded previews (the EXIF ``ThumbnailImage`` and XMP ``Thumbnails``
    show the unblurred photo), IPTC datasets, comments and PNG text chunks.
    Damaged metadata is passed over: naming it must never cost the photo.
    """
    names = []
    try:
        raw = image.info.get("exif")
        if isinstance(raw, bytes) and raw:
            exif = Image.Exif()
            exif.load(raw if raw.startswith(b"Exif\x00\x00") else b"Exif\x00\x00" + raw)
            if exif.get_ifd(ExifTags.IFD.IFD1):
                names.append("ThumbnailImage")
    except (SyntaxError, ValueError, TypeError, IndexError, KeyError, OSError):
        pass
    xmp = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp") or b""
    if re.search(_XMP_THUMBNAILS, xmp if isinstance(xmp, bytes) else str(xmp).encode("utf-8", "replace")):
        names.append("ThumbnailsImage")
    try:
        iptc = IptcImagePlugin.getiptcinfo(image) or {}
    except (SyntaxError, ValueError, TypeError, IndexError, KeyError, OSError):
        iptc = {}
    names += sorted({IPTC_NAMES.get(dataset, f"IPTC:{record}:{dataset}") for record, dataset in iptc})
    if image.info.get("comment"):
        names.append("Comment")
    if image.format == "PNG":  # text chunks are the string values of its info
        names += sorted(key for key, value in image.info.items()
                        if isinstance(value, str) and key != "XML:com.adobe.xmp" and not key.startswith("Raw profile"))
    return tuple(dict.fromkeys(names))


def metadata_fields(photo) -> list[str]:
    """Names of the metadata a photo's file carries besides its ICC profile, as exiftool names them.

    EXIF tags (GPS ones included: ``GPSLatitude``), ``XMP``, and what no output
    carries (``Photo.left_behind``: thumbnails, IPTC, comments); what a
    stripped output no longer has.
    """
    fields = set(photo.left_behind)
    if photo.exif:
        exif = Image.Exif()
        exif.load(photo.exif)
        pointers = {_EXIF_IFD, _GPS_IFD, _INTEROP_IFD}
        fields.update(ExifTags.TAGS.get(tag, f"0x{tag:04x}") for tag in exif if tag not in pointers)
        fields.update(ExifTags.TAGS.get(tag, f"0x{tag:04x}") for tag in exif.get_ifd(_EXIF_IFD)
                      if tag not in pointers)
        fields.update(ExifTags.GPSTAGS.get(tag, f"GPS0x{tag:04x}") for tag in exif.get_ifd(_GPS_IFD))
    if photo.xmp:
        fields.add("XMP")
    return sorted(fields)


def fitting_metadata(name: str, exif: bytes | None, xmp: bytes | None):
    """EXIF and XMP that a file of Pillow format `name` can hold, and what is left out.

    A JPEG holds each in one APP1 segment of at most 64 KB; larger ones are
    left out rather than the photo (no other format has such a limit).

    Returns
    -------
    exif, xmp : bytes or None
    left_out : list of str
        What was left out, in a few words each.
    """
    left_out = []
    if name == "JPEG":
        if exif and len(exif) > JPEG_EXIF_LIMIT:
            left_out.append(f"EXIF left out ({len(exif):,} bytes; a JPEG holds at most {JPEG_EXIF_LIMIT:,})")
            exif = None
        if xmp and len(xmp) > JPEG_XMP_LIMIT:
            left_out.append(f"XMP left out ({len(xmp):,} bytes; a JPEG holds at most {JPEG_XMP_LIMIT:,})")
            xmp = None
    return exif, xmp, left_out


def writer_params(name: str, exif: bytes | None, xmp: bytes | None) -> dict:
    """Pillow's ``save`` parameters that write `exif` and `xmp` into a file of format `name`."""
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
        tags[XMP_TAG] = xmp
    return {"exif": tags}
