"""Shared fixtures: where the workplace's real models and photos lie, and scenes tests in several folders use.

The files under ``../shared`` are never part of the repository.  Tests that
need them skip on a developer's machine without them, but fail under CI
(``CI=true``) so that a missing file can never hide a real-model test.

Test files cannot import each other (nor this file): a helper that tests in
several files need is a fixture here, or in the conftest.py of their folder.
"""

import math
import os
import subprocess
from collections import namedtuple
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage
from skimage import data, transform

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


def shared_file(*parts):
    """Return a path under ``../shared``; fail in CI, skip elsewhere, if absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        message = f"{path} is missing"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (required under CI=true)")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def mobilenetv2_tflite():
    """The DeepLabV3-MobileNetV2 TFLite file from ``../shared/models``."""
    return shared_file("models", "deeplabv3_257_mv_gpu.tflite")


@pytest.fixture(scope="session")
def devset_dir():
    """The folder of real photos with human-drawn masks."""
    return shared_file("devset")


@pytest.fixture(scope="session")
def pug_heic():
    """A real iPhone Portrait-mode HEIC with a depth image."""
    return shared_file("photos", "pug_portrait_mode.heic")


# What shutil.disk_usage gives.
_DiskUsage = namedtuple("_DiskUsage", "total used free")


@pytest.fixture
def little_shared_memory(monkeypatch):
    """``little_shared_memory(short_from=0) -> asked``: /dev/shm nearly full, as the frame workers see it.

    From the room check's `short_from`-th question on (the real figure
    before), /dev/shm has 64 KB (2**16 bytes) free, as a container's small
    one has with frames in it; `asked` lists the paths asked about.
    """
    from bokehme.video import workers

    real_usage = workers.shutil.disk_usage

    def shorten(short_from=0):
        asked = []

        def usage(path):
            asked.append(path)
            return real_usage(path) if len(asked) <= short_from else _DiskUsage(total=2**16, used=0, free=2**16)

        monkeypatch.setattr(workers.shutil, "disk_usage", usage)
        return asked

    return shorten


@pytest.fixture
def small_disk(tmp_path):
    """``small_disk(kilobytes)``: a real tmpfs of that size mounted in tmp_path, to fill up or make read-only.

    Mounting needs root (CI runs as root); elsewhere the test is skipped, under
    CI=true it fails.  ``small_disk.read_only(folder)`` remounts it read-only.
    """
    mounted = []

    def mount(kilobytes):
        folder = tmp_path / f"disk{len(mounted)}"
        folder.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kilobytes}k", "tmpfs", str(folder)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            message = f"cannot mount a tmpfs: {done.stderr.strip()}"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(message + " (required under CI=true)")
            pytest.skip(message)
        mounted.append(folder)
        return folder

    def read_only(folder):
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)

    mount.read_only = read_only
    yield mount
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], check=False)


# ---------------------------------------------------------------------------
# Synthetic and real scenes that tests in several folders need.


class ThreePlanes:
    """A synthetic scene of three planes side by side: far | in focus | near.

    Each plane has its own colour, darker above a horizontal step at the
    middle row (to measure the blur) and a fine random texture in the
    in-focus plane (to see that it stays sharp).  ``image`` is the photo,
    ``levels`` its 8-bit disparity (8-bit, so that a PNG round trip is exact).
    """

    height, width = 240, 360
    third = width // 3
    far, focus, near = 26, 128, 200
    colours = {far: (0.9, 0.2, 0.2), focus: (0.2, 0.8, 0.2), near: (0.2, 0.3, 0.9)}

    def __init__(self):
        rng = np.random.default_rng(1)
        image = np.empty((self.height, self.width, 3), np.float32)
        levels = np.empty((self.height, self.width), np.uint8)
        for i, level in enumerate((self.far, self.focus, self.near)):
            columns = slice(i * self.third, (i + 1) * self.third)
            image[:, columns] = self.colours[level]
            image[:self.height // 2, columns] *= 0.3
            levels[:, columns] = level
        middle = image[:, self.third:2 * self.third]
        middle += rng.uniform(-0.1, 0.1, middle.shape).astype(np.float32)
        self.image = np.clip(image, 0, 1)
        self.levels = levels


@pytest.fixture(scope="session")
def three_planes():
    """The :class:`ThreePlanes` scene (its arrays are shared: do not modify them)."""
    return ThreePlanes()


def _pug_regions(disparity):
    """Head, wall, near bed and the wall beside the pug, found in the photo's depth map.

    The pug is the largest connected region of middle disparity (between
    the wall's and the bed's).  Its head is the highest part of the dog: the
    part of that region within a quarter of the dog's height of the point
    that far below the top of its head.  The wall is everything well above
    the pug's top, right of the door frame.  The near bed is the largest
    region of high disparity.  Beside the pug is the wall (low disparity)
    3 to 12 map pixels from its outline.
    """
    pug, count = ndimage.label((disparity > 0.3) & (disparity < 0.55))
    sizes = ndimage.sum(np.ones_like(disparity), pug, index=np.arange(1, count + 1))
    pug = pug == 1 + int(np.argmax(sizes))
    rows = np.nonzero(pug.any(axis=1))[0]
    top, bottom = rows[0], rows[-1]
    reach = (bottom - top) / 4
    crown = np.nonzero(pug[top])[0].mean()
    y, x = np.ogrid[:disparity.shape[0], :disparity.shape[1]]
    head = pug & ((y - top - reach) ** 2 + (x - crown) ** 2 < reach ** 2)
    wall = np.zeros_like(pug)
    wall[:int(top * 0.8), disparity.shape[1] // 5:] = True
    bed, count = ndimage.label(disparity > 0.6)
    sizes = ndimage.sum(np.ones_like(disparity), bed, index=np.arange(1, count + 1))
    bed = bed == 1 + int(np.argmax(sizes))
    beside = (ndimage.binary_dilation(pug, iterations=12) & ~ndimage.binary_dilation(pug, iterations=3)
              & (disparity < 0.25))
    return head, wall, bed, beside


@pytest.fixture(scope="session")
def pug_regions():
    """``pug_regions(disparity) -> (head, wall, bed, beside)``: masks in the pug photo's depth map."""
    return _pug_regions


@pytest.fixture(scope="module")
def pug(pug_heic):
    """The pug photo (full size) and its depth map."""
    from bokehme.io.depth_maps import read_depth
    from bokehme.io.read import read_photo

    return read_photo(pug_heic), read_depth(pug_heic)


class StreetScene:
    """The PII scrub's street-like scene: a subject in the middle, words and a bystander behind.

    The subject is the astronaut's upper body (270x346) pasted at
    ``subject_box``, the bystander her head (100x120) at ``bystander_box``;
    the words of ``words`` are drawn at ``word_places``.  ``image`` is the
    scene as float32 sRGB in [0, 1].
    """

    words = ("PRIVATE", "GARDEN", "HOUSE", "STREET")
    word_places = ((20, 30), (570, 30), (590, 220), (570, 420))
    height, width = 520, 800
    subject_box = (280, height - 346, 550, height)
    bystander_box = (60, 250, 160, 370)

    def __init__(self):
        from PIL import Image, ImageDraw, ImageFont
        from skimage import data

        canvas = Image.new("RGB", (self.width, self.height), (214, 206, 190))
        draw = ImageDraw.Draw(canvas)
        font = ImageFont.load_default(size=44)
        for word, place in zip(self.words, self.word_places):
            draw.text(place, word, fill=(30, 30, 40), font=font)
        astronaut = Image.fromarray(data.astronaut())
        x0, y0, x1, y1 = self.subject_box
        canvas.paste(astronaut.crop((60, 0, 460, 512)).resize((x1 - x0, y1 - y0), Image.LANCZOS), (x0, y0))
        x0, y0, x1, y1 = self.bystander_box
        canvas.paste(astronaut.crop((140, 20, 340, 260)).resize((x1 - x0, y1 - y0), Image.LANCZOS), (x0, y0))
        self.image = np.asarray(canvas, dtype=np.float32) / 255


@pytest.fixture(scope="session")
def street_scene():
    """The :class:`StreetScene` (its image is shared: do not modify it)."""
    return StreetScene()


def _centre_in(box, region):
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return region[0] <= cx < region[2] and region[1] <= cy < region[3]


@pytest.fixture(scope="session")
def centre_in():
    """``centre_in(box, region)``: whether the centre of an (x0, y0, x1, y1) box lies in a region."""
    return _centre_in


@pytest.fixture(scope="session")
def disc_segmenter():
    """A segmenter class that sees one person, a disc in the middle of the frame (or nobody).

    ``disc_segmenter(radius=0.3, present=True)``: the disc's radius as a
    fraction of the frame's height.  It stands in for a model where a test is
    about the pipeline around it, not about finding people.
    """
    from bokehme.models.base import Segmenter

    class DiscSegmenter(Segmenter):
        name = "disc"
        labels = ("background", "person")

        def __init__(self, radius=0.3, present=True):
            self.radius, self.present = radius, present

        def class_probabilities(self, image):
            h, w = 64, round(64 * image.shape[1] / image.shape[0])
            y, x = np.mgrid[:h, :w]
            inside = np.hypot((y - h / 2) / h, (x - w / 2) / h) < self.radius
            person = (inside & self.present).astype(np.float32)
            return np.stack([1 - person, person])

    return DiscSegmenter


# --------------------------------------------------------------------------
# Clips made in the test (video files, and files standing in for a camera)


def _scene(width, height, shift):
    """A real photo as the background and a bright disc as the subject, `shift` px right of centre."""
    background = transform.resize(data.coffee(), (height, width), anti_aliasing=True).astype(np.float32)
    y, x = np.mgrid[:height, :width]
    subject = np.hypot(y - height / 2, x - width / 2 - shift) < height / 4
    frame = background.copy()
    frame[subject] = (0.95, 0.85, 0.2)
    return frame, subject


def _make_clip(path, *, width=160, height=120, timestamps_ms=None, frames=12, motion=0.0, rotation=0,
               audio_seconds=0.0, noise=0.01, codec="libx264"):
    import av

    timestamps_ms = timestamps_ms or [round(i * 1000 / 24) for i in range(frames)]
    masks = []
    with av.open(str(path), "w") as out:
        video = out.add_stream(codec, options={"crf": "16", "preset": "ultrafast"} if codec == "libx264" else {})
        # width and height are the upright picture's; a quarter turn swaps the coded ones.
        turned = rotation % 180 != 0
        video.width, video.height = (height, width) if turned else (width, height)
        video.pix_fmt = "yuv420p"
        video.time_base = video.codec_context.time_base = Fraction(1, 1000)
        video.codec_context.framerate = Fraction(24)
        if rotation:
            video.set_display_rotation(rotation)
        packets = []
        if audio_seconds:
            # Encoded first: the container's header needs every stream's encoder open.
            audio = out.add_stream("aac", rate=48000)
            samples = int(48000 * audio_seconds)
            for start in range(0, samples, 1024):
                count = min(1024, samples - start)
                tone = 0.2 * np.sin(2 * math.pi * 440 * np.arange(start, start + count) / 48000)
                sound = av.AudioFrame.from_ndarray(tone.astype(np.float32)[None], format="fltp", layout="mono")
                sound.sample_rate, sound.pts = 48000, start
                packets += audio.encode(sound)
            packets += audio.encode()
        rng = np.random.default_rng(0)
        for i, pts in enumerate(timestamps_ms):
            frame, subject = _scene(width, height, motion * i)
            masks.append(subject)
            frame = np.clip(frame + rng.normal(0, noise, frame.shape), 0, 1)
            coded = np.ascontiguousarray(np.rot90(frame, -(rotation // 90)))
            picture = av.VideoFrame.from_ndarray((coded * 255 + 0.5).astype(np.uint8), format="rgb24")
            picture.pts, picture.time_base = pts, video.time_base
            packets += video.encode(picture)
        packets += video.encode()
        out.mux(packets)
    return masks


@pytest.fixture(scope="session")
def make_clip():
    """``make_clip(path, width=160, height=120, timestamps_ms=None, frames=12, motion=0, rotation=0,
    audio_seconds=0, noise=0.01) -> subject masks``: write a clip of a yellow disc over a real photo."""
    return _make_clip


@pytest.fixture(scope="session")
def scene():
    """``scene(width, height, shift) -> (frame, subject mask)`` of the clips above."""
    return _scene


@pytest.fixture(scope="session")
def yellow_segmenter():
    """A segmenter that takes yellow things for the subject (the clips' disc), at 1/4 resolution."""
    from bokehme.models.base import Segmenter

    class YellowSegmenter(Segmenter):
        name = "yellow"
        labels = ("background", "person")

        def class_probabilities(self, image):
            small = image[::4, ::4] / (255 if image.dtype == np.uint8 else 1)
            yellow = (small[..., 0] > 0.8) & (small[..., 1] > 0.7) & (small[..., 2] < 0.4)
            person = yellow.astype(np.float32)
            return np.stack([1 - person, person])

    return YellowSegmenter()
