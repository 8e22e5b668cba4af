"""Tests for bokehme.photo_io: every file here is made inside tmp_path."""

import os
import struct

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageCms, ImageOps

from bokehme.photo_io import (
    DEFAULT_MAX_PIXELS,
    PhotoError,
    output_format,
    read_photo,
    write_cutout,
    write_mask,
    write_photo,
)

ORIENTATION = 0x0112
GPS_IFD = 0x8825
IFD1 = ExifTags.IFD.IFD1


def asymmetric_rgb(height=6, width=9, seed=0):
    """An image no flip or rotation maps onto itself."""
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def srgb_profile():
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def as_float(array):
    return np.asarray(array, dtype=np.float32) / np.float32(255)


def exif_with(orientation=1, gps=False):
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "PhoneMaker"
    if gps:
        exif.get_ifd(GPS_IFD)[2] = (52.0, 31.0, 12.0)  # GPSLatitude
        exif.get_ifd(GPS_IFD)[1] = "N"
    return exif.tobytes()


def no_temp_files(folder):
    return not [name for name in os.listdir(folder) if "bokehme-tmp" in name]


# ----------------------------------------------------------------- reading


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF", "WEBP"])
def test_all_exif_orientations_match_pillow(tmp_path, orientation, fmt):
    path = tmp_path / f"o{orientation}.{fmt.lower()}"
    image = Image.fromarray(asymmetric_rgb())
    image.save(path, format=fmt, exif=exif_with(orientation), quality=100, lossless=True)

    photo = read_photo(path)

    with Image.open(path) as image:
        expected = as_float(ImageOps.exif_transpose(image).convert("RGB"))
    assert photo.pixels.dtype == np.float32
    np.testing.assert_allclose(photo.pixels, expected, atol=1e-6)
    exif = Image.Exif()
    exif.load(photo.exif)
    assert exif[ORIENTATION] == 1
    assert exif[0x010F] == "PhoneMaker"  # the rest of the EXIF survives


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


def test_exif_thumbnail_of_the_original_is_dropped(tmp_path):
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


def test_tiff_exif_lives_in_its_own_directory(tmp_path):
    path = tmp_path / "t.tif"
    Image.fromarray(asymmetric_rgb()).save(path, exif=exif_with(6, gps=True))
    photo = read_photo(path)
    assert photo.pixels.shape == (9, 6, 3)
    exif = Image.Exif()
    exif.load(photo.exif)
    assert exif[ORIENTATION] == 1 and exif[0x010F] == "PhoneMaker"
    assert exif.get_ifd(GPS_IFD)[1] == "N"
    assert 273 not in exif  # the TIFF's own strip layout is not metadata


def test_xmp_orientation_reset(tmp_path):
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


def test_rgba_png_keeps_transparency(tmp_path):
    rgba = np.dstack([asymmetric_rgb(), np.linspace(0, 255, 54).reshape(6, 9).astype(np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    photo = read_photo(tmp_path / "a.png")
    np.testing.assert_allclose(photo.pixels, as_float(rgba[:, :, :3]), atol=1e-6)
    np.testing.assert_allclose(photo.transparency, as_float(rgba[:, :, 3]), atol=1e-6)
    assert photo.lossless and photo.format == "PNG"


def test_opaque_alpha_is_not_transparency(tmp_path):
    rgba = np.dstack([asymmetric_rgb(), np.full((6, 9), 255, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    assert read_photo(tmp_path / "a.png").transparency is None


def test_palette_png_with_transparent_index(tmp_path):
    indices = np.zeros((4, 5), np.uint8)
    indices[1:3, 1:4] = 1
    image = Image.fromarray(indices, "P")
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.save(tmp_path / "p.png", transparency=0)
    photo = read_photo(tmp_path / "p.png")
    assert photo.pixels.shape == (4, 5, 3)
    np.testing.assert_array_equal(photo.pixels[1, 1], [0, 0, 1])
    assert photo.transparency[0, 0] == 0 and photo.transparency[1, 1] == 1


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_16_bit_grey_keeps_precision(tmp_path, fmt):
    values = (np.arange(6 * 9).reshape(6, 9) * 1201 + 7).astype(np.uint16)  # not multiples of 257
    path = tmp_path / f"g16.{fmt.lower()}"
    Image.fromarray(values).save(path, format=fmt)
    photo = read_photo(path)
    assert photo.high_bit_depth
    for channel in range(3):
        np.testing.assert_allclose(photo.pixels[:, :, channel], values / 65535, atol=1e-6)


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_16_bit_colour_keeps_precision_and_round_trips(tmp_path, ext):
    cv2 = pytest.importorskip("cv2")
    rgb = (np.random.default_rng(1).integers(0, 65536, (6, 9, 3))).astype(np.uint16)
    path = tmp_path / f"c16{ext}"
    cv2.imwrite(str(path), rgb[:, :, ::-1])
    photo = read_photo(path)
    assert photo.high_bit_depth
    np.testing.assert_allclose(photo.pixels, rgb / 65535, atol=1e-6)

    out = tmp_path / f"out{ext}"
    write_photo(out, photo.pixels, source=photo)
    back = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back[:, :, ::-1], rgb)


@pytest.mark.parametrize("orientation", [2, 6, 7])
def test_16_bit_colour_tiff_orientation_applied_once(tmp_path, orientation):
    tifffile = pytest.importorskip("tifffile")
    pytest.importorskip("cv2")
    rgb = asymmetric_rgb().astype(np.uint16) * 257
    path = tmp_path / "o16.tif"
    tag = (ORIENTATION, "H", 1, orientation, True)
    tifffile.imwrite(path, rgb, photometric="rgb", extratags=[tag])
    reference = Image.fromarray(asymmetric_rgb())
    reference.getexif()[ORIENTATION] = orientation
    expected = as_float(ImageOps.exif_transpose(reference))
    np.testing.assert_allclose(read_photo(path).pixels, expected, atol=1e-6)


def test_16_bit_png_output_keeps_icc(tmp_path):
    pytest.importorskip("cv2")
    values = (np.arange(54).reshape(6, 9) * 1201).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "g16.png")
    photo = read_photo(tmp_path / "g16.png")
    photo.icc_profile = srgb_profile()
    write_photo(tmp_path / "out.png", photo.pixels, source=photo)
    with Image.open(tmp_path / "out.png") as image:
        assert image.info["icc_profile"] == photo.icc_profile
        image.load()  # the spliced chunks leave a valid PNG


def test_grayscale_and_one_bit(tmp_path):
    grey = np.arange(54, dtype=np.uint8).reshape(6, 9) * 4
    Image.fromarray(grey, "L").save(tmp_path / "g.png")
    photo = read_photo(tmp_path / "g.png")
    assert photo.pixels.shape == (6, 9, 3)
    np.testing.assert_allclose(photo.pixels[:, :, 1], as_float(grey), atol=1e-6)

    Image.fromarray(grey > 100).save(tmp_path / "b.png")
    bits = read_photo(tmp_path / "b.png")
    np.testing.assert_array_equal(bits.pixels[:, :, 0], (grey > 100).astype(np.float32))


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    cmyk = np.zeros((8, 8, 4), np.uint8)
    cmyk[:, :4, 0] = 255  # pure cyan on the left, white on the right
    Image.fromarray(cmyk, "CMYK").save(tmp_path / "c.jpg", quality=100)
    photo = read_photo(tmp_path / "c.jpg")
    assert photo.pixels.shape == (8, 8, 3)
    np.testing.assert_allclose(photo.pixels[4, 1], [0, 1, 1], atol=0.05)
    np.testing.assert_allclose(photo.pixels[4, 6], [1, 1, 1], atol=0.05)


def test_animated_gif_uses_first_frame(tmp_path):
    colours = ((255, 0, 0), (0, 255, 0), (0, 0, 255))
    frames = [Image.new("RGB", (5, 4), colour) for colour in colours]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=50)
    photo = read_photo(tmp_path / "a.gif")
    assert photo.frame_count == 3
    np.testing.assert_allclose(photo.pixels[0, 0], [1, 0, 0], atol=1e-6)
    assert output_format(photo.format) == ("PNG", ".png")


def test_webp_lossless_flag(tmp_path):
    Image.fromarray(asymmetric_rgb()).save(tmp_path / "l.webp", lossless=True)
    Image.fromarray(asymmetric_rgb()).save(tmp_path / "q.webp", quality=80)
    assert read_photo(tmp_path / "l.webp").lossless
    assert not read_photo(tmp_path / "q.webp").lossless


def test_content_not_extension_decides(tmp_path):
    Image.fromarray(asymmetric_rgb()).save(tmp_path / "really_png.jpg", format="PNG")
    assert read_photo(tmp_path / "really_png.jpg").format == "PNG"


# ----------------------------------------------------------------- hostile files


def assert_one_line_error(path, needle, **kwargs):
    with pytest.raises(PhotoError) as caught:
        read_photo(path, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    assert str(path) in message
    assert needle in message
    return message


def test_zero_byte_file(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    assert_one_line_error(tmp_path / "empty.jpg", "empty")


def test_truncated_jpeg(tmp_path):
    Image.fromarray(asymmetric_rgb(64, 64)).save(tmp_path / "full.jpg")
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    assert_one_line_error(tmp_path / "cut.jpg", "cannot decode")


def test_text_file_named_jpg(tmp_path):
    (tmp_path / "notes.jpg").write_text("not a photo\nat all\n")
    assert_one_line_error(tmp_path / "notes.jpg", "not a recognised image")


def test_missing_file_and_folder(tmp_path):
    assert_one_line_error(tmp_path / "nope.jpg", "no such file")
    assert_one_line_error(tmp_path, "folder")


def test_above_max_pixels(tmp_path):
    Image.new("RGB", (40, 30)).save(tmp_path / "big.png")
    assert_one_line_error(tmp_path / "big.png", "--max-pixels", max_pixels=1000)
    assert read_photo(tmp_path / "big.png", max_pixels=1200).pixels.shape == (30, 40, 3)
    assert DEFAULT_MAX_PIXELS >= 48_000_000  # a 48 MP phone photo must pass by default


def test_no_read_permission(tmp_path):
    path = tmp_path / "secret.png"
    Image.new("RGB", (4, 4)).save(path)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as a user who can read any file (root)")
        assert_one_line_error(path, "permission denied")
    finally:
        path.chmod(0o644)


def test_heic_without_pillow_heif_says_what_to_install(tmp_path, monkeypatch):
    from bokehme import photo_io

    monkeypatch.setattr(photo_io, "HEIF_SUPPORT", False)
    # A HEIF header and nothing decodable after it.
    header = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"
    (tmp_path / "x.heic").write_bytes(header + b"\x00" * 32)
    assert_one_line_error(tmp_path / "x.heic", "install pillow-heif")


def test_reading_does_not_modify_the_file(tmp_path):
    path = tmp_path / "o.jpg"
    Image.fromarray(asymmetric_rgb()).save(path, exif=exif_with(6))
    before, stamp = path.read_bytes(), path.stat().st_mtime_ns
    read_photo(path)
    assert path.read_bytes() == before and path.stat().st_mtime_ns == stamp


# ----------------------------------------------------------------- writing


def make_source(tmp_path, name="src.jpg", **save_kwargs):
    path = tmp_path / name
    Image.fromarray(asymmetric_rgb(16, 24)).save(path, **save_kwargs)
    return read_photo(path)


def test_icc_profile_preserved(tmp_path):
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
def test_metadata_keep_and_strip(tmp_path, fmt):
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


def test_jpeg_quality_and_subsampling(tmp_path):
    source = make_source(tmp_path)
    write_photo(tmp_path / "a.jpg", source.pixels, source=source, subsampling="4:2:0", quality=60)
    write_photo(tmp_path / "b.jpg", source.pixels, source=source)
    from PIL import JpegImagePlugin

    with Image.open(tmp_path / "a.jpg") as a, Image.open(tmp_path / "b.jpg") as b:
        assert JpegImagePlugin.get_sampling(a) == 2  # 4:2:0
        assert JpegImagePlugin.get_sampling(b) == 0  # 4:4:4 by default
    assert (tmp_path / "a.jpg").stat().st_size < (tmp_path / "b.jpg").stat().st_size


def test_transparency_reattached_where_format_allows(tmp_path):
    rgba = np.dstack([asymmetric_rgb(), np.linspace(0, 255, 54).reshape(6, 9).astype(np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    source = read_photo(tmp_path / "a.png")
    write_photo(tmp_path / "out.png", source.pixels, source=source)
    write_photo(tmp_path / "out.webp", source.pixels, source=source, format="webp")
    write_photo(tmp_path / "out.jpg", source.pixels, source=source, format="jpg")
    with Image.open(tmp_path / "out.png") as png, Image.open(tmp_path / "out.webp") as webp:
        np.testing.assert_array_equal(np.asarray(png), rgba)
        np.testing.assert_array_equal(np.asarray(webp), rgba)  # lossless source -> lossless WebP
    with Image.open(tmp_path / "out.jpg") as jpg:
        assert jpg.mode == "RGB"


def test_output_format_fallbacks():
    assert output_format("JPEG") == ("JPEG", ".jpg")
    assert output_format("HEIF") == ("JPEG", ".jpg")
    assert output_format("BMP") == ("PNG", ".png")
    assert output_format("JPEG", "tif") == ("TIFF", ".tif")
    with pytest.raises(ValueError):
        output_format("JPEG", "gif")


def test_path_with_spaces_and_non_ascii(tmp_path):
    folder = tmp_path / "Fotos von Zoë"
    folder.mkdir()
    source = make_source(folder, name="mein bild ü.jpg")
    out = folder / "résumé photo_bokeh.jpg"
    write_photo(out, source.pixels[::-1], source=source)
    assert read_photo(out).pixels.shape == source.pixels.shape


def failing_save(monkeypatch):
    """Make Pillow's encoder write a few bytes, then fail."""
    original = Image.Image.save

    def save(image, fp, *args, **kwargs):
        fp.write(b"\xff\xd8 partial")
        raise OSError("encoder exploded")

    monkeypatch.setattr(Image.Image, "save", save)
    return original


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    source = make_source(tmp_path)
    failing_save(monkeypatch)
    with pytest.raises(PhotoError, match="encoder exploded") as caught:
        write_photo(tmp_path / "new.jpg", source.pixels, source=source)
    assert "\n" not in str(caught.value) and "new.jpg" in str(caught.value)
    assert not (tmp_path / "new.jpg").exists()
    assert no_temp_files(tmp_path)


def test_failed_write_keeps_existing_output(tmp_path, monkeypatch):
    source = make_source(tmp_path)
    out = tmp_path / "out.png"
    write_mask(out, np.full((4, 4), 0.5, np.float32))
    before = out.read_bytes()
    failing_save(monkeypatch)
    with pytest.raises(PhotoError):
        write_photo(out, source.pixels, source=source, format="PNG")
    assert out.read_bytes() == before
    assert no_temp_files(tmp_path)


def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    source = make_source(tmp_path)

    def interrupted(image, fp, *args, **kwargs):
        fp.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_photo(tmp_path / "new.jpg", source.pixels, source=source)
    assert not (tmp_path / "new.jpg").exists()
    assert no_temp_files(tmp_path)


def test_unwritable_folder(tmp_path):
    source = make_source(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        with pytest.raises(PhotoError, match="cannot write"):
            write_photo(locked / "x.jpg", source.pixels, source=source)
    finally:
        locked.chmod(0o700)


def test_mask_and_cutout(tmp_path):
    alpha = np.linspace(0, 1, 54, dtype=np.float32).reshape(6, 9)
    pixels = as_float(asymmetric_rgb())
    write_mask(tmp_path / "m.png", alpha)
    write_cutout(tmp_path / "c.png", pixels, alpha, icc_profile=srgb_profile())
    with Image.open(tmp_path / "m.png") as mask:
        assert mask.mode == "L"
        np.testing.assert_allclose(as_float(mask), alpha, atol=0.5 / 255 + 1e-6)
    with Image.open(tmp_path / "c.png") as cutout:
        assert cutout.mode == "RGBA" and cutout.info["icc_profile"] == srgb_profile()
        np.testing.assert_allclose(as_float(cutout)[:, :, :3], pixels, atol=1e-6)
    assert no_temp_files(tmp_path)


def test_real_iphone_heic(pug_heic, tmp_path):
    photo = read_photo(pug_heic)
    assert photo.format == "HEIF"
    assert photo.pixels.shape == (3024, 4032, 3)
    assert photo.icc_profile and photo.exif and photo.xmp
    name, extension = output_format(photo.format)
    out = tmp_path / f"pug{extension}"
    write_photo(out, photo.pixels[:64, :96], source=photo, format=name)
    with Image.open(out) as image:
        assert image.format == "JPEG" and image.size == (96, 64)
        assert image.info["icc_profile"] == photo.icc_profile  # Display P3 stays Display P3
        assert image.getexif().get(ORIENTATION, 1) == 1


def test_permission_errors_when_running_as_root(tmp_path, monkeypatch):
    """What the two permission tests above check, for CI machines that run as root."""
    from bokehme import photo_io

    source = make_source(tmp_path)

    def denied(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(photo_io, "open", denied, raising=False)
    assert_one_line_error(tmp_path / "src.jpg", "permission denied")
    with pytest.raises(PhotoError, match="cannot write: Permission denied"):
        write_photo(tmp_path / "x.jpg", source.pixels, source=source)
    assert not (tmp_path / "x.jpg").exists()


def test_kept_xmp_loses_its_pointers_to_a_depth_map(tmp_path):
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


# --------------------------------------------------------------------------- HEIF depth orientation
# libheif decodes each item with its own transform properties (irot, imir,
# clap, in ipma order); the depth map must end up in the photo's frame.

DEPTH_AUX = b"urn:mpeg:hevc:2015:auxid:2"


def box(kind: bytes, content: bytes) -> bytes:
    return struct.pack(">I", 8 + len(content)) + kind + content


def full_box(kind: bytes, content: bytes) -> bytes:
    return box(kind, b"\0\0\0\0" + content)


def heif_head(primary: list[bytes], depth: list[bytes], aux_type=DEPTH_AUX) -> bytes:
    """ftyp and meta of a HEIF whose primary image (item 1) has a depth map (item 2).

    `primary` and `depth` are the items' property boxes, in association order.
    """
    properties = primary + depth + [full_box(b"auxC", aux_type + b"\0")]
    first_depth = len(primary) + 1
    primary_associations = bytes(0x80 | index for index in range(1, first_depth))  # essential
    depth_associations = bytes(range(first_depth, len(properties) + 1))
    ipma = full_box(b"ipma", struct.pack(">IHB", 2, 1, len(primary_associations)) + primary_associations
                    + struct.pack(">HB", 2, len(depth_associations)) + depth_associations)
    meta = full_box(b"meta", full_box(b"pitm", struct.pack(">H", 1))
                    + full_box(b"iref", box(b"auxl", struct.pack(">HHH", 2, 1, 1)))
                    + box(b"iprp", box(b"ipco", b"".join(properties)) + ipma))
    return box(b"ftyp", b"heic\0\0\0\0mif1heic") + meta


def irot(turns):
    return box(b"irot", bytes([turns]))


def imir(axis):
    return box(b"imir", bytes([axis]))


def as_libheif_decodes(array, properties):
    """An item as libheif decodes it: its irot and imir applied in order.

    irot: anticlockwise quarter turns; imir axis 0 exchanges top and bottom, 1
    left and right (ISO/IEC 23008-12:2022 6.5.12, libheif Box_imir).  The
    real-file test below checks these against libheif itself.
    """
    for prop in properties:
        kind, value = prop[4:8], prop[8]
        array = np.rot90(array, value) if kind == b"irot" else np.flip(array, value)
    return array


def corrected_depth(head: bytes, decoded: np.ndarray) -> np.ndarray:
    from bokehme import photo_io

    return photo_io._apply_item_transforms(decoded, photo_io._heif_depth_correction(head))


@pytest.mark.parametrize("primary, depth", [
    ([], []),
    ([irot(1)], []),
    ([irot(2)], []),
    ([irot(3)], []),
    ([imir(0)], []),
    ([imir(1)], []),
    ([irot(1), imir(1)], []),
    ([imir(1), irot(1)], []),
    ([irot(1)], [irot(1)]),
    ([irot(3), imir(0)], [irot(3)]),
    ([], [irot(1)]),
    ([imir(1)], [irot(2), imir(0)]),
])
def test_heif_depth_map_turned_like_the_photo(primary, depth):
    sensor = np.arange(6 * 9, dtype=np.float32).reshape(6, 9)
    photo = as_libheif_decodes(sensor, primary)
    decoded_depth = as_libheif_decodes(sensor, depth)
    np.testing.assert_array_equal(corrected_depth(heif_head(primary, depth), decoded_depth), photo)


def test_heif_depth_map_cropped_like_the_photo():
    # A 12x18 photo cropped to its 6x8 clean aperture, one pixel right of and
    # above the centre, then turned; the depth map has half its resolution.
    clap = box(b"clap", struct.pack(">IIIIiIiI", 8, 1, 6, 1, 1, 1, -1, 1))
    primary = [full_box(b"ispe", struct.pack(">II", 18, 12)), clap, irot(1)]
    depth = np.arange(6 * 9, dtype=np.float32).reshape(6, 9)
    np.testing.assert_array_equal(corrected_depth(heif_head(primary, []), depth), np.rot90(depth[1:4, 3:7]))


def test_heif_depth_of_another_kind_or_image_is_left_alone():
    sensor = np.arange(6 * 9, dtype=np.float32).reshape(6, 9)
    alpha = heif_head([irot(1)], [], aux_type=b"urn:mpeg:hevc:2015:auxid:1")
    np.testing.assert_array_equal(corrected_depth(alpha, sensor), sensor)
    not_of_primary = heif_head([irot(1)], []).replace(struct.pack(">HHH", 2, 1, 1), struct.pack(">HHH", 2, 1, 3))
    np.testing.assert_array_equal(corrected_depth(not_of_primary, sensor), sensor)


def test_damaged_heif_boxes_mean_no_transform():
    from bokehme import photo_io

    head = heif_head([irot(1), imir(1)], [])
    rng = np.random.default_rng(0)
    for damaged in [head[:cut] for cut in range(len(head))] + [
        bytes(rng.integers(0, 256, len(head), dtype=np.uint8)) for _ in range(20)
    ]:
        assert isinstance(photo_io._heif_depth_correction(damaged), list)
    for unreadable in (b"ipma", struct.pack(">IHB", 2, 1, 2), bytes([0x81, 0x82])):
        assert photo_io._heif_depth_correction(head.replace(unreadable, b"\xff" * len(unreadable))) == []


def pug_edited(pug_heic, path, kind: bytes, value: int, on_depth: bool):
    """The pug HEIC with its irot property (angle 0, shared by all its images) changed.

    The property becomes `kind` (``irot`` or ``imir``, both one byte) with
    `value`; unless `on_depth`, the depth item no longer has it.  Same size:
    no offset in the file moves.
    """
    data = bytearray(pug_heic.read_bytes())
    ftyp_size = struct.unpack_from(">I", data, 0)[0]
    meta_end = ftyp_size + struct.unpack_from(">I", data, ftyp_size)[0]
    ipco = data.index(b"ipco", 0, meta_end) + 4
    ipco_end = ipco - 8 + struct.unpack_from(">I", data, ipco - 8)[0]
    offsets, at = [], ipco
    while at < ipco_end:
        offsets.append(at)
        at += struct.unpack_from(">I", data, at)[0]
    kinds = [bytes(data[at + 4:at + 8]) for at in offsets]
    assert kinds.count(b"irot") == 1
    rotation = offsets[kinds.index(b"irot")]
    data[rotation + 4:rotation + 8], data[rotation + 8] = kind, value
    if not on_depth:
        depth_aux = 1 + next(i for i, at in enumerate(offsets) if data[at + 12:at + 12 + len(DEPTH_AUX)] == DEPTH_AUX)
        ipma = ipco_end + 4
        assert data[ipma:ipma + 4] == b"ipma"
        assert data[ipma + 4:ipma + 8] == b"\0\0\0\0"  # version 0, flags 0: 16-bit IDs, 7-bit indices
        entry = ipma + 12
        for _ in range(struct.unpack_from(">I", data, ipma + 8)[0]):
            associations = range(entry + 3, entry + 3 + data[entry + 2])
            if any(data[at] & 0x7F == depth_aux for at in associations):
                (drop,) = [at for at in associations if data[at] & 0x7F == 1 + kinds.index(b"irot")]
                data[drop] = 0  # index 0: no property
            entry = associations.stop
    path.write_bytes(bytes(data))
    return path


def dihedral(array):
    """The eight turns and flips of an (H, W, ...) array, by (quarter turns, flipped)."""
    return {(turns, flipped): np.rot90(np.flip(array, 1) if flipped else array, turns)
            for turns in range(4) for flipped in (False, True)}


@pytest.fixture(scope="module")
def pug_turns(pug_heic):
    """The pug photo's eight turns and flips (every 16th pixel), and its depth map."""
    from bokehme.photo_io import read_depth

    turns = {name: turned[::16, ::16] for name, turned in dihedral(read_photo(pug_heic).pixels).items()}
    return turns, read_depth(pug_heic)


# What libheif does to the photo: irot turns anticlockwise, imir axis 0
# exchanges top and bottom (a half turn of the left-right flip), axis 1 left and right.
def assert_depth_turned_like_photo(path, pug_turns, photo_turn):
    """The photo at `path` is the pug turned by `photo_turn` (found from its pixels), and so is its depth map."""
    from bokehme.photo_io import read_depth

    photo_turns, original_depth = pug_turns
    photo, depth = read_photo(path).pixels[::16, ::16], read_depth(path)
    errors = {name: np.abs(turned - photo).mean() if turned.shape == photo.shape else np.inf
              for name, turned in photo_turns.items()}
    assert min(errors, key=errors.get) == photo_turn and errors[photo_turn] < 0.01
    np.testing.assert_array_equal(depth, dihedral(original_depth)[photo_turn])


# What libheif does to the photo: irot turns anticlockwise, imir axis 0
# exchanges top and bottom (a half turn of the left-right flip), axis 1 left and right.
@pytest.mark.parametrize("kind, value, on_depth, photo_turn", [
    (b"irot", 1, False, (1, False)),
    (b"irot", 2, False, (2, False)),
    (b"imir", 0, False, (2, True)),
    (b"imir", 1, False, (0, True)),
    (b"irot", 1, True, (1, False)),
    (b"imir", 1, True, (0, True)),
])
def test_real_heic_depth_map_lines_up_with_the_turned_photo(pug_heic, pug_turns, tmp_path, kind, value, on_depth,
                                                            photo_turn):
    edited = pug_edited(pug_heic, tmp_path / "pug.heic", kind, value, on_depth)
    assert_depth_turned_like_photo(edited, pug_turns, photo_turn)


def child_boxes(data, start, end):
    """(type, start) of the boxes in data[start:end]."""
    children = []
    while start < end:
        children.append((bytes(data[start + 4:start + 8]), start))
        start += struct.unpack_from(">I", data, start)[0]
    return children


def pug_with_primary_properties(pug_heic, path, properties: list[bytes]):
    """The pug HEIC with `properties` added after the primary image's own; the depth item has none of them.

    Growing ipco and ipma grows iprp and meta, and moves everything stored
    after meta: its file offsets in iloc move by as much.
    """
    data = bytearray(pug_heic.read_bytes())
    meta = struct.unpack_from(">I", data, 0)[0]  # right after ftyp
    meta_end = meta + struct.unpack_from(">I", data, meta)[0]
    in_meta = dict(child_boxes(data, meta + 12, meta_end))
    iprp = in_meta[b"iprp"]
    in_iprp = dict(child_boxes(data, iprp + 8, iprp + struct.unpack_from(">I", data, iprp)[0]))
    ipco, ipma = in_iprp[b"ipco"], in_iprp[b"ipma"]
    ipco_end = ipco + struct.unpack_from(">I", data, ipco)[0]
    first_index = 1 + len(child_boxes(data, ipco + 8, ipco_end))
    primary = struct.unpack_from(">H", data, in_meta[b"pitm"] + 12)[0]
    assert data[ipma + 8:ipma + 12] == bytes(4)  # version 0, flags 0: 16-bit IDs, 7-bit indices
    entry = ipma + 16
    while struct.unpack_from(">H", data, entry)[0] != primary:
        entry += 3 + data[entry + 2]
    added = b"".join(properties)
    data[entry + 3 + data[entry + 2]:entry + 3 + data[entry + 2]] = bytes(
        0x80 | index for index in range(first_index, first_index + len(properties)))
    data[entry + 2] += len(properties)
    data[ipco_end:ipco_end] = added
    grown = len(added) + len(properties)
    for start, by in ((ipco, len(added)), (ipma + len(added), len(properties)), (iprp, grown), (meta, grown)):
        struct.pack_into(">I", data, start, struct.unpack_from(">I", data, start)[0] + by)
    iloc = in_meta[b"iloc"] + (grown if in_meta[b"iloc"] > iprp else 0)
    assert data[iloc + 8] == 1 and data[iloc + 12:iloc + 14] == b"\x44\x00"  # 32-bit offsets, no base offset
    at = iloc + 16
    for _ in range(struct.unpack_from(">H", data, iloc + 14)[0]):
        in_file = struct.unpack_from(">H", data, at + 2)[0] & 15 == 0  # construction method 0: file offsets
        extents, at = struct.unpack_from(">H", data, at + 6)[0], at + 8
        for _ in range(extents):
            offset = struct.unpack_from(">I", data, at)[0]
            if in_file and offset >= meta_end:
                struct.pack_into(">I", data, at, offset + grown)
            at += 8
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("properties, photo_turn", [
    ([irot(1), imir(1)], (3, True)),
    ([imir(1), irot(1)], (1, True)),
])
def test_real_heic_transforms_apply_in_association_order(pug_heic, pug_turns, tmp_path, properties, photo_turn):
    edited = pug_with_primary_properties(pug_heic, tmp_path / "pug.heic", properties)
    assert_depth_turned_like_photo(edited, pug_turns, photo_turn)


def test_real_heic_exif_orientation_turns_neither_photo_nor_depth(pug_heic, pug_turns, tmp_path):
    # In HEIF only irot/imir turn an image; pillow-heif resets the EXIF
    # orientation without applying it, so the depth map must not follow it.
    from bokehme.photo_io import read_depth

    orientation = b"\x01\x12\x00\x03\x00\x00\x00\x01\x00"  # tag 0x0112, SHORT, count 1 (big-endian EXIF)
    data = pug_heic.read_bytes()
    assert data.count(orientation + b"\x01") == 1
    path = tmp_path / "pug.heic"
    path.write_bytes(data.replace(orientation + b"\x01", orientation + b"\x06"))
    photo_turns, depth = pug_turns
    np.testing.assert_array_equal(read_photo(path).pixels[::16, ::16], photo_turns[(0, False)])
    np.testing.assert_array_equal(read_depth(path), depth)
