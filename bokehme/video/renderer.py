"""Rendering a stream of frames: the photo rendering, steadied from frame to frame.

Each frame is rendered exactly as a photo is (:func:`bokehme.render`, given
the subject's alpha); only the subject's probability carries state from one
frame to the next, steadied where the picture stands still and reset at a
cut (:mod:`bokehme.imaging.temporal`).
"""

from __future__ import annotations

import time
from collections import defaultdict

import numpy as np

from ..imaging.matte import refine_alpha
from ..imaging.temporal import frame_thumbnail, scene_cut, steady_probability
from ..options import Options
from ..pipeline import Rendering, render

__all__ = ["FrameRenderer", "FRAME_EDGE_PIXELS"]

#: Working size of a frame's soft-edge colour estimate (photos take 5e5):
#: a quarter of the time at 720p, for 1-3 dB less in the band around hair
#: strands of benchmarks/quality.py's still scenes.
FRAME_EDGE_PIXELS = 1.25e5


class FrameRenderer:
    """Renders consecutive frames of one clip or camera.

    Parameters
    ----------
    options : Options
        As for photos; a PII scrub is not for moving pictures.
    segmenter : bokehme.models.Segmenter
    every : int
        Run the segmenter on every `every`-th frame only; the frames between
        reuse its probability, still steadied by their own motion.

    Attributes
    ----------
    frames : int
        Frames rendered so far.
    seconds : dict of str to float
        Time spent so far in each stage: ``"segment"`` (the segmenter and
        the steadying), ``"matte"`` and ``"render"``.
    """

    def __init__(self, options: Options, segmenter, every: int = 1):
        if options.pii:
            raise ValueError("a PII scrub is for photos, not moving pictures")
        if every < 1:
            raise ValueError("every must be at least 1")
        self.options, self.segmenter, self.every = options, segmenter, every
        self.frames = 0
        self.seconds = defaultdict(float)
        self._probability = None  # the segmenter's latest, unsteadied
        self._steady = None
        self._thumbnail = None

    def probability(self, image: np.ndarray) -> np.ndarray:
        """The frame's steadied subject probability, at the segmenter's resolution; state advances."""
        if self._probability is None or self.frames % self.every == 0:
            self._probability = self.segmenter.subject_probability(image, self.options.subject, self.options.people)
        thumbnail = frame_thumbnail(image, self._probability.shape)
        if self._steady is None or scene_cut(self._thumbnail, thumbnail):
            steady = self._probability
        else:
            steady = steady_probability(self._steady, self._probability, self._thumbnail, thumbnail)
        self._steady, self._thumbnail = steady, thumbnail
        self.frames += 1
        return steady

    def render(self, image: np.ndarray, background: np.ndarray | None = None) -> Rendering:
        """Render one frame, (H, W, 3) float32 sRGB in [0, 1]; a frame without the subject is all background.

        Parameters
        ----------
        image : (H, W, 3) float32 ndarray
        background : (H, W, 3) float32 ndarray, optional
            Replaces the background instead of blurring it (see :func:`bokehme.render`).
        """
        start = time.perf_counter()
        probability = self.probability(image)
        matted = time.perf_counter()
        alpha = refine_alpha(image, probability)
        rendered = time.perf_counter()
        result = render(image, self.options, mask=alpha, background=background, probability=probability,
                        edge_pixels=FRAME_EDGE_PIXELS)
        done = time.perf_counter()
        self.seconds["segment"] += matted - start
        self.seconds["matte"] += rendered - matted
        self.seconds["render"] += done - rendered
        return result
