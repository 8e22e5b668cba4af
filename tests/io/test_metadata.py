"""Tests for bokehme.io.metadata: what of a photo's metadata is read, kept and stripped."""

import struct

import pytest
from PIL import ExifTags, Image

from bokehme.io.metadata import metadata_fields
from bokehme.io.read import read_photo
from bokehme.io.write import write_photo

ORIENTATION = 0x0112
GPS_IFD = 0x8825
IFD1 = ExifTags.IFD.IFD1


def with_thumbnail(exif: bytes, thumbnail: bytes) -> bytes:
    """Append an IFD1 thumbnail to EXIF bytes made by Pillow (which writes none)."""
    order = {b"II": "<", b"MM": ">"}[exif[6:8]]
    tiff = bytearray(exif[6:])
    ifd0 = struct.unpack_from(order + "I", tiff, 4)[0]
    next_pointer = ifd0 + 2 + 12 * struct.unpack_from(order + "H", tiff, ifd0)[0]
    ifd1 = len(tiff)
    struct.pack_into(order + "I", tiff, next_pointer, ifd1)
    tiff += struct.pack(order + "H", 2)
    tiff += struct.pack(order + "HHII", 0x0201, 4, 1, ifd1 + 2 + 24 + 4)
    tiff += struct.pack(order + "HHII", 0x0202, 4, 1, len(thumbnail))
    tiff += struct.pack(order + "I", 0) + thumbnail
    return exif[:6] + bytes(tiff)


def test_exif_thumbnail_of_the_original_is_dropped(tmp_path, asymmetric_rgb, exif_with):
    thumbnail = b"\xff\xd8THUMBNAIL-OF-ORIGINAL\xff\xd9"
    exif = with_thumbnail(exif_with(6, gps=True), thumbnail)
    check = Image.Exif()
    check.load(exif)
    assert check.get_ifd(IFD1)  # the test file really has a thumbnail
    Image.fromarray(asymmetric_rgb()).save(tmp_path / "t.jpg", exif=exif)

    photo = read_photo(tmp_path / "t.jpg")

    assert b"THUMBNAIL-OF-ORIGINAL" not in photo.exif
    kept = Image.Exif()
    kept.load(photo.exif)
    assert kept[ORIENTATION] == 1 and not kept.get_ifd(IFD1)
    assert kept.get_ifd(GPS_IFD)[1] == "N"  # the rest is intact
    write_photo(tmp_path / "out.jpg", photo.pixels, source=photo)
    assert b"THUMBNAIL-OF-ORIGINAL" not in (tmp_path / "out.jpg").read_bytes()


def test_tiff_exif_lives_in_its_own_directory(tmp_path, asymmetric_rgb, exif_with):
    path = tmp_path / "t.tif"
    Image.fromarray(asymmetric_rgb()).save(path, exif=exif_with(6, gps=True))
    photo = read_photo(path)
    assert photo.pixels.shape == (9, 6, 3)
    exif = Image.Exif()
    exif.load(photo.exif)
    assert exif[ORIENTATION] == 1 and exif[0x010F] == "PhoneMaker"
    assert exif.get_ifd(GPS_IFD)[1] == "N"
    assert 273 not in exif  # the TIFF's own strip layout is not metadata


def test_xmp_orientation_reset(tmp_path, asymmetric_rgb, exif_with):
    path = tmp_path / "x.jpg"
    xmp = (
        b'<x:xmpmeta><rdf:Description tiff:Orientation="6"/>'
        b"<rdf:Description><tiff:Orientation>6</tiff:Orientation></rdf:Description></x:xmpmeta>"
    )
    Image.fromarray(asymmetric_rgb()).save(path, exif=exif_with(6), xmp=xmp)
    photo = read_photo(path)
    assert b'tiff:Orientation="1"' in photo.xmp
    assert b"<tiff:Orientation>1</tiff:Orientation>" in photo.xmp
    assert b"6" not in photo.xmp


def test_kept_xmp_loses_its_pointers_to_a_depth_map(tmp_path, asymmetric_rgb):
    path = tmp_path / "depth.jpg"
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description dc:creator="Ann"'
           b' GDepth:Format="RangeInverse" GDepth:Near="0.5" xmpNote:HasExtendedXMP="0123"/>'
           b"<rdf:Description><GDepth:Mime>image/png</GDepth:Mime>"
           b'<Container:Directory><rdf:Seq><rdf:li Item:Mime="image/png"/></rdf:Seq></Container:Directory>'
           b"</rdf:Description></rdf:RDF></x:xmpmeta>")
    Image.fromarray(asymmetric_rgb()).save(path, xmp=xmp)
    kept = read_photo(path).xmp
    assert b'dc:creator="Ann"' in kept
    for gone in (b"GDepth", b"HasExtendedXMP", b"Container:Directory", b"Item:Mime"):
        assert gone not in kept


def test_icc_profile_preserved(tmp_path, srgb_profile, make_source):
    icc = srgb_profile()
    source = make_source(tmp_path, icc_profile=icc)
    assert source.icc_profile == icc
    for fmt in ("JPEG", "PNG", "WEBP", "TIFF"):
        out = tmp_path / f"out.{fmt.lower()}"
        write_photo(out, source.pixels, source=source, format=fmt, metadata="strip")
        with Image.open(out) as image:
            assert image.format == fmt
            assert image.info.get("icc_profile") == icc, fmt


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
def test_metadata_keep_and_strip(tmp_path, fmt, exif_with, make_source):
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    source = make_source(tmp_path, exif=exif_with(gps=True), xmp=xmp, comment=b"shot at home")
    assert source.exif and source.xmp

    kept = tmp_path / f"kept.{fmt.lower()}"
    write_photo(kept, source.pixels, source=source, format=fmt, metadata="keep")
    with Image.open(kept) as image:
        exif = image.getexif()
        assert exif[0x010F] == "PhoneMaker"
        assert exif.get_ifd(GPS_IFD)[1] == "N"
        assert b"xmpmeta" in kept.read_bytes()

    stripped = tmp_path / f"stripped.{fmt.lower()}"
    write_photo(stripped, source.pixels, source=source, format=fmt, metadata="strip")
    data = stripped.read_bytes()
    with Image.open(stripped) as image:
        assert 0x010F not in image.getexif()
        assert GPS_IFD not in image.getexif()
        assert "comment" not in image.info and "xmp" not in image.info
    for secret in (b"Exif", b"PhoneMaker", b"xmpmeta", b"shot at home"):
        assert secret not in data, secret


def big_endian_exif_with_long_orientation(orientation):
    """EXIF in Motorola order whose Orientation is stored as a LONG, as some cameras and editors do."""
    ifd = struct.pack(">H", 2)
    ifd += struct.pack(">HHII", 0x010F, 2, 6, 8 + 2 + 2 * 12 + 4)  # Make, stored after the directory
    ifd += struct.pack(">HHII", ORIENTATION, 4, 1, orientation)
    return b"Exif\x00\x00MM\x00*" + struct.pack(">I", 8) + ifd + struct.pack(">I", 0) + b"Maker\x00"


def orientation_entry(jpeg: bytes):
    """(type, value) of the Orientation entry in a JPEG's EXIF, read from the bytes as exiftool would."""
    exif = jpeg[jpeg.index(b"Exif\x00\x00") + 6:]
    order = {b"II": "<", b"MM": ">"}[exif[:2]]
    ifd0 = struct.unpack_from(order + "I", exif, 4)[0]
    for index in range(struct.unpack_from(order + "H", exif, ifd0)[0]):
        tag, kind, count = struct.unpack_from(order + "HHI", exif, ifd0 + 2 + 12 * index)
        if tag == ORIENTATION:
            value_format = {3: "H", 4: "I"}[kind]
            return kind, struct.unpack_from(order + value_format, exif, ifd0 + 2 + 12 * index + 8)[0]
    return None


def test_orientation_is_written_as_a_short(tmp_path, asymmetric_rgb):
    exif = big_endian_exif_with_long_orientation(6)
    Image.fromarray(asymmetric_rgb()).save(tmp_path / "long.jpg", exif=exif)
    assert orientation_entry((tmp_path / "long.jpg").read_bytes()) == (4, 6)
    photo = read_photo(tmp_path / "long.jpg")
    assert photo.pixels.shape == (9, 6, 3)  # turned upright
    write_photo(tmp_path / "out.jpg", photo.pixels, source=photo)
    assert orientation_entry((tmp_path / "out.jpg").read_bytes()) == (3, 1)  # SHORT 1, not 65542
    with Image.open(tmp_path / "out.jpg") as out:
        assert out.getexif()[ORIENTATION] == 1 and out.getexif()[0x010F] == "Maker"


def test_metadata_too_large_for_a_jpeg_is_left_out_not_the_photo(tmp_path, asymmetric_rgb, exif_with):
    huge = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF dc:description="' + b"x" * 5_000_000 + b'"/></x:xmpmeta>'
    Image.fromarray(asymmetric_rgb()).save(tmp_path / "big.png", exif=exif_with(), pnginfo=png_xmp(huge))
    photo = read_photo(tmp_path / "big.png")
    assert len(photo.xmp) > 5_000_000
    left_out = write_photo(tmp_path / "out.jpg", photo.pixels, source=photo, format="JPEG")
    assert left_out == [f"XMP left out ({len(photo.xmp):,} bytes; a JPEG holds at most 65,504)"]
    with Image.open(tmp_path / "out.jpg") as out:
        assert out.getexif()[0x010F] == "PhoneMaker" and "xmp" not in out.info  # EXIF fits and is kept
    assert write_photo(tmp_path / "out.png", photo.pixels, source=photo) == []  # a PNG holds it all
    with Image.open(tmp_path / "out.png") as out:
        assert len(out.info["XML:com.adobe.xmp"]) > 5_000_000


def png_xmp(xmp):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp.decode())
    return info


def test_default_mode_drops_xmp_thumbnails(tmp_path, asymmetric_rgb):
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description dc:creator="Ann">'
           b"<xmp:Thumbnails><rdf:Alt><rdf:li rdf:parseType=\"Resource\">"
           b"<xmpGImg:format>JPEG</xmpGImg:format><xmpGImg:image>/9j/UNBLURRED-PREVIEW</xmpGImg:image>"
           b"</rdf:li></rdf:Alt></xmp:Thumbnails>"
           b'<rdf:li xapGImg:width="128" xapGImg:image="/9j/OLDER-PREVIEW"/>'
           b"</rdf:Description></rdf:RDF></x:xmpmeta>")
    Image.fromarray(asymmetric_rgb()).save(tmp_path / "t.jpg", xmp=xmp)
    photo = read_photo(tmp_path / "t.jpg")
    assert "ThumbnailsImage" in photo.left_behind
    write_photo(tmp_path / "out.jpg", photo.pixels, source=photo)
    written = (tmp_path / "out.jpg").read_bytes()
    assert b"PREVIEW" not in written and b"Thumbnails" not in written
    assert b'dc:creator="Ann"' in written


def with_iptc(jpeg: bytes, datasets) -> bytes:
    """Insert an APP13 Photoshop segment with IPTC record-2 datasets after a JPEG's SOI."""
    iptc = b"".join(b"\x1c\x02" + bytes([number]) + struct.pack(">H", len(value)) + value
                    for number, value in datasets)
    block = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(iptc)) + iptc + b"\x00" * (len(iptc) % 2)
    body = b"Photoshop 3.0\x00" + block
    return jpeg[:2] + b"\xff\xed" + struct.pack(">H", len(body) + 2) + body + jpeg[2:]


def test_report_names_fields_as_exiftool_does(tmp_path, asymmetric_rgb, exif_with):
    path = tmp_path / "p.jpg"
    exif = with_thumbnail(exif_with(gps=True), b"\xff\xd8THUMB\xff\xd9")
    Image.fromarray(asymmetric_rgb()).save(path, exif=exif, comment=b"at home")
    path.write_bytes(with_iptc(path.read_bytes(), [(80, b"Jane Doe"), (116, b"(c) Jane"), (90, b"Paris")]))
    fields = metadata_fields(read_photo(path))
    for name in ("Make", "Orientation", "GPSLatitude", "GPSLatitudeRef", "ThumbnailImage", "Comment",
                 "By-line", "CopyrightNotice", "City"):
        assert name in fields, name
    assert not [name for name in fields if name.startswith("GPSGPS")]
    assert "ExifOffset" not in fields and "GPSInfo" not in fields  # pointers, not fields
