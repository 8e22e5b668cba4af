"""Connected regions of a mask, and how far a mask reaches: the few operations the subject rules repeat.

Every function takes (h, w) bool masks at a model's resolution.  OpenCV
does the work, several times faster than scipy.ndimage, with scipy's
results: the same labels in the same order, the same reach.
"""

from functools import lru_cache

import cv2
import numpy as np
from scipy import ndimage

__all__ = ["label_regions", "label_regions_with_rows", "region_rows", "in_regions", "grown", "within"]


def label_regions(mask):
    """The 4-connected regions of an (h, w) bool mask: ``ndimage.label(mask)``, label for label.

    OpenCV's labelling numbers the regions as scipy's does, in the order
    their first pixels come row by row, several times faster.

    Returns
    -------
    regions : (h, w) int32 ndarray
        0 outside the mask, 1 to `count` inside.
    count : int
    """
    count, regions = cv2.connectedComponents(np.ascontiguousarray(mask).view(np.uint8), connectivity=4,
                                             ltype=cv2.CV_32S)
    return regions, count - 1


def label_regions_with_rows(mask):
    """:func:`label_regions`, with each region's rows: its first and one past its last, two (count,) int arrays."""
    mask = np.ascontiguousarray(mask)
    if not mask.any():  # as a people-only model's other classes are: nothing to number
        return np.zeros(mask.shape, np.int32), 0, np.zeros(0, np.int32), np.zeros(0, np.int32)
    count, regions, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=4,
                                                                ltype=cv2.CV_32S)
    tops = stats[1:, cv2.CC_STAT_TOP]
    return regions, count - 1, tops, tops + stats[1:, cv2.CC_STAT_HEIGHT]


def region_rows(regions):
    """First and one-past-last row of each of the regions 1, 2... of a label array (none of them empty)."""
    rows = [box[0] for box in ndimage.find_objects(regions)]
    return np.array([r.start for r in rows]), np.array([r.stop for r in rows])


def in_regions(regions, count, labels):
    """Where `regions` holds one of `labels`: ``np.isin``, by a table of the labels 0 to `count`."""
    table = np.zeros(count + 1, bool)
    table[labels] = True
    return table.take(regions)


def grown(mask, margin):
    """A bool mask grown by `margin` pixels (at least 1) in every direction, a square at a time."""
    side = 2 * max(1, int(margin)) + 1
    # OpenCV's dilation by a square is a running maximum like ndimage's, several times faster.
    return cv2.dilate(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_RECT, (side, side))) > 0


def within(mask, distance):
    """Where an (h, w) bool mask lies within `distance` pixels, straight-line, of its True pixels.

    Nowhere when the mask is empty.  A pixel ``(x, y)`` away is within when
    ``sqrt(x**2 + y**2) <= distance`` in float64, as with
    ``ndimage.distance_transform_edt``, pixel for pixel, at whole distances too.

    Notes
    -----
    The pixels within `distance` of a pixel form a digital disc, the union
    of the rectangles of its staircase (one per step of its outline): a
    dilation by each rectangle, OpenCV's running maxima, is several times
    faster than a distance transform while they are few.  Beyond that,
    OpenCV's precise distance transform (Felzenszwalb and Huttenlocher's)
    gives float32 distances a little off the true ones (7.0000005 for 7);
    their squares rounded are the true whole squares, whose roots decide.
    """
    near = np.zeros(mask.shape, bool)
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows) or distance < 0:
        return near
    # Only the mask's box, grown by the distance, can lie within it; every
    # pixel of the mask is in there, so the distances there are the same.
    reach = int(distance) + 1
    box = (slice(max(0, rows[0] - reach), rows[-1] + reach + 1),
           slice(max(0, columns[0] - reach), columns[-1] + reach + 1))
    inside = np.ascontiguousarray(mask[box]).view(np.uint8)
    steps = _disc_steps(float(distance))
    if len(steps) > _MOST_STEPS:
        squares = np.rint(np.square(cv2.distanceTransform(1 - inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE),
                                    dtype=np.float64))
        near[box] = np.sqrt(squares) <= distance
        return near
    reached = np.zeros_like(inside)
    for width, height in steps:
        np.maximum(reached, cv2.dilate(inside, cv2.getStructuringElement(cv2.MORPH_RECT, (width, height))),
                   out=reached)
    near[box] = reached.view(bool)
    return near


# Beyond this many steps a disc's dilations cost more than a distance transform.
_MOST_STEPS = 8


@lru_cache(maxsize=16)
def _disc_steps(distance):
    """The (width, height) of the rectangles whose union is the digital disc of radius `distance`.

    A pixel ``(x, y)`` away lies in it when ``sqrt(x**2 + y**2)``, in
    float64, is at most `distance`, as for :func:`within`'s transform.
    """
    radius = int(distance)
    half_widths = [max(x for x in range(radius + 1) if np.sqrt(float(x * x + y * y)) <= distance)
                   for y in range(radius + 1)]
    return tuple((2 * half_widths[y] + 1, 2 * y + 1) for y in range(radius + 1)
                 if y == radius or half_widths[y + 1] < half_widths[y])
