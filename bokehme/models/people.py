"""People found by DeepLabV3, looked at again closer, outlined by the pose and selfie models, fused."""

import numpy as np
from scipy import ndimage

from ..imaging.closer_look import CONTEXT, look_boxes, padded_box, paste_looks, pixel_box
from ..imaging.held import background_leads, held_objects, may_hold
from ..imaging.resample import block_mean, resize_map
from ..imaging.regions import grown, within
from ..imaging.subject import (SAME_PLANE, anchored, check_classes, companions, fills, lies_on, main_person_region,
                               portrait_people, select_subject, with_class, with_own_outline)
from ..imaging.threads import kept_threads
from .base import Segmenter
from .mobilenetv2_deeplab import MOBILENETV2_LONG_SIDE

__all__ = ["PeopleSegmenter"]

#: Longest side of what the models see of the photo, or of a crop of it:
#: twice the network's input, so that its antialiased shrink has the detail
#: to average.  The photo is shrunk by averaging whole blocks of pixels,
#: the whole of it once, a crop from the full-resolution pixels.
VIEW_LONG_SIDE = 2 * MOBILENETV2_LONG_SIDE

#: A found region is looked at closer when DeepLabV3 gives a person at least
#: this probability somewhere in it...
MAYBE_PERSON = 0.1

#: ...and less than this share of it is surely a person: where the whole
#: view is sure, the pose model's mask outlines the person more closely than
#: a closer look would.  Not so for what they ride or push (a soapbox, a
#: horse): when the subject names another class too, it is looked at
#: closer wherever a person may be.
SURE_SHARE = 0.8

#: How far from the main person's own mask it decides their outline, as a
#: fraction of the long side: two cells of DeepLabV3's output grid (one
#: eighth of its 513 px input), as far as its outline can be off.
OUTLINE_MARGIN = 0.03

#: Most people kept beside the main person who are outlined by their own
#: pose mask too, the largest first (each costs one more pose pass).
COMPANIONS = 1

#: With every person kept, most people DeepLabV3 only suspects (see
#: :meth:`PeopleSegmenter._with_suspected_people`) shown to the pose model,
#: the likeliest first (each costs one more pose pass).
SUSPECTED = 3

#: How far around the main person the salient model looks for what they
#: hold, as a share of their height: a stroller or a board reaches about
#: that far beyond the body.
HOLD_REACH = 1.0


def view(image, box=None, long_side=VIEW_LONG_SIDE):
    """The photo, or a box of it (see :func:`bokehme.imaging.closer_look.look_boxes`), shrunk by whole blocks."""
    if box is not None:
        top, bottom, left, right = pixel_box(box, image.shape)
        image = image[top:bottom, left:right]
    # Block means read a crop where it lies in the photo; only a crop small
    # enough to be returned as it is gets copied.
    return np.ascontiguousarray(block_mean(image, -(-max(image.shape[:2]) // long_side)))


class PeopleSegmenter(Segmenter):
    """A DeepLabV3 backend that looks closer where unsure, and gains the pose and selfie models' outlines.

    DeepLabV3 covers whole bodies and every VOC class, but sees the photo at
    513 px: where it finds something small that may be a person and is
    unsure (a rider it takes for a dog, a kitesurfer lost in their gear), it
    segments a crop around it again at its own resolution
    (:mod:`bokehme.imaging.closer_look`).  The main person is outlined by
    the pose model's own mask of them, which sees them on a crop.  People
    framed as a portrait are outlined by the selfie model, which traces
    heads, hair and shoulders more closely but fires on things that are not
    people (walls between full-body walkers), so it is let in only within
    `reach` of them and taken where it is higher (README, "Models", has the
    devset figures).

    Parameters
    ----------
    deeplab : Segmenter
        A backend with a ``"person"`` label.
    selfie : bokehme.models.selfie.SelfieSegmenter
    pose : bokehme.models.pose.PersonPose, optional
        Outlines the main person and tells them from the people touching them.
    reach : float
        How far from portrait-framed people the selfie model counts, as a
        fraction of the long side of the probability map.
    looks : int
        Most closer looks per photo (each costs one more DeepLabV3 pass).
    companions : int
        Most people kept beside the main person who are outlined by their
        own pose mask too.
    salient : bokehme.models.salient.SalientObject, optional
        Finds what the main person holds, pushes or carries (a stroller, a
        board) that no class names.
    """

    def __init__(self, deeplab, selfie, pose=None, reach=0.1, looks=1, companions=COMPANIONS, salient=None):
        self.deeplab, self.selfie, self.pose, self.reach, self.looks = deeplab, selfie, pose, reach, looks
        self.salient = salient
        self.companions = companions
        self.name = f"{deeplab.name}+selfie"
        self.labels = deeplab.labels
        self._person = self.labels.index("person")

    def _looked_closer(self, image, whole, sure_share_below=SURE_SHARE):
        """DeepLabV3's class probabilities of the whole view, finer where it looked closer."""
        probabilities = self.deeplab.class_probabilities(whole)
        person = probabilities[self._person]
        # Where something was found that may be a person and the whole view
        # is unsure it is: a rider it takes for a dog, a surfer lost in their sail.
        regions, count = ndimage.label(probabilities[0] < 0.5)
        sure_share = np.bincount(regions.ravel(), (person > 0.5).ravel(), count + 1) / np.maximum(
            1, np.bincount(regions.ravel(), minlength=count + 1))
        maybe = np.unique(regions[person >= MAYBE_PERSON])
        unsure = np.isin(regions, maybe[(maybe > 0) & (sure_share[maybe] < sure_share_below)])
        looks = [(box, self.deeplab.class_probabilities(view(image, box)))
                 for box in look_boxes(unsure, most=self.looks)]
        return paste_looks(probabilities, looks, image.shape[:2])

    def _with_portraits(self, image, sure_share_below=SURE_SHARE):
        """Class probabilities with the selfie model's outline of portraits, and where the portraits are.

        The probabilities are this call's own: the person class is replaced
        in them where it is (a closer look's finer map is tens of megabytes,
        whose copy would cost more than the replacement).
        """
        whole = view(image)
        probabilities = self._looked_closer(image, whole, sure_share_below)
        person = probabilities[self._person]
        framed = portrait_people(person)
        if not framed.any():
            return probabilities, framed
        selfie = resize_map(self.selfie.class_probabilities(whole)[1], person.shape)
        near = within(framed, self.reach * max(person.shape))
        boosted = np.maximum(person, np.where(near, selfie, 0.0)).astype(np.float32)
        return with_class(probabilities, self._person, boosted, out=probabilities), framed

    def class_probabilities(self, image):
        return self._with_portraits(image)[0]

    def subject_probability(self, image, subject="person", people="near"):
        names = check_classes(subject, self.labels)
        ridden = "person" in names and len(set(names)) > 1
        probabilities, framed = self._with_portraits(image, np.inf if ridden else SURE_SHARE)
        main = None
        if people == "all" and "person" in names and self.pose is not None:
            probabilities = with_class(probabilities, self._person,
                                       self._with_suspected_people(image, probabilities[self._person]),
                                       out=probabilities)
        person = probabilities[self._person]
        region = main_person_region(person) if "person" in names and self.pose is not None else None
        # A portrait holds nothing that matters, and the selfie model outlines it.  With
        # everyone kept the map is of people (a scrub's bystanders): nothing held joins it.
        held = None
        if (self.salient is not None and "person" in names and people != "all" and region is not None
                and not (framed & region).any()):
            held = self._look_for_held(image, region, probabilities)
        try:
            if region is not None:
                main = self._own_mask(image, person, region)
                # A portrait keeps the selfie model's closer outline of head and hair.
                if main is not None and not (framed & (main > 0.5)).any():
                    outlined = with_own_outline(person, main, OUTLINE_MARGIN)
                    for other in [] if ridden else self._companions(person, region, framed, people):
                        own = self._own_mask(image, person, other)
                        # A region of several people touching is left to DeepLabV3.
                        if own is not None and fills(own > 0.5, other):
                            outlined = with_own_outline(outlined, own, OUTLINE_MARGIN)
                    probabilities = with_class(probabilities, self._person, outlined, out=probabilities)
            chosen = select_subject(probabilities, self.labels, names, people, main)
            if held is not None:
                own = main if main is not None and lies_on(main > 0.5, region) else region.astype(np.float32)
                chosen = self._with_held(chosen, own, probabilities, *held)
        except BaseException:
            # The salient pass must not outlive the call: the next one would
            # share its session and cores with it.
            if held is not None and not held[1].cancel():
                held[1].exception()
            raise
        return anchored(chosen)

    def _look_for_held(self, image, region, probabilities):
        """Where the salient model looks for what the main person holds, and what it finds there, to come.

        It sees a crop around DeepLabV3's region of the main person that
        reaches :data:`HOLD_REACH` of its height beyond it on every side,
        when DeepLabV3 sees something there that they may hold
        (:func:`bokehme.imaging.held.may_hold`).  The region is known
        before the pose model outlines the people, so the salient model
        runs on a kept thread meanwhile (onnxruntime lets go of Python's
        lock while it runs).

        Returns
        -------
        None, or
        box : (top, bottom, left, right) int tuple
            The crop, in pixels of `region`'s map.
        salient : concurrent.futures.Future
            Of the salient model's probability on the crop.
        """
        rows, cols = ndimage.find_objects(region.astype(np.uint8))[0]
        box = padded_box(rows, cols, HOLD_REACH * (rows.stop - rows.start), region.shape)
        y0, y1, x0, x1 = pixel_box(box, region.shape)
        crop = probabilities[:, y0:y1, x0:x1]
        # What another class names (a bicycle ridden, a horse) the main-subject rule judges, not the salient model.
        unnamed = np.where(background_leads(crop), 1.0 - crop[0] - crop[self._person], 0.0)
        if not may_hold(unnamed, region[y0:y1, x0:x1]):
            return None
        return (y0, y1, x0, x1), kept_threads().submit(lambda: self.salient(view(image, box)))

    def _with_held(self, chosen, main, probabilities, box, salient):
        """`chosen` with what the main person holds, pushes or carries, see :mod:`bokehme.imaging.held`.

        `box` and `salient` are :meth:`_look_for_held`'s.
        """
        h, w = chosen.shape
        y0, y1, x0, x1 = box
        own = main > 0.5
        rows, _ = ndimage.find_objects(own.astype(np.uint8))[0]
        crop = probabilities[:, y0:y1, x0:x1]
        free = background_leads(crop) & (chosen[y0:y1, x0:x1] <= 0.5)
        # Other people as tall as those kept beside the main person.
        outline = grown(own, round(OUTLINE_MARGIN * max(h, w)))
        others, _ = ndimage.label((probabilities[self._person] > 0.5) & ~outline)
        tall = [label for label, (span, _) in enumerate(ndimage.find_objects(others), start=1)
                if span.stop - span.start >= SAME_PLANE * (rows.stop - rows.start)]
        found = resize_map(salient.result(), (y1 - y0, x1 - x0))
        held = np.zeros_like(chosen)
        held[y0:y1, x0:x1] = held_objects(found, own[y0:y1, x0:x1], crop[0], free,
                                          np.isin(others[y0:y1, x0:x1], tall))
        return np.maximum(chosen, held)

    def _companions(self, person, main_region, framed, people):
        """The regions of the people kept with the main person who are worth their own outline."""
        return [region for region in companions(person, main_region, people, self.companions)
                if not (framed & region).any()]

    def _with_suspected_people(self, image, person):
        """`person` with the people DeepLabV3 only suspects outlined by their own pose masks.

        A walker far down the street fills a few cells of DeepLabV3's grid,
        which gives them a probability somewhere between :data:`MAYBE_PERSON`
        and 0.5 and never a region of their own.  Where such a patch lies
        apart from every person found, the pose model is shown a crop
        around it; what it outlines there joins the person probability.
        """
        margin = round(OUTLINE_MARGIN * max(person.shape))
        regions, count = ndimage.label((person >= MAYBE_PERSON) & ~grown(person > 0.5, margin))
        if not count:
            return person
        peaks = ndimage.maximum(person, regions, np.arange(1, count + 1))
        for label in np.argsort(peaks)[::-1][:SUSPECTED] + 1:
            near = grown(regions == label, margin)
            own = self._own_mask(image, person, near)
            # Whoever the pose model outlines must stand where the suspicion lies.
            if own is not None and lies_on(own > 0.5, near):
                person = np.maximum(person, own)
        return person

    def _own_mask(self, image, person, region):
        """The own mask, at `person`'s resolution, of the person found in `region`, or None.

        The pose model segments the most prominent person of what it is
        shown, a crop around the region.  When that is someone else (a
        runner at the crop's edge), it is shown the crop again with
        everything farther than :data:`OUTLINE_MARGIN` from the region
        greyed out; not at first, as it then outlines less of what a person
        carries.
        """
        h, w = person.shape
        rows, cols = ndimage.find_objects(region.astype(np.uint8))[0]
        box = padded_box(rows, cols, CONTEXT * max(rows.stop - rows.start, cols.stop - cols.start), (h, w))
        y0, y1, x0, x1 = pixel_box(box, (h, w))
        crop = view(image, box)
        mask = self.pose(crop, (y1 - y0, x1 - x0))
        if mask is None or not lies_on(mask > 0.5, region[y0:y1, x0:x1]):
            near = grown(region, round(OUTLINE_MARGIN * max(h, w)))[y0:y1, x0:x1]
            near = resize_map(near.astype(np.float32), crop.shape[:2])[..., None] >= 0.5
            mask = self.pose(np.where(near, crop, np.float32(0.5)), (y1 - y0, x1 - x0))
        if mask is None:
            return None
        own = np.zeros_like(person)
        own[y0:y1, x0:x1] = mask
        return own
