"""Choosing the subject from a segmenter's class probabilities.

A segmenter gives every pixel a probability per class; the user names the
classes that stay sharp (``person``, ``cat,dog``) or asks for the most
salient object.  Everything here works on probability maps at the model's
resolution, whatever model made them.
"""

import numpy as np
from scipy import ndimage

from .classes import AUTO, check_classes

__all__ = [
    "select_subject",
    "anchored",
    "salient_object",
    "main_subject",
]


def select_subject(probabilities, labels, subject):
    """Combine class probabilities into one subject probability.

    Parameters
    ----------
    probabilities : (C, h, w) float32 ndarray
        Class probabilities summing to 1 over C.
    labels : tuple of str
        Names of the C classes, background first.
    subject : str or sequence of str
        Class names (all of their pixels are subject), or ``"auto"``: the
        most salient object, see :func:`salient_object`.

    Returns
    -------
    probability : (h, w) float32 ndarray
    """
    names = check_classes(subject, labels)
    if names == (AUTO,):
        return salient_object(probabilities)
    index = [labels.index(name) for name in names]
    return np.clip(probabilities[index].sum(axis=0), 0.0, 1.0).astype(np.float32)


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
    regions, count = ndimage.label(probability > 0.5)
    if count == 0:
        return np.zeros_like(probability)
    peaks = ndimage.maximum(probability, regions, index=np.arange(1, count + 1))
    kept = np.isin(regions, 1 + np.flatnonzero(np.asarray(peaks) >= confident))
    near = ndimage.distance_transform_edt(~kept) <= rim * max(probability.shape)
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
    regions, count = ndimage.label(foreground > 0.5)
    if count == 0:
        return np.zeros_like(foreground)
    h, w = foreground.shape
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    distance2 = ((rows - (h - 1) / 2) ** 2 + (cols - (w - 1) / 2) ** 2) / float(h * h + w * w)
    centre_weight = np.exp(-distance2 / (2 * centre_sigma**2))
    scores = ndimage.sum(foreground * centre_weight, regions, index=np.arange(1, count + 1))
    chosen = regions == 1 + int(np.argmax(scores))
    # Keep the soft rim around the chosen region: its low-probability edge
    # pixels lie outside the 0.5 threshold but belong to the same object.
    margin = max(1, round(0.02 * max(h, w)))
    near = ndimage.binary_dilation(chosen, iterations=margin)
    others = (regions > 0) & ~chosen
    return np.where(near & ~others, foreground, 0.0).astype(np.float32)


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
