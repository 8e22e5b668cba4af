"""Clips made in the test: a subject over a textured background, with sound, rotated, at a variable rate."""

import math
from fractions import Fraction

import numpy as np
import pytest
from skimage import data, transform


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
            small = image[::4, ::4]
            yellow = (small[..., 0] > 0.8) & (small[..., 1] > 0.7) & (small[..., 2] < 0.4)
            person = yellow.astype(np.float32)
            return np.stack([1 - person, person])

    return YellowSegmenter()


@pytest.fixture(scope="session")
def top_half_segmenter():
    """A segmenter that takes the top half of the upright frame for the subject: it tells orientation."""
    from bokehme.models.base import Segmenter

    class TopHalfSegmenter(Segmenter):
        name = "top"
        labels = ("background", "person")

        def class_probabilities(self, image):
            person = np.zeros((40, 40), np.float32)
            person[:20] = 1
            return np.stack([1 - person, person])

    return TopHalfSegmenter()


def decode(path):
    """Every frame of a clip as (pixels upright float32, seconds), its rotation, and its audio seconds."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames, rotation = [], 0
        for frame in container.decode(stream):
            rotation = frame.rotation
            pixels = np.rot90(frame.to_ndarray(format="rgb24"), int(round(rotation / 90)))
            frames.append((pixels.astype(np.float32) / 255, float(frame.pts * frame.time_base)))
        audio = [float(s.duration * s.time_base) for s in container.streams.audio if s.duration]
        codecs = [s.codec_context.name for s in container.streams.audio]
    return frames, rotation, audio, codecs


@pytest.fixture(scope="session")
def decoded():
    """``decoded(path) -> (frames [(pixels, seconds)], rotation, audio seconds, audio codecs)``."""
    return decode
