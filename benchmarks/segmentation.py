"""Segmentation quality and speed on the devset: IoU per model and inference size.

Usage::

    python benchmarks/segmentation.py [--devset ../shared/devset] [--weights ../shared/models/deeplabv3_257_mv_gpu.tflite]

Prints, for each model (and each DeepLabV3-MobileNetV2 inference size), the
mean IoU at probability 0.5 against the human masks, split into people
(portraits and the DAVIS riders) and other subjects, and the median
milliseconds per image for segmentation alone.  The subject of each photo is
its MANIFEST class(es) mapped to VOC classes (a rider's vehicle included, as
the masks include it); ``auto`` rows use ``--subject auto`` instead.
"""

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bokehme.models.loading import load_segmenter
from bokehme.models.mobilenetv2_deeplab import MOBILENETV2_LONG_SIDE, MobileNetV2DeepLab
from bokehme.models.people import PeopleSegmenter
from bokehme.models.selfie import SelfieSegmenter

REPO = Path(__file__).resolve().parent.parent
VOC_OF_SUBJECT = {"person": "person", "car": "car", "cow": "cow", "motorbike": "motorbike", "soapbox": "car"}


def load_devset(folder):
    rows = (folder / "MANIFEST.tsv").read_text().splitlines()[1:]
    photos = []
    for row in rows:
        name, *_, subject, _size, _notes = row.split("\t")
        image = np.asarray(Image.open(folder / "images" / f"{name}.jpg").convert("RGB"), np.float32) / 255
        mask = np.asarray(Image.open(folder / "masks" / f"{name}.png").convert("L")) > 127
        classes = ",".join(VOC_OF_SUBJECT[part] for part in subject.split("+"))
        photos.append((name, image, mask, classes, "person" in subject))
    return photos


def iou(probability, mask):
    tensor = torch.from_numpy(probability)[None, None]
    full = torch.nn.functional.interpolate(tensor, size=mask.shape, mode="bilinear", align_corners=False)
    predicted = full[0, 0].numpy() > 0.5
    return (predicted & mask).sum() / max(1, (predicted | mask).sum())


def measure(segmenter, photos, subject=None):
    """Mean IoU of people and of other subjects, and seconds per photo.

    The selfie model knows people only: it is given "person" on the photos
    with people and skips the others.
    """
    people, others, times = [], [], []
    people_only = segmenter.labels == SelfieSegmenter.labels
    for _name, image, mask, classes, has_person in photos:
        if people_only and not has_person:
            continue
        start = time.perf_counter()
        probability = segmenter.subject_probability(image, "person" if people_only else subject or classes)
        times.append(time.perf_counter() - start)
        (people if has_person else others).append(iou(probability, mask))
    return np.mean(people) if people else float("nan"), np.mean(others) if others else float("nan"), times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devset", type=Path, default=REPO.parent / "shared" / "devset")
    parser.add_argument("--weights", type=Path, default=REPO.parent / "shared" / "models" / "deeplabv3_257_mv_gpu.tflite")
    parser.add_argument("--sizes", default="257,385,513,641")
    args = parser.parse_args()
    photos = load_devset(args.devset)
    portraits = [p for p in photos if p[0].startswith("portrait")]
    davis_people = [p for p in photos if not p[0].startswith("portrait") and p[4]]
    print(f"devset: {len(photos)} photos ({len(portraits)} portraits, {len(davis_people)} DAVIS people, "
          f"{len(photos) - len(portraits) - len(davis_people)} other subjects); torch threads {torch.get_num_threads()}")
    mobilenet = load_segmenter("deeplabv3-mobilenetv2", weights=args.weights)
    selfie = SelfieSegmenter()
    candidates = [("selfie (landscape)", selfie, None), ("selfie (general)", SelfieSegmenter(landscape=False), None)]
    for size in (int(s) for s in args.sizes.split(",")):
        candidates.append((f"deeplabv3-mobilenetv2 @{size}", MobileNetV2DeepLab(mobilenet.model, size), None))
        if size == MOBILENETV2_LONG_SIDE:
            candidates.append((f"deeplabv3-mobilenetv2 @{size} --subject auto", candidates[-1][1], "auto"))
    candidates.append(("auto: mobilenetv2 @513 + selfie", PeopleSegmenter(mobilenet, selfie), None))
    print(f"{'model':45s} {'people IoU':>10s} {'other IoU':>10s} {'ms/image':>9s}")
    for label, segmenter, subject in candidates:
        measure(segmenter, photos[:1], subject)  # warm-up
        people, others, times = measure(segmenter, photos, subject)
        print(f"{label:45s} {people:10.3f} {others:10.3f} {1000 * statistics.median(times):9.1f}")


if __name__ == "__main__":
    main()
