"""Faces, found by MediaPipe's two face detectors (bundled in the wheel, offline)."""

import math

import numpy as np

from ..imaging.scrub import MIN_RADIUS_FRACTION
from .mediapipe_runtime import native_stderr_silenced

__all__ = ["FaceDetector"]

#: Faces are searched for in tiles this many times the smallest face size,
#: the scale at which MediaPipe's short-range model finds them reliably.
TILE_FACES = 6

#: Padding added around each detected face, as fractions of its box:
#: (left and right, above for the hair, below for the chin and neck).
FACE_PADDING = (0.35, 0.6, 0.3)


def _merge_boxes(boxes):
    """Merge boxes that mostly cover each other into their bounding boxes."""
    merged = []
    for box in sorted(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True):
        for i, other in enumerate(merged):
            ix = min(box[2], other[2]) - max(box[0], other[0])
            iy = min(box[3], other[3]) - max(box[1], other[1])
            smaller = min((box[2] - box[0]) * (box[3] - box[1]), (other[2] - other[0]) * (other[3] - other[1]))
            if ix > 0 and iy > 0 and ix * iy > 0.5 * smaller:
                merged[i] = (min(box[0], other[0]), min(box[1], other[1]),
                             max(box[2], other[2]), max(box[3], other[3]))
                break
        else:
            merged.append(tuple(box))
    return merged


def _tiles(length, tile):
    """Starts of tiles of size `tile` covering `length` with half-tile overlap."""
    if tile >= length:
        return [0]
    step = tile // 2
    starts = list(range(0, length - tile, step))
    return starts + [length - tile]


class FaceDetector:
    """MediaPipe face detection (bundled in the mediapipe wheel, offline).

    Both of MediaPipe's models (short-range and full-range) run, and their
    detections are pooled, on the whole photo and on a pyramid of
    overlapping tiles, so that faces far smaller than the photo are found
    too: the models see the photo shrunk to 128 or 192 px, where a face in
    the crowd is a few pixels.  On the tests' 800 px scene the whole-photo
    pass misses a 50 px background face that the tiles find.

    Parameters
    ----------
    min_face : float
        Smallest face to look for, as a fraction of the image diagonal.
        Smaller faces need not be found: the background scrub averages them
        away with everything else smaller than its cells.
    min_confidence : float
        MediaPipe's detection threshold.  A false detection only paints some
        background that is scrubbed anyway, so erring low costs little.
    """

    def __init__(self, min_face=MIN_RADIUS_FRACTION, min_confidence=0.5):
        with native_stderr_silenced():
            from mediapipe.python.solutions import face_detection

            self._models = [face_detection.FaceDetection(model_selection=selection,
                                                         min_detection_confidence=min_confidence)
                            for selection in (0, 1)]
            # The first frame loads the networks and logs.
            for model in self._models:
                model.process(np.full((128, 128, 3), 128, np.uint8))
        self.min_face = min_face

    def _detect(self, pixels):
        """Unpadded boxes (x0, y0, x1, y1) in `pixels`' coordinates."""
        h, w = pixels.shape[:2]
        pixels = np.ascontiguousarray(pixels)
        boxes = []
        for model in self._models:
            for detection in model.process(pixels).detections or []:
                box = detection.location_data.relative_bounding_box
                boxes.append((box.xmin * w, box.ymin * h, (box.xmin + box.width) * w, (box.ymin + box.height) * h))
        return boxes

    def __call__(self, image):
        """Faces in a photo.

        Parameters
        ----------
        image : (H, W, 3) float32 ndarray
            sRGB image in [0, 1], the original (before any blur).

        Returns
        -------
        boxes : list of (x0, y0, x1, y1) int tuples
            Full-resolution pixel boxes, padded to take in hair and ears,
            clipped to the image.
        """
        h, w = image.shape[:2]
        pixels = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
        found = self._detect(pixels)
        tile = max(128, round(TILE_FACES * self.min_face * math.hypot(h, w)))
        while tile < max(h, w):
            for top in _tiles(h, tile):
                for left in _tiles(w, tile):
                    found += [(x0 + left, y0 + top, x1 + left, y1 + top) for x0, y0, x1, y1 in
                              self._detect(pixels[top:top + tile, left:left + tile])]
            tile *= 2
        side, above, below = FACE_PADDING
        padded = []
        for x0, y0, x1, y1 in found:
            bw, bh = x1 - x0, y1 - y0
            padded.append((max(0, math.floor(x0 - side * bw)), max(0, math.floor(y0 - above * bh)),
                           min(w, math.ceil(x1 + side * bw)), min(h, math.ceil(y1 + below * bh))))
        return [box for box in _merge_boxes(padded) if box[2] > box[0] and box[3] > box[1]]
