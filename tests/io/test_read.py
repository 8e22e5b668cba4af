"""Tests for bokehme.io.read: every file here is made inside tmp_path (but the real iPhone HEIC)."""

import os

import numpy as np
import pytest
from PIL import Image, ImageOps

from bokehme.batch.plan import Task
from bokehme.cli.failures import describe_failure
from bokehme.io import depth_maps, read
from bokehme.io.depth_maps import read_depth
from bokehme.io.formats import output_format
from bokehme.io.photo import DEFAULT_MAX_PIXELS, ImageTooLarge, PhotoError
from bokehme.io.read import read_photo
from bokehme.io.write import write_photo

ORIENTATION = 0x0112


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF", "WEBP"])
def test_all_exif_orientations_match_pillow(tmp_path, orientation, fmt, asymmetric_rgb, as_float, exif_with):
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


def test_rgba_png_keeps_transparency(tmp_path, asymmetric_rgb, as_float):
    rgba = np.dstack([asymmetric_rgb(), np.linspace(0, 255, 54).reshape(6, 9).astype(np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    photo = read_photo(tmp_path / "a.png")
    np.testing.assert_allclose(photo.pixels, as_float(rgba[:, :, :3]), atol=1e-6)
    np.testing.assert_allclose(photo.transparency, as_float(rgba[:, :, 3]), atol=1e-6)
    assert photo.lossless and photo.format == "PNG"


def test_opaque_alpha_is_not_transparency(tmp_path, asymmetric_rgb):
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
    # Held as stored until rendered: 16 bits, not four bytes of float a sample.
    assert photo.samples.dtype == np.uint16
    np.testing.assert_array_equal(photo.samples, rgb)

    out = tmp_path / f"out{ext}"
    write_photo(out, photo.pixels, source=photo)
    back = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back[:, :, ::-1], rgb)


def test_8_bit_photos_are_held_as_their_bytes(tmp_path, asymmetric_rgb):
    rgb = asymmetric_rgb()
    Image.fromarray(rgb).save(tmp_path / "c.png")
    photo = read_photo(tmp_path / "c.png")
    assert photo.samples.dtype == np.uint8 and not photo.high_bit_depth
    np.testing.assert_array_equal(photo.samples, rgb)
    assert photo.pixels.dtype == np.float32
    np.testing.assert_allclose(photo.pixels, rgb / 255, atol=1e-7)


@pytest.mark.parametrize("orientation", [2, 6, 7])
def test_16_bit_colour_tiff_orientation_applied_once(tmp_path, orientation, asymmetric_rgb, as_float):
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


def test_grayscale_and_one_bit(tmp_path, as_float):
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


def test_webp_lossless_flag(tmp_path, asymmetric_rgb):
    Image.fromarray(asymmetric_rgb()).save(tmp_path / "l.webp", lossless=True)
    Image.fromarray(asymmetric_rgb()).save(tmp_path / "q.webp", quality=80)
    assert read_photo(tmp_path / "l.webp").lossless
    assert not read_photo(tmp_path / "q.webp").lossless


def test_content_not_extension_decides(tmp_path, asymmetric_rgb):
    Image.fromarray(asymmetric_rgb()).save(tmp_path / "really_png.jpg", format="PNG")
    assert read_photo(tmp_path / "really_png.jpg").format == "PNG"


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


def test_truncated_jpeg(tmp_path, asymmetric_rgb):
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
    Image.new("RGB", (4000, 3000)).save(tmp_path / "big.png")
    message = assert_one_line_error(tmp_path / "big.png", "too large", max_pixels=10_000_000)
    assert "4000x3000 pixels (12.0 MP), above the limit of 10.0 MP (10,000,000 pixels)" in message
    with pytest.raises(ImageTooLarge) as caught:
        read_photo(tmp_path / "big.png", max_pixels=1000)
    assert caught.value.size == (4000, 3000) and caught.value.limit == 1000
    # The command line says which flag raises the limit, and to what, on the same line.
    hint = describe_failure(Task(tmp_path / "big.png", None), caught.value)
    assert hint.endswith("; raise the limit with --max-pixels 12000000") and "\n" not in hint
    assert read_photo(tmp_path / "big.png", max_pixels=12_000_000).pixels.shape == (3000, 4000, 3)
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


def test_read_permission_error_when_running_as_root(tmp_path, monkeypatch, make_source):
    """What test_no_read_permission checks, for CI machines that run as root.

    (tests/io/test_write.py checks the writing side.)
    """
    make_source(tmp_path)

    def denied(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(read, "open_regular", denied)
    assert_one_line_error(tmp_path / "src.jpg", "permission denied")


def test_heic_without_pillow_heif_says_what_to_install(tmp_path, monkeypatch):
    # As if pillow-heif were not installed.
    monkeypatch.setattr(read, "pillow_heif", None)
    monkeypatch.setattr(depth_maps, "pillow_heif", None)
    # A HEIF header and nothing decodable after it.
    header = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"
    (tmp_path / "x.heic").write_bytes(header + b"\x00" * 32)
    assert_one_line_error(tmp_path / "x.heic", "install pillow-heif")
    assert read_depth(tmp_path / "x.heic") is None  # no depth map without a decoder for it


def test_reading_does_not_modify_the_file(tmp_path, asymmetric_rgb, exif_with):
    path = tmp_path / "o.jpg"
    Image.fromarray(asymmetric_rgb()).save(path, exif=exif_with(6))
    before, stamp = path.read_bytes(), path.stat().st_mtime_ns
    read_photo(path)
    assert path.read_bytes() == before and path.stat().st_mtime_ns == stamp


def test_a_named_pipe_is_never_waited_on(tmp_path):
    import threading

    os.mkfifo(tmp_path / "pipe.jpg")
    errors = []
    reader = threading.Thread(target=lambda: errors.append(pytest.raises(PhotoError, read_photo, tmp_path / "pipe.jpg")),
                              daemon=True)
    reader.start()
    reader.join(timeout=20)
    assert not reader.is_alive(), "reading a named pipe hangs"
    assert "a named pipe, not a photo file" in str(errors[0].value)
