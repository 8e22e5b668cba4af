"""Rendering a stream of frames: the photo rendering, steadied from frame to frame.

Each frame is rendered as a photo is (:func:`bokehme.render`, given the
subject's alpha); only the subject's probability carries state from one
frame to the next, steadied where the picture stands still and reset at a
cut (:mod:`bokehme.imaging.temporal`).  That state is the only sequential
step: the matte and the rendering of consecutive frames are independent, so
:meth:`FrameRenderer.render_frames` runs several at once, in order.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Iterator, NamedTuple

import numpy as np

from ..imaging.matte import refine_alpha
from ..imaging.resample import resize_image_to_uint8, resize_map, size_for_long_side
from ..imaging.temporal import frame_thumbnail, scene_cut, steady_probability
from ..options import Options
from ..pipeline import render

__all__ = ["FrameRenderer", "RenderedFrame", "FRAME_EDGE_PIXELS"]

#: Working size of a frame's soft-edge colour estimate (photos take 5e5): a
#: frame has a few dozen milliseconds, and its coarser estimate costs fine
#: strands a little of their colour (README, "Video files").
FRAME_EDGE_PIXELS = 3e4


class RenderedFrame(NamedTuple):
    """A rendered frame: (H, W, 3) uint8 sRGB pixels and the (H, W) float32 alpha used."""

    pixels: np.ndarray
    alpha: np.ndarray


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
        Frames whose subject has been found so far.
    seconds : dict of str to float
        Time spent so far in each stage, summed over frames rendered at
        once: ``"segment"`` (the segmenter and the steadying), ``"matte"``
        and ``"render"``.
    """

    def __init__(self, options: Options, segmenter, every: int = 1):
        if options.pii:
            raise ValueError("a PII scrub is for photos, not moving pictures")
        if every < 1:
            raise ValueError("every must be at least 1")
        self.options, self.segmenter, self.every = options, segmenter, every
        self.frames = 0
        self.seconds = defaultdict(float)
        self._timing = threading.Lock()
        self._probability = None  # the segmenter's latest, unsteadied
        self._steady = None
        self._thumbnail = None

    def probability(self, pixels: np.ndarray) -> np.ndarray:
        """The frame's steadied subject probability, at the segmenter's resolution; state advances.

        Parameters
        ----------
        pixels : (H, W, 3) uint8 ndarray
            The frame, sRGB.
        """
        start = time.perf_counter()
        seen = pixels
        if self.segmenter.long_side is not None:
            # Shrunk once, for the network and for the steadying alike.
            seen = resize_image_to_uint8(pixels, size_for_long_side(pixels.shape, self.segmenter.long_side))
        if self._probability is None or self.frames % self.every == 0:
            self._probability = self.segmenter.subject_probability(seen, self.options.subject, self.options.people)
        shape = self._probability.shape
        if self._steady is not None and self._steady.shape != shape:
            # A closer look changes the probability's resolution from one
            # frame to the next: the state follows it.
            self._steady = resize_map(self._steady, shape)
            self._thumbnail = frame_thumbnail(self._thumbnail, shape)
        thumbnail = frame_thumbnail(seen if seen.shape[:2] == shape else pixels, shape)
        if self._steady is None or scene_cut(self._thumbnail, thumbnail):
            steady = self._probability
        else:
            steady = steady_probability(self._steady, self._probability, self._thumbnail, thumbnail)
        self._steady, self._thumbnail = steady, thumbnail
        self.frames += 1
        self._count("segment", start)
        return steady

    def render(self, pixels: np.ndarray, background: np.ndarray | None = None) -> RenderedFrame:
        """Render the next frame.

        Parameters
        ----------
        pixels : (H, W, 3) uint8 ndarray
            The frame, sRGB; a frame without the subject is all background.
        background : (H, W, 3) float32 ndarray, optional
            Replaces the background instead of blurring it (see :func:`bokehme.render`).
        """
        return self._finish(pixels, self.probability(pixels), background)

    def render_frames(self, frames: Iterable[tuple], workers: int = 2) -> Iterator[RenderedFrame]:
        """Render ``(pixels, background)`` pairs in order, up to `workers` at once.

        While the workers are busy, the subject of one frame more is found
        (the segmenter and the steadying are sequential: done between two
        renderings, they would leave a core idle); it waits for the first
        worker free.  A frame is taken from `frames` only then, so a live
        source hands over its newest frame, not an old one.
        """
        pending = deque()
        with ThreadPoolExecutor(workers, thread_name_prefix="bokehme-render") as pool:
            try:
                for pixels, background in frames:
                    probability = self.probability(pixels)
                    pending.append(pool.submit(self._finish, pixels, probability, background))
                    if len(pending) > workers:
                        yield pending.popleft().result()
                while pending:
                    yield pending.popleft().result()
            finally:
                for future in pending:
                    future.cancel()

    def _finish(self, pixels, probability, background):
        """Matte and render one frame whose steadied probability is known."""
        start = time.perf_counter()
        # The 8-bit frame goes in as it is: the imaging reads it as v / 255
        # where it needs floats, and hands back 8 bits.
        alpha = refine_alpha(pixels, probability)
        matted = self._count("matte", start)
        out = render(pixels, self.options, mask=alpha, background=background, probability=probability,
                     edge_pixels=FRAME_EDGE_PIXELS).image
        self._count("render", matted)
        return RenderedFrame(out, alpha)

    def _count(self, stage, start):
        """Add the time since `start` to `stage`; the time now."""
        now = time.perf_counter()
        with self._timing:
            self.seconds[stage] += now - start
        return now
