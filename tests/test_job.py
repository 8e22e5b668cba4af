"""The per-photo job: one file read once, rendered, and its results written."""

import builtins
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

import bokehme
from bokehme.io.write import write_photo
from bokehme.job import InputSettings, OutputSettings, PhotoJob, Target
from bokehme.options import Options

REPO = Path(__file__).resolve().parent.parent
DEPTH_SCENE = REPO / "sample_images" / "depth_scene.jpg"


@pytest.fixture()
def opened(monkeypatch):
    """The real paths every ``open()`` and ``os.open()`` of the test opens, in order."""
    paths = []

    def counting(real_open):
        def open_(file, *args, **kwargs):
            if isinstance(file, (str, bytes, os.PathLike)):
                paths.append(os.path.realpath(file))
            return real_open(file, *args, **kwargs)

        return open_

    monkeypatch.setattr(builtins, "open", counting(builtins.open))
    monkeypatch.setattr(os, "open", counting(os.open))
    return paths


def test_a_photo_and_its_depth_map_are_read_from_one_reading_of_the_file(opened, disc_segmenter):
    loaded = PhotoJob(Options(), disc_segmenter()).load(DEPTH_SCENE)
    assert loaded.disparity is not None and loaded.disparity.ndim == 2
    assert opened.count(os.path.realpath(DEPTH_SCENE)) == 1


def test_a_phone_heic_and_its_depth_map_are_read_once(pug_heic, opened, disc_segmenter):
    loaded = PhotoJob(Options(), disc_segmenter()).load(pug_heic)
    assert loaded.photo.format == "HEIF" and loaded.disparity is not None
    assert opened.count(os.path.realpath(pug_heic)) == 1


def test_depth_is_not_read_when_off_or_for_a_scrub():
    assert PhotoJob(Options(), inputs=InputSettings(depth="off")).load(DEPTH_SCENE).disparity is None
    assert PhotoJob(Options(pii=True)).load(DEPTH_SCENE).disparity is None


def test_reading_changes_no_process_wide_pillow_state(pug_heic):
    # In a fresh process: the test run itself may have registered openers.
    script = f"""
import warnings, PIL.Image as I
from bokehme.io.read import read_photo
I.init()  # Pillow's own plugins load lazily, on a first open
before = (I.MAX_IMAGE_PIXELS, sorted(I.OPEN), len(warnings.filters))
assert "HEIF" not in I.OPEN
read_photo({str(pug_heic)!r}, max_pixels=10**9, with_depth=True)
read_photo({str(DEPTH_SCENE)!r}, max_pixels=10**9, with_depth=True)
print(before == (I.MAX_IMAGE_PIXELS, sorted(I.OPEN), len(warnings.filters)))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO)
    assert result.stdout.strip() == "True", result.stderr


def test_run_writes_the_photo_mask_and_cutout(tmp_path, disc_segmenter):
    source = tmp_path / "me.png"
    Image.fromarray(data.astronaut()[::4, ::4]).save(source)
    target = Target(tmp_path / "me_bokeh.png", mask=tmp_path / "mask.png", cutout=tmp_path / "cut.png")
    record = PhotoJob(Options(radius=5), disc_segmenter()).run(source, target)
    assert record is None
    mask = np.asarray(Image.open(target.mask))
    assert mask.shape == (128, 128) and mask[64, 64] == 255 and mask[0, 0] == 0
    cutout = np.asarray(Image.open(target.cutout))
    assert cutout.shape == (128, 128, 4) and np.array_equal(cutout[..., 3], mask)
    out = np.asarray(Image.open(target.destination))
    original = np.asarray(Image.open(source))
    assert np.array_equal(out[mask == 255], original[mask == 255])
    assert not np.array_equal(out[mask == 0], original[mask == 0])


def test_a_rendering_waits_to_be_written_as_the_samples_its_files_hold(tmp_path, disc_segmenter):
    source = tmp_path / "me.jpg"
    Image.fromarray(data.astronaut()[::4, ::4]).save(source)
    job = PhotoJob(Options(radius=5), disc_segmenter())
    loaded = job.load(source)
    rendering = job.compute(loaded)
    assert rendering.image.dtype == np.uint8 and rendering.image.shape == (128, 128, 3)
    assert rendering.alpha.dtype == np.uint8 and rendering.alpha.max() == 255
    target = Target(tmp_path / "out.jpg", mask=tmp_path / "mask.png")
    job.save(loaded, rendering, target)
    # The same files as writing what render() gives for the photo, all at once.
    direct = bokehme.render(loaded.photo.samples, Options(radius=5), disc_segmenter())
    write_photo(tmp_path / "direct.jpg", direct.image, source=loaded.photo)
    assert target.destination.read_bytes() == (tmp_path / "direct.jpg").read_bytes()
    np.testing.assert_array_equal(np.asarray(Image.open(target.mask)), np.round(direct.alpha * 255))


def test_a_scrub_strips_metadata_and_returns_its_record(tmp_path, disc_segmenter):
    source = tmp_path / "me.jpg"
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    Image.fromarray(data.astronaut()[::4, ::4]).save(source, exif=exif)
    job = PhotoJob(Options(pii=True), disc_segmenter(), outputs=OutputSettings(metadata="keep"))
    record = job.run(source, Target(tmp_path / "out.jpg"))
    assert record["output"] == str(tmp_path / "out.jpg") and "Make" in record["metadata_removed"]
    assert b"Exif" not in (tmp_path / "out.jpg").read_bytes()
    assert "Make" not in {Image.ExifTags.TAGS.get(tag) for tag in Image.open(tmp_path / "out.jpg").getexif()}
