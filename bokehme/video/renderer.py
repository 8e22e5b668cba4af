"""Rendering a stream of frames: the photo rendering, steadied from frame to frame.

Each frame is rendered as a photo is (:func:`bokehme.render`, given the
subject's alpha); only the subject's probability carries state from one
frame to the next, steadied where the picture stands still and reset at a
cut (:mod:`bokehme.imaging.temporal`).  That state is the only sequential
step: the matte and the rendering of consecutive frames are independent, so
:meth:`FrameRenderer.render_frames` runs several at once, in order, in
threads or in processes of their own (:mod:`bokehme.video.workers`).
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from typing import Iterable, Iterator, NamedTuple

import cv2
import numpy as np

from ..imaging.resample import resize_image_to_uint8, resize_map, size_for_long_side
from ..imaging.temporal import frame_thumbnail, scene_cut, steady_probability
from ..options import Options
from .worker_processes import FRAME_WORKERS, SharedMemoryShort
from .workers import FRAME_EDGE_PIXELS, FrameThreads, FrameWorkers, matte_and_render

__all__ = ["FrameRenderer", "RenderedFrame", "FRAME_EDGE_PIXELS"]


class RenderedFrame(NamedTuple):
    """A rendered frame: (H, W, 3) uint8 sRGB pixels and the (H, W) float32 alpha used (None if not asked for)."""

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
    shared_memory_short : SharedMemoryShort or None
        Why :meth:`render_frames`, asked for processes, rendered in threads
        instead: the frames did not fit in the shared memory free.
    """

    def __init__(self, options: Options, segmenter, every: int = 1):
        if options.pii:
            raise ValueError("a PII scrub is for photos, not moving pictures")
        if every < 1:
            raise ValueError("every must be at least 1")
        self.options, self.segmenter, self.every = options, segmenter, every
        self.frames = 0
        self.seconds = defaultdict(float)
        self.shared_memory_short = None
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
        self.seconds["segment"] += time.perf_counter() - start
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
        image, alpha, seconds = matte_and_render(pixels, self.probability(pixels), background, self.options)
        self._add(seconds)
        return RenderedFrame(image, alpha)

    def render_frames(self, frames: Iterable[tuple], workers: int = FRAME_WORKERS, processes: bool = False,
                      alphas: bool = True) -> Iterator[RenderedFrame]:
        """Render ``(pixels, background)`` pairs in order, up to `workers` at once.

        While the workers are busy, the subject of one frame more is found
        (the segmenter and the steadying are sequential: done between two
        renderings, they would leave a core idle); it waits for the first
        worker free.  A frame is taken from `frames` only then, so a live
        source hands over its newest frame, not an old one; and only once
        the workers have started.

        Parameters
        ----------
        frames : iterable of (pixels, background)
        workers : int
        processes : bool
            The workers are processes, each with a Python lock of its own
            (:class:`~bokehme.video.workers.FrameWorkers`), rather than
            threads of this one.  Where the frames do not fit in the shared
            memory free (a container's 64 MB and 4K frames), the rest are
            rendered in threads, the same pictures more slowly, and
            :attr:`shared_memory_short` says why.  Meanwhile OpenCV runs one
            thread in this process, a setting of the whole process: one such
            rendering at a time.
        alphas : bool
            Whether the frames come with their alpha; None otherwise.
        """
        pending = deque()
        self.shared_memory_short = None
        pool = (FrameWorkers if processes else FrameThreads)(workers, self.options, alphas)
        # With the rendering in processes, this one's own array work (the
        # subject rules' labelling and dilations, the steadying's box filter,
        # the encoder's colour conversion) is on small images or in threads
        # of its own: OpenCV's pool threads cost more, waking and spinning,
        # than they share out, and the workers need the cores.
        opencv_threads = cv2.getNumThreads()
        if processes:
            cv2.setNumThreads(1)
        try:
            for pixels, background in frames:
                probability = self.probability(pixels)
                try:
                    ticket = pool.submit(pixels, probability, background)
                except SharedMemoryShort as error:
                    # Nothing of this frame was handed over: the frames out
                    # are collected, and it goes to threads, which share all.
                    while pending:
                        yield self._collect(pool, pending.popleft())
                    pool.close()
                    cv2.setNumThreads(opencv_threads)
                    pool = FrameThreads(workers, self.options, alphas)
                    self.shared_memory_short = error
                    ticket = pool.submit(pixels, probability, background)
                pending.append(ticket)
                if len(pending) > workers:
                    yield self._collect(pool, pending.popleft())
            while pending:
                yield self._collect(pool, pending.popleft())
        finally:
            pool.close()
            cv2.setNumThreads(opencv_threads)

    def _collect(self, pool, ticket):
        image, alpha, seconds = pool.result(ticket)
        self._add(seconds)
        return RenderedFrame(image, alpha)

    def _add(self, seconds):
        self.seconds["matte"] += seconds[0]
        self.seconds["render"] += seconds[1]
