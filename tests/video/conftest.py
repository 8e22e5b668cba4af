"""What the video tests share beyond the clips of tests/conftest.py: orientation and decoding."""

import numpy as np
import pytest


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
