"""What a person holds, pushes or carries, found by a salient-object model beside a class model.

A class model (DeepLabV3 on VOC's twenty classes) has no name for a
stroller, a kiteboard or a sail, so the person pushing or carrying one is
found and their gear blurred.  A salient-object model finds the thing a
photo is about whatever it is, but also scenery that stands out (a tree
trunk behind a hand, a lamp post, the gap between two walkers).  The
regions it adds to a person must look like something that person holds:
attached to them, an object rather than scenery, and their own.
"""

import numpy as np
from scipy import ndimage

from .regions import grown

__all__ = ["held_objects", "may_hold", "background_leads", "SURE_BACKGROUND", "LEAST_HELD"]

#: Where the class model gives background at least this probability, on
#: average over a region, it knows what it sees: ground, grass, trees,
#: walls, the scenery its background class was trained on.  What people
#: hold is an object it has no class for and is less sure of.
SURE_BACKGROUND = 0.95

#: Smallest thing held, as a share of the person's own area: a salient
#: model's smaller slivers along a person are their outline, which the
#: person models draw.
LEAST_HELD = 0.05


def held_objects(salient, own, background, free, others):
    """The salient regions that a person holds, pushes or carries.

    All arrays are of one crop around the person, at one resolution.

    Parameters
    ----------
    salient : (h, w) float32 ndarray
        A salient-object model's probability, in [0, 1].
    own : (h, w) bool ndarray
        The person's own mask.
    background : (h, w) float32 ndarray
        A class model's background probability.
    free : (h, w) bool ndarray
        Where no class is the subject or names anything else: what a
        region may add.
    others : (h, w) bool ndarray
        Other people, tall enough to stand beside the person.

    Returns
    -------
    (h, w) float32 ndarray
        `salient` on the regions held, zero elsewhere.  A region is held
        when it touches the person, the class model's background is less
        than :data:`SURE_BACKGROUND` on it on average, it is at least
        :data:`LEAST_HELD` of the person's area, it stops short of every
        side of the crop the person does not reach (what goes on beyond is
        scenery: a pole, a wall, a tree line), and it touches no other
        person (a gap between two walkers is no object).
    """
    regions, count = ndimage.label((salient > 0.5) & free)
    touching = np.unique(regions[grown(own, 2) & (regions > 0)])
    if count == 0 or len(touching) == 0:
        return np.zeros_like(salient)
    sides = np.zeros(own.shape, bool)
    sides[0], sides[-1] = not own[0].any(), not own[-1].any()
    sides[:, 0] |= not own[:, 0].any()
    sides[:, -1] |= not own[:, -1].any()
    beyond = np.unique(regions[(sides | grown(others, 2)) & (regions > 0)])
    sure = ndimage.mean(background, regions, touching)
    area = ndimage.sum_labels(np.ones_like(salient), regions, touching)
    held = touching[(sure < SURE_BACKGROUND) & (area >= LEAST_HELD * own.sum()) & ~np.isin(touching, beyond)]
    return np.where(np.isin(regions, held), salient, 0.0).astype(np.float32)


def may_hold(objects, person):
    """Whether the class model sees anything beside a person that they could hold.

    A salient-object model is many times the cost of the rest of finding a
    person; it is worth running only where the class model sees, touching
    the person, something it does not take for sure background: what a
    person holds is an object, and a class model trained on twenty classes
    gives an object it has no class for some share of the classes it
    resembles (a stroller a chair's or a bicycle's).  The thresholds are
    those of :func:`held_objects` (where no other class reaches
    ``1 - SURE_BACKGROUND``, the background is surer than anything held
    was; a region smaller than :data:`LEAST_HELD` of the person is no
    object held), but this is a screen, not the rule itself: it reads
    DeepLabV3's map pixel by pixel, before the pose model outlines the
    person, and counts no person probability as an object's, where
    :func:`held_objects` judges the salient model's regions by their mean.
    An object DeepLabV3 half takes for the person, or one held along a
    rim it barely doubts, can pass the rule and not the screen (README,
    "What people hold", has what it skips and costs on the devset).

    Parameters
    ----------
    objects : (h, w) float32 ndarray
        The class model's probability of every class but background and
        person, summed, on a crop around the person; zero where another
        class than background leads (what it names, a bicycle ridden, is
        the main-subject rule's to judge, see :func:`background_leads`).
    person : (h, w) bool ndarray
        The person's region on the crop.

    Returns
    -------
    bool
        True when a connected region where `objects` reaches
        ``1 - SURE_BACKGROUND``, off the person and touching them, covers
        :data:`LEAST_HELD` of the person's area or more.
    """
    regions, count = ndimage.label((objects >= 1.0 - SURE_BACKGROUND) & ~person)
    touching = np.unique(regions[grown(person, 2) & (regions > 0)])
    if count == 0 or len(touching) == 0:
        return False
    return ndimage.sum_labels(np.ones(regions.shape), regions, touching).max() >= LEAST_HELD * person.sum()


def background_leads(probabilities):
    """Where the background is the likeliest of (C, h, w) class probabilities, background first.

    Surely where it holds half; elsewhere (a few pixels along the things
    found) where no other class holds more.  A first axis's maximum on those
    pixels alone is many times quicker than an argmax over a finer map.
    """
    leads = probabilities[0] >= 0.5
    unsure = np.nonzero(~leads)
    leads[unsure] = probabilities[0][unsure] >= probabilities[1:, unsure[0], unsure[1]].max(axis=0, initial=0.0)
    return leads
