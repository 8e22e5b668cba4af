"""Choosing the subject from a segmenter's class probabilities.

A segmenter gives every pixel a probability per class; the user names the
classes that stay sharp (``person``, ``cat,dog``) or asks for the most
salient object.  Everything here works on probability maps at the model's
resolution, whatever model made them.
"""

from functools import lru_cache

import numpy as np

from .classes import AUTO, check_classes
from .regions import grown, in_regions, label_regions, label_regions_with_rows, region_rows, within

__all__ = [
    "select_subject",
    "anchored",
    "salient_object",
    "main_subject",
    "people_in_focus",
    "main_person_region",
    "companions",
    "lies_on",
    "fills",
    "portrait_people",
    "with_own_outline",
    "with_class",
]

#: People at least this share of the main person's height stay sharp with
#: them: apparent size falls as one over distance, so a person half as tall
#: stands about twice as far, behind the plane a fast lens keeps sharp.
SAME_PLANE = 0.5

#: The smallest height, relative to the main person's, of the people each
#: choice of :func:`select_subject` keeps.
PEOPLE = {"near": SAME_PLANE, "main": np.inf, "all": 0.0}


def select_subject(probabilities, labels, subject, people="near", main=None):
    """Combine class probabilities into one subject probability.

    Parameters
    ----------
    probabilities : (C, h, w) float32 ndarray
        Class probabilities summing to 1 over C.
    labels : tuple of str
        Names of the C classes, background first.
    subject : str or sequence of str
        Class names (all of their pixels are subject), or ``"auto"``: the
        most salient object, see :func:`salient_object`.  ``"person"`` is
        the people `people` says, see :func:`people_in_focus`.
    people : {"near", "main", "all"}
        Which people: the main person and those as near to the camera, the
        main person alone, or every person.
    main : (h, w) float32 ndarray, optional
        The main person's own mask, where a model told them from the people
        touching them.

    Returns
    -------
    probability : (h, w) float32 ndarray
    """
    names = check_classes(subject, labels)
    if names == (AUTO,):
        return salient_object(probabilities)
    chosen = probabilities[[labels.index(name) for name in names if name != "person"]].sum(axis=0)
    if "person" in names:
        chosen = chosen + people_in_focus(probabilities, labels, main=main, same_plane=PEOPLE[people])
    return np.clip(chosen, 0.0, 1.0).astype(np.float32)


def anchored(probability, confident=0.8, rim=0.03):
    """Drop the regions of a subject probability that nothing confident anchors.

    A model's doubtful half-probabilities far from anything it is sure of (a
    flag's stripes, a patterned wall) would become a ghost of sharpness in the
    background.  Hysteresis keeps the regions above 0.5 that hold a pixel above
    `confident`, plus their soft rim within `rim` of the long side.

    Parameters
    ----------
    probability : (h, w) float32 ndarray
    confident : float
        Probability a region must reach somewhere to be kept.
    rim : float
        Width of the soft edge kept around kept regions, as a fraction of the
        long side.

    Returns
    -------
    probability : (h, w) float32 ndarray
    """
    regions, count = label_regions(probability > 0.5)
    if count == 0:
        return np.zeros_like(probability)
    # The regions holding a confident pixel (a sort-free ndimage.maximum).
    kept = in_regions(regions, count, regions[probability >= max(confident, 0.5)])
    near = within(kept, rim * max(probability.shape))
    return np.where(near, probability, 0.0).astype(np.float32)


def salient_object(probabilities, centre_sigma=0.35):
    """Probability of the most salient non-background object.

    Objects are the connected regions where some non-background class wins.
    Each is scored by its probability mass weighted toward the image centre,
    because photographers put subjects near the middle and large.  Classes
    are pooled inside the winning region, so a rider and the motorbike under
    them count as one subject.

    Parameters
    ----------
    probabilities : (C, h, w) float32 ndarray
        Class probabilities, background in channel 0.
    centre_sigma : float
        Width of the centre weighting, as a fraction of the image diagonal.

    Returns
    -------
    probability : (h, w) float32 ndarray
        Zero everywhere when nothing but background is found.
    """
    foreground = (1.0 - probabilities[0]).astype(np.float32)
    regions, count = label_regions(foreground > 0.5)
    if count == 0:
        return np.zeros_like(foreground)
    chosen = regions == _main_region(foreground, regions, count, centre_sigma)
    return _with_rim(foreground, chosen, (regions > 0) & ~chosen)


@lru_cache(maxsize=8)
def _centre_weight(shape, sigma):
    """A Gaussian of the distance to the image centre, `sigma` a fraction of the diagonal; read-only.

    Kept for the next call: a video's frames all ask for the same one.
    """
    h, w = shape
    scale = 2 * sigma**2 * float(h * h + w * w)
    # The Gaussian of a sum of squares is the outer product of two.
    rows = np.exp(-((np.arange(h, dtype=np.float32) - (h - 1) / 2) ** 2) / scale)
    cols = np.exp(-((np.arange(w, dtype=np.float32) - (w - 1) / 2) ** 2) / scale)
    weight = np.outer(rows, cols).astype(np.float32)
    weight.flags.writeable = False
    return weight


def _with_rim(probability, chosen, others):
    """`probability` on the chosen regions and their soft rim, zero elsewhere.

    The rim's low-probability edge pixels lie outside the 0.5 threshold but
    belong to the chosen object; pixels of the other regions never do.
    """
    near = grown(chosen, round(0.02 * max(probability.shape)))
    return np.where(near & ~others, probability, 0.0).astype(np.float32)


def main_subject(person_probability, centre_sigma=0.35):
    """Split people into the one main subject and the bystanders.

    Parameters
    ----------
    person_probability : (h, w) float32 ndarray
        Probability of a person at each pixel, in [0, 1], at any resolution.
    centre_sigma : float
        Width of the centre weighting, as a fraction of the image diagonal;
        see :func:`salient_object`.

    Returns
    -------
    main : (h, w) float32 ndarray
        The probability of the person with the largest centre-weighted mass,
        with its soft rim; zero where nobody is found.
    bystanders : (h, w) float32 ndarray
        The probability of every other person.
    """
    person = np.clip(np.asarray(person_probability, dtype=np.float32), 0.0, 1.0)
    main = salient_object(np.stack([1.0 - person, person]), centre_sigma)
    return main, np.clip(person - main, 0.0, 1.0)


def main_person_region(person_probability, centre_sigma=0.35):
    """The region of the main person, with whoever touches them.

    Parameters
    ----------
    person_probability : (h, w) float32 ndarray
    centre_sigma : float
        See :func:`salient_object`.

    Returns
    -------
    (h, w) bool ndarray or None
        The connected region above 0.5 with the largest centre-weighted
        probability mass; None when nobody is found.
    """
    regions, count = label_regions(person_probability > 0.5)
    if count == 0:
        return None
    return regions == _main_region(person_probability, regions, count, centre_sigma)


def companions(person_probability, main_region, people="near", most=2):
    """The regions of the other people kept with the main person, largest first.

    Parameters
    ----------
    person_probability : (h, w) float32 ndarray
    main_region : (h, w) bool ndarray
        The main person's region (see :func:`main_person_region`).
    people : {"near", "main", "all"}
        Which people are kept, see :func:`select_subject`.
    most : int
        Largest number of regions returned.

    Returns
    -------
    list of (h, w) bool ndarray
        The connected regions above 0.5, other than the main person's, at
        least ``PEOPLE[people]`` of its height, the largest in area first.
    """
    same_plane = PEOPLE[people]
    regions, count, tops, bottoms = label_regions_with_rows(person_probability > 0.5)
    main_label = regions[main_region].max()
    heights = bottoms - tops
    areas = np.bincount(regions.ravel(), minlength=count + 1)[1:]
    kept = [label for label in np.argsort(-areas, kind="stable") + 1
            if label != main_label and heights[label - 1] >= same_plane * heights[main_label - 1]]
    return [regions == label for label in kept[:most]]


def _main_region(person, regions, count, centre_sigma):
    """Label of the region with the largest centre-weighted probability mass."""
    if count == 1:
        return 1
    # ndimage.sum's own sums: numpy's bincount in float64, pixel by pixel in
    # order; of the regions' pixels alone, which add to nothing else.
    weighted = person * _centre_weight(person.shape, centre_sigma)
    inside = regions > 0
    scores = np.bincount(regions[inside], weights=weighted[inside], minlength=count + 1)[1:]
    return 1 + int(np.argmax(scores))


def portrait_people(person, min_height=0.4):
    """The people framed as a portrait: cut by the bottom of the frame and tall in it.

    A head-and-shoulders shot cuts the body at the bottom edge; a full-body
    person, however large, stands inside the frame.  Models trained on
    selfies trace such people closely and mistake everything else
    (full-body groups, walls between walkers) for people.

    Parameters
    ----------
    person : (h, w) float32 ndarray
        Probability of a person at each pixel.
    min_height : float
        Smallest height of a portrait, as a fraction of the frame's.

    Returns
    -------
    (h, w) bool ndarray
        The regions above 0.5 that reach the bottom of the frame (to within
        2% of its height: the model's soft edge) and are at least
        `min_height` of the frame tall.
    """
    regions, count, tops, bottoms = label_regions_with_rows(person > 0.5)
    h = person.shape[0]
    framed = 1 + np.flatnonzero((bottoms >= 0.98 * h) & (bottoms - tops >= min_height * h))
    return in_regions(regions, count, framed)


def lies_on(own, region):
    """Whether a person's own mask (bool) lies mostly on `region` (bool): it is of the person found there."""
    return own.any() and (own & region).sum() >= 0.5 * own.sum()


def fills(own, region, share=0.6):
    """Whether a person's own mask (bool) covers `share` of `region` (bool): nobody else is in it."""
    return (own & region).sum() >= share * region.sum()


def with_own_outline(person, main, margin):
    """A person probability whose main person is outlined by their own mask.

    A class model's outline is as coarse as its output grid, and it fills
    the gaps between legs and between people touching.  A model that
    segments one person on a crop around them (MediaPipe Pose) traces that
    person closely: near their own mask, it replaces the class model's
    probability; elsewhere (other people, things far from them) the class
    model's stays.

    Parameters
    ----------
    person : (h, w) float32 ndarray
        Probability of a person from a class model.
    main : (h, w) float32 ndarray
        The main person's own mask, at the same resolution.
    margin : float
        How far from the own mask it decides, as a fraction of the long
        side: as far as the class model's outline can be off.

    Returns
    -------
    (h, w) float32 ndarray
        `person` unchanged when the own mask lies mostly off the class
        model's people (it is someone, or something, else).
    """
    own = main > 0.5
    if not lies_on(own, person > 0.5):
        return person
    near = grown(own, round(margin * max(person.shape)))
    return np.where(near, main, person).astype(np.float32)


def _split_main(regions, count, main_label, main):
    """Regions with the people touching the main person told apart from them.

    Semantic segmentation sees a performer and the audience touching them as
    one region; `main` (that person's own mask) splits it.  What of the
    region lies away from the mask becomes regions of its own, but slivers
    along the mask (a fatter outline of the same person) stay with it.

    Returns
    -------
    regions : (h, w) int ndarray
    count : int
    """
    own = main > 0.5
    region = regions == main_label
    if not lies_on(own, region):
        return regions, count  # the mask is of someone else
    core = region & grown(own, round(0.01 * max(own.shape)))
    rest, parts = label_regions(region & ~core)
    if parts == 0:
        return regions, count
    sizes = np.bincount(rest.ravel(), minlength=parts + 1)[1:]
    regions = regions.copy()
    for part, size in enumerate(sizes, start=1):
        if size >= 0.1 * core.sum():
            count += 1
            regions[rest == part] = count
    return regions, count


def people_in_focus(probabilities, labels, main=None, centre_sigma=0.35, same_plane=SAME_PLANE):
    """The people a photo is about, and what they ride or hold.

    The main person is the one with the largest centre-weighted probability
    mass (as in :func:`salient_object`).  Other people stay with them when
    they are at least `same_plane` of the main person's height, so standing
    about as far from the camera: a couple, a posing group, pedestrians side
    by side.  Smaller people, audiences and passers-by behind, are left to
    the background, as a fast lens focused on the main person blurs them.
    An object of any other class that touches the people kept and reaches
    as low in the frame as they do (a horse, a bicycle, a board under their
    feet) is ridden or held and joins them; one that ends higher up stands
    behind them on the ground and does not.

    Parameters
    ----------
    probabilities : (C, h, w) float32 ndarray
        Class probabilities summing to 1 over C, background in channel 0.
    labels : tuple of str
        Names of the C classes; one of them is ``"person"``.
    main : (h, w) float32 ndarray, optional
        The main person's own mask (see :class:`bokehme.models.pose.PersonPose`):
        people touching them are then judged on their own.
    centre_sigma : float
        Width of the centre weighting, as a fraction of the image diagonal.
    same_plane : float
        Smallest height, relative to the main person's, of a person kept:
        0 keeps everyone, infinity the main person alone.

    Returns
    -------
    probability : (h, w) float32 ndarray
        Zero everywhere when nobody is found.
    """
    person = probabilities[labels.index("person")]
    regions, count, tops, bottoms = label_regions_with_rows(person > 0.5)
    if count == 0:
        return np.zeros_like(person)
    first = _main_region(person, regions, count, centre_sigma)
    if main is not None:
        split, count = _split_main(regions, count, first, main)
        if split is not regions:
            regions = split
            tops, bottoms = region_rows(regions)
    heights = bottoms - tops
    kept = heights >= same_plane * heights[first - 1]
    kept[first - 1] = True
    chosen = in_regions(regions, count, 1 + np.flatnonzero(kept))
    things = 1.0 - probabilities[0] - person
    objects, found, _, object_bottoms = label_regions_with_rows(things > 0.5)
    ridden = np.zeros_like(chosen)
    # A people-only model finds no objects: nothing to ride.
    for label in np.unique(objects[grown(chosen, 2)]) if found else ():
        if label == 0:
            continue
        region = objects == label
        riders = np.unique(regions[grown(region, 2) & chosen])
        riders = riders[riders > 0]
        if len(riders) and object_bottoms[label - 1] >= bottoms[riders - 1].max():
            ridden |= region
    others = ((regions > 0) | (objects > 0)) & ~chosen & ~ridden
    # What is ridden counts with all its classes, its soft rim too.
    near_ridden = grown(ridden, round(0.02 * max(person.shape))) if ridden.any() else ridden
    probability = np.where(chosen | ridden, np.maximum(person, ridden * (1.0 - probabilities[0])),
                           person + near_ridden * things)
    return _with_rim(probability, chosen | ridden, others)


def with_class(probabilities, index, probability, out=None):
    """Class probabilities with one class's replaced, still summing to 1.

    Parameters
    ----------
    probabilities : (C, h, w) float32 ndarray
        Per-class probabilities summing to 1 at each pixel; class 0 is the
        background.
    index : int
        The class replaced, not 0.
    probability : (h, w) float32 ndarray
        Its new probability, in [0, 1].
    out : (C, h, w) float32 ndarray, optional
        Where the result is written; `probabilities` itself may be given.
        A closer look's finer map is tens of megabytes: a fresh copy of it
        costs more than the replacement itself.

    Returns
    -------
    (C, h, w) float32 ndarray
        Where the class gains, the other classes give up the difference in
        proportion to what they held; where it loses, the background takes
        the difference and the other classes keep theirs: the remains of a
        sure pixel's other classes are rounding, not a sign of what is
        there, and scaled up they would make an object of nothing.
    """
    old = probabilities[index]
    gains = probability > old
    # Summed, not taken as 1 - old: next to old = 1 the difference is all rounding.
    # Added plane by plane, as a sum over the first axis adds them, without a copy of the others.
    others = probabilities[0].copy()
    for plane in range(1, len(probabilities)):
        if plane != index:
            others += probabilities[plane]
    # Where the class holds its own (or loses), the others are multiplied by exactly 1.
    scale = np.where(gains, (1.0 - probability) / np.where(others > 0, others, 1.0), 1.0).astype(np.float32)
    lost = np.where(gains, 0.0, old - probability).astype(np.float32)
    if out is None:
        out = np.multiply(probabilities, scale, dtype=np.float32)
    else:
        np.multiply(probabilities, scale, out=out)
    out[0] += lost
    out[index] = probability
    return out
