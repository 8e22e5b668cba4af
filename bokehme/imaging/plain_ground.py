"""The subject grown over what the segmenter missed where the ground behind it is plain.

A segmenter can miss a whole part of a subject that the photo shows
plainly: light trousers against a black backdrop, a hat against a plain
wall.  Around the subject, the pixels the segmenter is sure are background
tell what the ground looks like there.  Where that ground is plain, a
pixel clearly unlike it, and joined to the subject through such pixels,
belongs to the subject; over busy ground (texture, a street, foliage) the
segmenter's word stands and nothing is added (docs/matte.md, "Plain ground").
"""

import cv2
import numpy as np
from scipy import ndimage

__all__ = ["grown_over_plain_ground"]

#: Pixels the segmenter gives less than this probability are ground samples.
GROUND = 0.02

#: Ground whose colours spread farther than this from their median (sRGB
#: in [0, 1]: about 8 levels of 8 bits) is busy: nothing is grown over it.
PLAIN = 0.03

#: The ground is read on the photo shrunk to at most this long side: about
#: the segmenter's own resolution, where a missed limb is still many pixels wide.
WORKING_SIDE = 512


def grown_over_plain_ground(image, probability, *, blocks=6, contrast=4.0, least=0.12, thinnest=0.006,
                            reach=1.0):
    """A subject probability raised to 1 where the photo shows the subject against plain ground.

    Parameters
    ----------
    image : (H, W, 3) float32 ndarray
        sRGB photo in [0, 1].
    probability : (H, W) float32 ndarray
        The subject's probability in [0, 1], at the photo's resolution.
    blocks : int
        The ground is described block by block, this many blocks along the
        long side.
    contrast : float
        A pixel is unlike the ground when its colour lies farther from the
        ground's median than `contrast` times the ground's own median
        spread...
    least : float
        ...and farther than `least` (Euclidean, sRGB in [0, 1]), and it is
        no shadow on the ground (darker, in about the same hue).
    thinnest : float
        Parts thinner than twice this share of the long side (a painted
        line, a crack in a wall) are not joined.
    reach : float
        Nothing is joined farther from the sure subject than this share of
        the sure subject's own extent.

    Returns
    -------
    (H, W) float32 ndarray
        `probability`, raised to 1 on the pixels outside the sure subject
        (above 0.5) that are unlike the ground of every block around them
        and joined to the sure subject through such pixels.

    Notes
    -----
    The ground of a block is the median colour of its ground samples, its
    spread their median distance to it: both hold while the part of the
    subject the segmenter missed is less than half of a block's samples.
    Ground that spreads more than :data:`PLAIN` is busy, and nothing is
    unlike it.  A pixel must be unlike the ground of its own block and of
    the eight around it, so a pixel next to a change of ground (a wall
    meeting a floor) stays with whichever it resembles.
    """
    core = probability > 0.5
    if not core.any():
        return probability
    height, width = probability.shape
    factor = max(height, width) / WORKING_SIDE
    if factor > 1:
        # Area averaging, as the photo is seen at the segmenter's resolution.
        size = (max(1, round(width / factor)), max(1, round(height / factor)))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        joined = _joined(small, cv2.resize(probability, size, interpolation=cv2.INTER_AREA), blocks, contrast,
                         least, thinnest, reach)
        joined = cv2.resize(joined.view(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST).view(bool)
    else:
        joined = _joined(image, probability, blocks, contrast, least, thinnest, reach)
    return np.where(joined, np.float32(1), probability)


def _joined(image, probability, blocks, contrast, least, thinnest, reach):
    """The pixels :func:`grown_over_plain_ground` raises, on the shrunk photo (bool)."""
    core = probability > 0.5
    if not core.any():
        return core
    long_side = max(core.shape)
    rows = np.flatnonzero(core.any(axis=1))
    cols = np.flatnonzero(core.any(axis=0))
    extent = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
    # An even block size: the ground is read on every other pixel.
    unlike = _unlike_ground(image, probability < GROUND, 2 * -(-long_side // (2 * blocks)), contrast, least)
    if not unlike.any():
        return unlike  # nothing stands out of plain ground (or none is plain): nothing to join
    side = 2 * max(1, round(thinnest * long_side)) + 1
    unlike = cv2.morphologyEx(unlike.view(np.uint8), cv2.MORPH_OPEN,
                              cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))).view(bool)
    # OpenCV's distance transform is scipy's exact one to a fraction of a pixel, many times faster.
    unlike &= cv2.distanceTransform((~core).view(np.uint8), cv2.DIST_L2, 5) <= reach * extent
    # OpenCV's 4-connected regions are scipy's, several times faster.
    _, regions = cv2.connectedComponents((core | unlike).view(np.uint8), connectivity=4)
    return np.isin(regions, np.unique(regions[core])) & unlike & ~core


def _unlike_ground(image, ground, size, contrast, least, plain=PLAIN):
    """Where `image` is unlike the `ground` samples of its block of `size` pixels and of the eight around it."""
    height, width = ground.shape
    median, spread = _ground_of_blocks(image, ground, size)
    by, bx = spread.shape
    # Only a block whose own ground and whose neighbours' are all plain can
    # hold a pixel unlike them all: on a busy photo there is none.
    active = ndimage.minimum_filter((spread <= plain).view(np.uint8), size=3, mode="nearest").view(bool)
    if not active.any():
        return np.zeros((height, width), bool)
    needed = np.maximum(least, contrast * spread) ** 2
    ground_light = median.sum(axis=-1)
    ground_tint = median / np.maximum(ground_light, 1e-6)[..., None]
    planes = np.pad(image, ((0, by * size - height), (0, bx * size - width), (0, 0)))
    # The active blocks, a (K, size, size) plane per channel: each block's
    # values broadcast over its pixels.
    blocks = np.ascontiguousarray(planes.reshape(by, size, bx, size, 3).transpose(4, 0, 2, 1, 3)[:, active])
    light = blocks[0] + blocks[1] + blocks[2]
    tint = blocks / np.maximum(light, 1e-6)
    distance = np.empty_like(light)
    channel = np.empty_like(light)

    def squared(x, values):
        """Squared distance of (3, K, size, size) `x` to the (K, 3) `values`, in `distance`."""
        np.square(np.subtract(x[0], values[:, 0, None, None], out=distance), out=distance)
        for k in (1, 2):
            np.square(np.subtract(x[k], values[:, k, None, None], out=channel), out=channel)
            np.add(distance, channel, out=distance)
        return distance

    rows, cols = np.nonzero(active)
    found = np.ones(light.shape, bool)
    for dy in (-1, 0, 1):
        r = np.clip(rows + dy, 0, by - 1)
        for dx in (-1, 0, 1):
            c = np.clip(cols + dx, 0, bx - 1)
            found &= squared(blocks, median[r, c]) > needed[r, c][:, None, None]
            # A shadow cast on the ground is darker in about the same hue.
            darker = light < ground_light[r, c][:, None, None]
            if darker.any():
                found &= ~darker | (squared(tint, ground_tint[r, c]) >= 0.05 ** 2)
    unlike = np.zeros((by, bx, size, size), bool)
    unlike[active] = found
    return unlike.transpose(0, 2, 1, 3).reshape(by * size, bx * size)[:height, :width]


def _ground_of_blocks(image, ground, size):
    """Per block of `size` (even) pixels, the median colour of the ground samples and their median distance to it.

    Blocks with too few samples (inside the subject) take the nearest
    block's.
    """
    height, width = ground.shape
    by, bx = -(-height // size), -(-width // size)
    # Every other row and column (`size` is even): a quarter of a block's
    # thousands of samples tells its median as well.
    half = size // 2
    sampled = ground[::2, ::2]
    padded = np.full((by * half, bx * half, 3), np.nan, np.float32)
    np.copyto(padded[:sampled.shape[0], :sampled.shape[1]], image[::2, ::2], where=sampled[..., None])
    # Each block's samples colour by colour, (by, bx, 3, K): the partial
    # sorts below then run along contiguous rows.
    colours = padded.reshape(by, half, bx, half, 3).transpose(0, 2, 4, 1, 3).reshape(by, bx, 3, -1)
    counts = np.count_nonzero(~np.isnan(colours[:, :, 0]), axis=2)
    known = counts >= max(1, colours.shape[3] // 4)
    if not known.any():
        return np.zeros((by, bx, 3), np.float32), np.full((by, bx), np.inf, np.float32)
    samples, counts = colours[known], counts[known]
    median = _median(samples, counts)
    offsets = samples - median[..., None]
    # The Euclidean norm, term by term: numpy's reduction over an axis of three is several times slower.
    distance = np.sqrt(offsets[:, 0] * offsets[:, 0] + offsets[:, 1] * offsets[:, 1] + offsets[:, 2] * offsets[:, 2])
    spread = _median(distance[:, None], counts)[:, 0]
    r, c = ndimage.distance_transform_edt(~known, return_distances=False, return_indices=True)
    full_median = np.zeros((by, bx, 3), np.float32)
    full_spread = np.zeros((by, bx), np.float32)
    full_median[known], full_spread[known] = median, spread
    return full_median[r, c], full_spread[r, c]


def _median(samples, counts):
    """The (N, C) medians of (N, C, K) `samples` whose rows hold ``counts`` (N,) numbers, the rest NaN."""
    medians = np.empty(samples.shape[:2], samples.dtype)
    # A partial sort per block, NaN last: a block is a few thousand samples.
    for median, row, count in zip(medians, samples, counts):
        middle = (count - 1) // 2
        median[:] = np.partition(row, middle, axis=-1)[:, middle]
    return medians
