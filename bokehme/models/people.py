"""People found by DeepLabV3 and outlined by the selfie model, fused."""

import numpy as np
from scipy import ndimage

from ..imaging.resample import resize_map
from .base import Segmenter

__all__ = ["PeopleSegmenter"]


class PeopleSegmenter(Segmenter):
    """A DeepLabV3 backend whose people gain the selfie model's portrait edges.

    DeepLabV3 covers whole bodies and every VOC class; the selfie model traces
    heads, hair and shoulders more closely but also fires on things that are
    not people.  So the selfie probability is let in only within `reach` of
    where DeepLabV3 sees a person, and taken where it is higher (README,
    "Models", has the devset figures).

    Parameters
    ----------
    deeplab : Segmenter
        A backend with a ``"person"`` label.
    selfie : bokehme.models.selfie.SelfieSegmenter
    reach : float
        How far from DeepLabV3's people the selfie model counts, as a fraction
        of the long side of the probability map.
    """

    def __init__(self, deeplab, selfie, reach=0.1):
        self.deeplab, self.selfie, self.reach = deeplab, selfie, reach
        self.name = f"{deeplab.name}+selfie"
        self.labels = deeplab.labels
        self._person = self.labels.index("person")

    def class_probabilities(self, image):
        probabilities = self.deeplab.class_probabilities(image)
        person = probabilities[self._person]
        selfie = self.selfie.class_probabilities(image)[1]
        selfie = resize_map(selfie, person.shape)
        reach = self.reach * max(person.shape)
        near = ndimage.distance_transform_edt(person <= 0.5) <= reach
        boosted = np.maximum(person, np.where(near, selfie, 0.0)).astype(np.float32)
        # The other classes give up the mass the person class gained, in proportion.
        others = np.maximum(1.0 - person, 1e-6)
        probabilities *= (1.0 - boosted) / others
        probabilities[self._person] = boosted
        return probabilities
