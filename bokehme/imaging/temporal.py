"""Subject probabilities made steady from frame to frame, without ghosts.

A segmenter run on each frame of a clip wavers where it is unsure (hair,
a hand against a similar wall): the alpha flickers although nothing moves.
Averaging over time steadies it, but where the subject moves, the average
drags the old outline behind as a ghost.  So the previous frame's
probability is blended in only where the picture itself stands still:
per pixel, by how little its colour changed since the previous frame.
"""

import numpy as np

from .guided_filter import box_mean
from .resample import resize_image_to_uint8

__all__ = ["frame_thumbnail", "scene_cut", "steady_probability"]

#: How much of the previous probability a still pixel keeps.
MEMORY = 0.7

#: Colour change (sRGB, 0..1, largest channel) from which a pixel counts as moving.
MOTION = 0.08

#: Mean colour change of the whole frame above which a new shot has begun.
CUT = 0.2


def frame_thumbnail(frame, shape):
    """A frame at the probability's resolution, as `steady_probability` compares them.

    Parameters
    ----------
    frame : (H, W, 3) ndarray
        sRGB, float32 in [0, 1] or uint8 in [0, 255].
    shape : (int, int)
        The (h, w) of the segmenter's probability.

    Returns
    -------
    (h, w, 3) float32 ndarray
        In [0, 1].
    """
    return resize_image_to_uint8(frame, shape).astype(np.float32) / 255


def scene_cut(previous, current, threshold=CUT):
    """Whether two thumbnails (see :func:`frame_thumbnail`) belong to different shots."""
    return float(np.abs(current - previous).mean()) > threshold


def steady_probability(previous_probability, probability, previous_thumbnail, thumbnail, *,
                       memory=MEMORY, motion=MOTION):
    """Blend the previous frame's subject probability in where the picture stands still.

    Parameters
    ----------
    previous_probability, probability : (h, w) float32 ndarray
        The previous frame's steadied probability and this frame's own, in [0, 1].
    previous_thumbnail, thumbnail : (h, w, 3) float32 ndarray
        The two frames at that resolution (:func:`frame_thumbnail`).
    memory : float
        Share of the previous probability kept where nothing moves, in [0, 1).
    motion : float
        Colour change at which a pixel counts as wholly moving.

    Returns
    -------
    (h, w) float32 ndarray
        ``p + w (p_prev - p)`` with ``w = memory * max(0, 1 - change / motion)``,
        the change taken as the largest channel's, averaged over 3x3 pixels
        so sensor noise does not count as motion.

    Notes
    -----
    On a still scene this is an exponential moving average whose noise
    variance falls to ``(1 - m) / (1 + m)`` of a single frame's; where the
    subject moves, ``w`` is 0 and the probability is this frame's own, so
    nothing trails behind it.
    """
    difference = np.abs(thumbnail - previous_thumbnail)
    # The largest channel's by two maxima of planes: numpy reduces a last
    # axis of three slowly.
    change = box_mean(np.maximum(np.maximum(difference[..., 0], difference[..., 1]), difference[..., 2]), 1)
    weight = memory * np.clip(1 - change / motion, 0, 1)
    steady = probability + weight * (previous_probability - probability)
    return steady.astype(np.float32)
