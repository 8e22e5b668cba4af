"""Tests for bokehme.io.write and bokehme.io.atomic: results written whole, or not at all."""

import errno
import os

import cv2
import numpy as np
import pytest
from PIL import Image

from bokehme.io import atomic
from bokehme.io.formats import looks_complete
from bokehme.io.photo import PhotoError
from bokehme.io.read import read_photo
from bokehme.io.write import file_samples, write_cutout, write_mask, write_photo


def no_temp_files(folder):
    return not [name for name in os.listdir(folder) if "bokehme-tmp" in name]


def test_16_bit_png_output_keeps_icc(tmp_path, srgb_profile):
    pytest.importorskip("cv2")
    values = (np.arange(54).reshape(6, 9) * 1201).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "g16.png")
    photo = read_photo(tmp_path / "g16.png")
    photo.icc_profile = srgb_profile()
    write_photo(tmp_path / "out.png", photo.pixels, source=photo)
    with Image.open(tmp_path / "out.png") as image:
        assert image.info["icc_profile"] == photo.icc_profile
        image.load()  # the spliced chunks leave a valid PNG


def test_jpeg_quality_and_subsampling(tmp_path, make_source):
    source = make_source(tmp_path)
    write_photo(tmp_path / "a.jpg", source.pixels, source=source, subsampling="4:2:0", quality=60)
    write_photo(tmp_path / "b.jpg", source.pixels, source=source)
    from PIL import JpegImagePlugin

    with Image.open(tmp_path / "a.jpg") as a, Image.open(tmp_path / "b.jpg") as b:
        assert JpegImagePlugin.get_sampling(a) == 2  # 4:2:0
        assert JpegImagePlugin.get_sampling(b) == 0  # 4:4:4 by default
    assert (tmp_path / "a.jpg").stat().st_size < (tmp_path / "b.jpg").stat().st_size


def test_transparency_reattached_where_format_allows(tmp_path, asymmetric_rgb):
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


def test_path_with_spaces_and_non_ascii(tmp_path, make_source):
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


def test_failed_write_leaves_nothing(tmp_path, monkeypatch, make_source):
    source = make_source(tmp_path)
    failing_save(monkeypatch)
    with pytest.raises(PhotoError, match="encoder exploded") as caught:
        write_photo(tmp_path / "new.jpg", source.pixels, source=source)
    assert "\n" not in str(caught.value) and "new.jpg" in str(caught.value)
    assert not (tmp_path / "new.jpg").exists()
    assert no_temp_files(tmp_path)


def test_failed_write_keeps_existing_output(tmp_path, monkeypatch, make_source):
    source = make_source(tmp_path)
    out = tmp_path / "out.png"
    write_mask(out, np.full((4, 4), 0.5, np.float32))
    before = out.read_bytes()
    failing_save(monkeypatch)
    with pytest.raises(PhotoError):
        write_photo(out, source.pixels, source=source, format="PNG")
    assert out.read_bytes() == before
    assert no_temp_files(tmp_path)


def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch, make_source):
    source = make_source(tmp_path)

    def interrupted(image, fp, *args, **kwargs):
        fp.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_photo(tmp_path / "new.jpg", source.pixels, source=source)
    assert not (tmp_path / "new.jpg").exists()
    assert no_temp_files(tmp_path)


def test_unwritable_folder(tmp_path, make_source):
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


def test_write_permission_error_when_running_as_root(tmp_path, monkeypatch, make_source):
    """What test_unwritable_folder checks, for CI machines that run as root.

    (tests/io/test_read.py checks the reading side.)
    """
    source = make_source(tmp_path)

    def denied(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(atomic, "open", denied, raising=False)
    with pytest.raises(PhotoError, match="cannot write: Permission denied"):
        write_photo(tmp_path / "x.jpg", source.pixels, source=source)
    assert not (tmp_path / "x.jpg").exists()


def test_mask_and_cutout(tmp_path, asymmetric_rgb, srgb_profile, as_float):
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


@pytest.fixture
def astronaut(tmp_path):
    """A real 512x512 photo read back: a JPEG of it at quality 95 is about 120 KB."""
    from skimage import data

    Image.fromarray(data.astronaut()).save(tmp_path / "astronaut.png")
    return read_photo(tmp_path / "astronaut.png")


def test_a_full_disk_leaves_no_truncated_jpeg(small_disk, astronaut):
    # Pillow's JPEG encoder, writing to a file descriptor, takes a short write
    # for success: the file used to be left cut at 64 KB, with no error.
    disk = small_disk(64)
    with pytest.raises(PhotoError, match="No space left on device") as caught:
        write_photo(disk / "out.jpg", astronaut.pixels, source=astronaut, format="JPEG")
    assert caught.value.errno == errno.ENOSPC
    assert os.listdir(disk) == []


def test_a_read_only_disk_is_named(small_disk, astronaut):
    disk = small_disk(1024)
    small_disk.read_only(disk)
    with pytest.raises(PhotoError, match="Read-only file system") as caught:
        write_photo(disk / "out.png", astronaut.pixels, source=astronaut)
    assert caught.value.errno == errno.EROFS


def test_names_as_long_as_the_file_system_takes(tmp_path, make_source):
    source = make_source(tmp_path)
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    longest = tmp_path / ("é" * ((limit - 4) // 2) + "x" * ((limit - 4) % 2) + ".jpg")
    assert len(os.fsencode(longest.name)) == limit
    write_photo(longest, source.pixels, source=source)  # the temporary name is cut, not the output's
    assert read_photo(longest).pixels.shape == source.pixels.shape
    assert no_temp_files(tmp_path)
    temporary = atomic.temporary_path(longest, "0a1b2c3d")
    assert len(os.fsencode(temporary.name)) == limit and atomic.is_temporary_of(temporary.name, longest)
    assert not atomic.is_temporary_of(temporary.name, tmp_path / "other.jpg")


@pytest.mark.parametrize("name, head, tail", [
    ("JPEG", b"\xff\xd8\xff\xe0", b"\x00\xff\xd9"),
    ("PNG", b"\x89PNG\r\n\x1a\n", b"\x00\x00\x00\x00IEND\xaeB`\x82"),
])
def test_looks_complete_needs_both_ends(name, head, tail):
    assert looks_complete(name, head, tail, 100)
    assert not looks_complete(name, head, tail[:-1] + b"\x00", 100)  # cut off before its end
    assert not looks_complete(name, b"\x00" * 8, tail, 100)


def test_gray_stays_gray_where_the_format_allows(tmp_path, asymmetric_rgb):
    gray = asymmetric_rgb()[:, :, 0]
    Image.fromarray(gray).save(tmp_path / "g.png")
    Image.fromarray(np.dstack([gray, gray[::-1]]), "LA").save(tmp_path / "ga.png")
    Image.fromarray(gray.astype(np.uint16) * 257).save(tmp_path / "g16.png")
    source, with_alpha, deep = (read_photo(tmp_path / name) for name in ("g.png", "ga.png", "g16.png"))
    assert source.gray and with_alpha.gray and deep.gray and deep.high_bit_depth
    expected = {("g", "PNG"): "L", ("g", "JPEG"): "L", ("g", "TIFF"): "L", ("g", "WEBP"): "RGB",
                ("ga", "PNG"): "LA", ("ga", "TIFF"): "LA", ("g16", "PNG"): "I;16", ("g16", "TIFF"): "I;16"}
    photos = {"g": source, "ga": with_alpha, "g16": deep}
    for (name, fmt), mode in expected.items():
        out = tmp_path / f"out_{name}.{fmt.lower()}"
        write_photo(out, photos[name].pixels, source=photos[name], format=fmt)
        with Image.open(out) as image:
            assert image.mode == mode, (name, fmt)
            if fmt in ("PNG", "TIFF"):  # lossless: the very values come back
                values = np.asarray(image.getchannel(0) if mode == "LA" else image)
                np.testing.assert_array_equal(values, gray.astype(values.dtype) * (257 if name == "g16" else 1))


@pytest.mark.parametrize("name, fmt, dtype, channels", [
    ("c.jpg", "JPEG", np.uint8, 3), ("c.jpg", "PNG", np.uint8, 3), ("c16.png", "PNG", np.uint16, 3),
    ("c16.png", "JPEG", np.uint8, 3), ("c16.png", "TIFF", np.uint16, 3), ("g.png", "JPEG", np.uint8, 1),
    ("g.png", "WEBP", np.uint8, 3), ("g16.png", "PNG", np.uint16, 1)])
def test_a_result_rounded_ahead_is_written_as_its_floats_would_be(tmp_path, asymmetric_rgb, name, fmt, dtype,
                                                                  channels):
    rgb = asymmetric_rgb(12, 16)
    sources = {"c.jpg": rgb, "c16.png": rgb.astype(np.uint16) * 257 + 3, "g.png": rgb[:, :, 0],
               "g16.png": rgb[:, :, 0].astype(np.uint16) * 251}
    values = sources[name]
    if values.ndim == 3 and values.dtype == np.uint16:  # Pillow writes no 16-bit colour
        cv2.imwrite(str(tmp_path / name), values[:, :, ::-1])
    else:
        Image.fromarray(values).save(tmp_path / name)
    source = read_photo(tmp_path / name)
    # A rendering: smooth values between the samples, the channels of a gray source equal.
    result = np.clip(source.pixels * np.float32(0.93) + np.float32(0.0371), 0, 1)
    samples = file_samples(result, source, fmt)
    assert samples.dtype == dtype and samples.shape == rgb.shape[:2] + (channels,)
    assert file_samples(samples, source, fmt) is samples
    if channels == 1:  # a gray source's rendering, its three channels equal
        np.testing.assert_array_equal(file_samples(np.repeat(samples, 3, axis=2), source, fmt), samples)
    write_photo(tmp_path / "floats", result, source=source, format=fmt)
    write_photo(tmp_path / "samples", samples, source=source, format=fmt)
    assert (tmp_path / "floats").read_bytes() == (tmp_path / "samples").read_bytes()


def test_samples_rounded_for_another_file_are_refused(tmp_path, make_source):
    source = make_source(tmp_path)
    with pytest.raises(ValueError):
        write_photo(tmp_path / "out.jpg", np.zeros(source.samples.shape, np.uint16), source=source)
    assert not (tmp_path / "out.jpg").exists()
