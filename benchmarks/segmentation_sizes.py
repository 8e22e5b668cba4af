"""Subject IoU and speed of DeepLabV3-MobileNetV2 against the network's input size.

Runs the model on every photo of the devset (``images/NAME.jpg`` with
human-drawn ``masks/NAME.png``, 255 = subject) at several long sides and
prints, per size, the mean IoU of the thresholded subject probability for
people (portraits and the DAVIS frames with riders) and for other subjects,
and the time per photo (``class_probabilities``: shrink, network, softmax;
best of ``--repeats`` runs, as other work on a shared machine only slows it).

Three ways of reading the subject probability are compared:

- ``class``: the sum of the probabilities of the subject's VOC classes;
- ``non-bg``: 1 - p(background), i.e. everything the network recognises;
- ``class+flip``: ``class`` averaged with the mirrored photo's prediction
  (test-time augmentation; it costs a second run).

Usage::

    python benchmarks/segmentation_sizes.py [--weights FILE] [--devset DIR]
"""

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from bokehme.mobilenetv2 import VOC_CLASSES, class_probabilities, load_model

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
LONG_SIDES = (257, 321, 385, 449, 513, 641, 769)
THRESHOLD = 0.5

# The soapbox cart has no VOC class of its own (the network gives it a
# little "boat"); only its riders count as the subject's class, while the
# ``non-bg`` reading covers the cart too.
SUBJECT_CLASSES = {
    "person": ("person",),
    "car": ("car",),
    "cow": ("cow",),
    "person+motorbike": ("person", "motorbike"),
    "person+soapbox": ("person",),
}


def read_devset(devset):
    with open(devset / "MANIFEST.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for row in rows:
        image = np.asarray(Image.open(devset / "images" / f"{row['name']}.jpg")
                           .convert("RGB"))
        mask = np.asarray(Image.open(devset / "masks" / f"{row['name']}.png")) > 127
        yield row["name"], row["subject"], image, mask


def upsample(probability, shape):
    """Bilinear (pixel-centre aligned) resize of an (h, w) map to `shape`."""
    tensor = torch.from_numpy(np.ascontiguousarray(probability))[None, None]
    return F.interpolate(tensor, size=shape, mode="bilinear",
                         align_corners=False)[0, 0].numpy()


def iou(probability, mask):
    predicted = upsample(probability, mask.shape) >= THRESHOLD
    return (predicted & mask).sum() / max((predicted | mask).sum(), 1)


def flip_averaged(model, image, long_side):
    """Class probabilities averaged with those of the mirrored photo."""
    mirrored = class_probabilities(model, np.ascontiguousarray(image[:, ::-1]),
                                   long_side)
    return (class_probabilities(model, image, long_side) + mirrored[:, :, ::-1]) / 2


def best_ms(repeats, function, *args):
    """Fastest of `repeats` calls in ms: the least disturbed by other work on
    a shared machine."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function(*args)
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path,
                        default=SHARED / "models" / "deeplabv3_257_mv_gpu.tflite",
                        help=".tflite file or converted .pt state_dict")
    parser.add_argument("--devset", type=Path, default=SHARED / "devset")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10,
                        help="timed runs per photo shape and size; the fastest is kept")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    model = load_model(args.weights)
    photos = list(read_devset(args.devset))
    # Time depends only on the photo's shape: one photo of each shape.
    timing_photos = {image.shape: image for _, _, image, _ in photos}.values()
    class_index = {name: i for i, name in enumerate(VOC_CLASSES)}
    readings = ("class", "non-bg", "class+flip")

    print(f"{len(photos)} photos, IoU at p >= {THRESHOLD}; ms: torch threads "
          f"{args.threads}, best of {args.repeats}, mean over "
          f"{len(timing_photos)} photo shapes")
    print(f"{'long side':>9} {'reading':>10} {'people':>7} {'other':>7} "
          f"{'all':>6} {'ms':>7}")
    per_photo = {}
    for long_side in LONG_SIDES:
        scores = {reading: {"people": [], "other": []} for reading in readings}
        for name, subject, image, mask in photos:
            group = "people" if "person" in subject else "other"
            indices = [class_index[c] for c in SUBJECT_CLASSES[subject]]
            probabilities = class_probabilities(model, image, long_side)
            flipped = flip_averaged(model, image, long_side)
            values = {"class": iou(probabilities[indices].sum(0), mask),
                      "non-bg": iou(1 - probabilities[0], mask),
                      "class+flip": iou(flipped[indices].sum(0), mask)}
            for reading, value in values.items():
                scores[reading][group].append(value)
            per_photo.setdefault(name, {})[long_side] = values
        ms = {function: np.mean([best_ms(args.repeats, function, model, image, long_side)
                                 for image in timing_photos])
              for function in (class_probabilities, flip_averaged)}
        for reading in readings:
            people, other = scores[reading]["people"], scores[reading]["other"]
            label = long_side if reading == "class" else ""
            function = flip_averaged if reading == "class+flip" else class_probabilities
            print(f"{label:>9} {reading:>10} {np.mean(people):7.3f} {np.mean(other):7.3f} "
                  f"{np.mean(people + other):6.3f} {ms[function]:7.1f}")

    for reading in ("class", "non-bg"):
        print(f"\nIoU per photo, reading {reading}:")
        print(f"{'':28}" + "".join(f"{side:>6}" for side in LONG_SIDES))
        for name, values in per_photo.items():
            print(f"{name:28}" + "".join(f"{values[side][reading]:6.3f}"
                                         for side in LONG_SIDES))


if __name__ == "__main__":
    main()
