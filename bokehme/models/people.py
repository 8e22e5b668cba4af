"""People found by DeepLabV3, looked at again closer, and outlined by the selfie model, fused."""

import numpy as np
from scipy import ndimage

from ..imaging.closer_look import CONTEXT, look_boxes, paste_looks, pixel_box
from ..imaging.resample import block_mean, resize_map
from ..imaging.subject import anchored, check_classes, main_person_box, select_subject
from .base import Segmenter

__all__ = ["PeopleSegmenter"]

#: Longest side the photo is shrunk to once (by averaging whole blocks of
#: pixels), before every model and closer look takes its own view of it:
#: four times the network's 513 px, so that a closer look at a quarter of
#: the frame still sees as much detail as the network takes in.
WORKING_LONG_SIDE = 2052

#: A found region is looked at closer when DeepLabV3 gives a person at least
#: this probability somewhere in it.
MAYBE_PERSON = 0.1


class PeopleSegmenter(Segmenter):
    """A DeepLabV3 backend that looks closer at small subjects and gains the selfie model's portrait edges.

    DeepLabV3 covers whole bodies and every VOC class, but sees the photo at
    513 px: where what it finds is small (a runner, a rider, pedestrians),
    it segments a crop around it again at its own resolution
    (:mod:`bokehme.imaging.closer_look`).  The selfie model traces heads,
    hair and shoulders more closely but also fires on things that are not
    people, so its probability is let in only within `reach` of where
    DeepLabV3 sees a person, and taken where it is higher (README, "Models",
    has the devset figures).

    Parameters
    ----------
    deeplab : Segmenter
        A backend with a ``"person"`` label.
    selfie : bokehme.models.selfie.SelfieSegmenter
    pose : bokehme.models.pose.PersonPose, optional
        Tells the main person from the people touching them.
    reach : float
        How far from DeepLabV3's people the selfie model counts, as a fraction
        of the long side of the probability map.
    looks : int
        Most closer looks per photo (each costs one more DeepLabV3 pass).
    """

    def __init__(self, deeplab, selfie, pose=None, reach=0.1, looks=2):
        self.deeplab, self.selfie, self.pose, self.reach, self.looks = deeplab, selfie, pose, reach, looks
        self.name = f"{deeplab.name}+selfie"
        self.labels = deeplab.labels
        self._person = self.labels.index("person")

    @staticmethod
    def _working_copy(image):
        """The photo shrunk once for all the models' views (a 12 MP photo is read once, not three times)."""
        return block_mean(image, -(-max(image.shape[:2]) // WORKING_LONG_SIDE))

    def _looked_closer(self, image):
        """DeepLabV3's class probabilities, finer where it looked closer."""
        probabilities = self.deeplab.class_probabilities(image)
        looks = []
        # Where something was found that may be a person: a rider the whole
        # view takes for a dog, a surfer lost in their sail.
        regions, _ = ndimage.label(probabilities[0] < 0.5)
        maybe_people = np.isin(regions, np.unique(regions[probabilities[self._person] >= MAYBE_PERSON]))
        maybe_people &= regions > 0
        for box in look_boxes(maybe_people, most=self.looks):
            top, bottom, left, right = pixel_box(box, image.shape)
            looks.append((box, self.deeplab.class_probabilities(image[top:bottom, left:right])))
        return paste_looks(probabilities, looks, image.shape[:2])

    def class_probabilities(self, image):
        image = self._working_copy(image)
        probabilities = self._looked_closer(image)
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

    def subject_probability(self, image, subject="person", people="near"):
        names = check_classes(subject, self.labels)
        image = self._working_copy(image)
        probabilities = self.class_probabilities(image)
        main = None
        if "person" in names and self.pose is not None:
            main = self._main_person(image, probabilities[self._person])
        return anchored(select_subject(probabilities, self.labels, names, people, main))

    def _main_person(self, image, person):
        """The main person's own mask at `person`'s resolution, or None."""
        box = main_person_box(person)
        if box is None:
            return None
        top, bottom, left, right = box
        pad = CONTEXT * max(bottom - top, right - left)
        box = (max(0.0, top - pad), min(1.0, bottom + pad), max(0.0, left - pad), min(1.0, right + pad))
        top, bottom, left, right = pixel_box(box, image.shape)
        h, w = person.shape
        y0, y1, x0, x1 = pixel_box(box, (h, w))
        mask = self.pose(image[top:bottom, left:right], (y1 - y0, x1 - x0))
        if mask is None:
            return None
        main = np.zeros_like(person)
        main[y0:y1, x0:x1] = mask
        return main
