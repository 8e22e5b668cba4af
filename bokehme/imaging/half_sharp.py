"""The subject's probability with no half-sharp regions.

A lens leaves a point either in focus or not; only along a real outline
(hair, a moving hand) does a pixel mix the two.  A segmenter's probability
also takes middle values where the network is merely unsure: over a helmet's
reflection, over a dark table beside the subject.  Turned into an alpha,
such doubt renders as a patch of half-sharp background or a half-blurred
hole in the subject.  Here doubt is settled before the matte is fitted: a
hole the segmenter never called background is subject, and a band of doubt
wider than any outline takes the segmenter's decision (docs/matte.md,
"Half-sharp regions").
"""

import cv2
import numpy as np

__all__ = ["without_half_sharp"]

#: Probabilities within this of 0 or 1 are sure.
SURE = 0.02


def without_half_sharp(probability, *, fill_holes=True, hole_floor=0.25, outline=0.08, doubt_width=0.16, lean=0.25):
    """Settle the probability where it is unsure but no outline can be.

    Parameters
    ----------
    probability : (H, W) float32 ndarray
        Subject probability in [0, 1].
    fill_holes : bool
        Whether holes in the subject become subject (see Notes).
    hole_floor : float
        A hole becomes subject only if its probability stays above this
        everywhere: the segmenter never took any of it for background.  It
        must also lean to the subject (above one half on average).
    outline : float
        Bands of doubt up to this share of the long side across are
        outlines and are kept as they are...
    doubt_width : float
        ...bands this wide or wider take the decision ``probability > 0.5``,
        with a linear blend between the two widths...
    lean : float
        ...in full where the probability lies at least this far from one
        half, in proportion nearer: a patch the segmenter holds at about
        one half it has not decided, and its 0.5 contour there is noise.

    Returns
    -------
    (H, W) float32 ndarray
        The settled probability in [0, 1].

    Notes
    -----
    A *hole* is a 4-connected region of unsure pixels (below ``1 - SURE``)
    that touches the sure subject, whose probability stays above
    `hole_floor` everywhere and averages above one half: as it holds no
    sure background, the sure subject (or the frame's edge) encloses it.  A
    gap between an arm and the body shows background the segmenter is sure
    of, or leans to, and is no hole.

    The width of a band of doubt at a pixel is the sum of its Euclidean
    distances to the nearest sure-subject and sure-background pixels: about
    the width of the ramp across an outline, and large in the middle of a
    wide unsure patch or a hole.  The decision there comes to a step
    in the probability, which the matte then places on the photo's own edge
    where there is one.  With no sure subject or no sure background at all,
    every band counts as wide.
    """
    unsure = probability < 1 - SURE
    settled = probability.copy()
    if fill_holes:
        settled[_holes(probability, unsure, hole_floor)] = 1
        unsure = settled < 1 - SURE
    ground = settled <= SURE
    doubt = np.flatnonzero(unsure & ~ground)
    if not len(doubt):
        return settled
    # Chamfer distances (3x3 mask) are exact enough for a width compared
    # with a tenth of the frame, at a fraction of the exact transform's cost.
    side = max(probability.shape)
    to_subject = cv2.distanceTransform(unsure.view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_3)
    to_ground = cv2.distanceTransform((~ground).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_3)
    # Where nothing is sure OpenCV's distance is FLT_MAX: one side is enough.
    width = np.minimum(to_subject.ravel()[doubt], side) + np.minimum(to_ground.ravel()[doubt], side)
    weight = np.clip((width / side - outline) / (doubt_width - outline), 0, 1)
    values = settled.ravel()[doubt]
    weight *= np.clip(np.abs(values - 0.5) / lean, 0, 1)
    settled.ravel()[doubt] = values + weight * ((values > 0.5) - values)
    return settled


def _holes(probability, unsure, floor):
    """Bool mask of the holes: unsure regions that touch the sure subject, lean to it, and never to the ground."""
    count, labels = cv2.connectedComponents(unsure.view(np.uint8), connectivity=4)
    flat = labels.ravel()
    leaning = np.bincount(flat, probability.ravel(), count) > 0.5 * np.bincount(flat, minlength=count)
    never_ground = np.bincount(labels[probability <= floor], minlength=count) == 0
    # Unsure pixels beside a sure-subject one: a region of doubt alone in
    # the frame (nothing sure anywhere) is no hole in anything.
    beside = cv2.dilate((~unsure).view(np.uint8), np.ones((3, 3), np.uint8)).view(bool) & unsure
    touching = np.bincount(labels[beside], minlength=count) > 0
    filled = leaning & never_ground & touching
    filled[0] = False  # the label of the sure subject
    return filled[labels]
