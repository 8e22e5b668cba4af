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


#: A face found once only, by one model on one view, counts from this score
#: on: a real face is found again by the other model or on an overlapping
#: tile, a false one (a crease in a shirt) mostly not.
CONFIDENT = 0.75


def _pooled(detections):
    """Detections of the same face pooled into their bounding box, faces found once and doubtfully dropped.

    Parameters
    ----------
    detections : list of (x0, y0, x1, y1, score)
        Unpadded boxes: two faces side by side do not overlap, nor does a
        false detection on a body the face above it.

    Returns
    -------
    list of (x0, y0, x1, y1)
    """
    faces = []  # [x0, y0, x1, y1, hits, best score]
    for *box, score in sorted(detections, key=lambda d: (d[2] - d[0]) * (d[3] - d[1]), reverse=True):
        for face in faces:
            ix = min(box[2], face[2]) - max(box[0], face[0])
            iy = min(box[3], face[3]) - max(box[1], face[1])
            if ix > 0 and iy > 0 and ix * iy > 0.5 * (box[2] - box[0]) * (box[3] - box[1]):
                face[:6] = (min(box[0], face[0]), min(box[1], face[1]), max(box[2], face[2]),
                            max(box[3], face[3]), face[4] + 1, max(score, face[5]))
                break
        else:
            faces.append([*box, 1, score])
    return [tuple(face[:4]) for face in faces if face[4] > 1 or face[5] >= CONFIDENT]


def _tiles(length, tile):
    """Starts of tiles of size `tile` covering `length` with half-tile overlap."""
    if tile >= length:
        return [0]
    step = tile // 2
    starts = list(range(0, length - tile, step))
    return starts + [length - tile]


class FaceDetector:
    """MediaPipe face detection (bundled in the mediapipe wheel, offline).

    Both of MediaPipe's models (short-range and full-range) run on the
    whole photo and on a pyramid of overlapping tiles, so that faces far
    smaller than the photo are found too: the models see the photo shrunk
    to 128 or 192 px, where a face in the crowd is a few pixels.  On the
    tests' 800 px scene the whole-photo pass misses a 50 px background face
    that the tiles find.  The detections of one face are pooled before they
    are padded, so that two people's faces side by side stay two faces; a
    face found only once and below :data:`CONFIDENT` is dropped, as a false
    face on the main person's body could take their own face's place.

    Parameters
    ----------
    min_face : float
        Smallest face to look for, as a fraction of the image diagonal.
        Smaller faces need not be found: the background scrub averages them
        away with everything else smaller than its cells.
    min_confidence : float
        MediaPipe's detection threshold.  A false detection in the
        background only paints some of it, which is scrubbed anyway, so
        erring low costs little.
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
        """Unpadded boxes with their scores (x0, y0, x1, y1, score) in `pixels`' coordinates."""
        h, w = pixels.shape[:2]
        pixels = np.ascontiguousarray(pixels)
        boxes = []
        for model in self._models:
            for detection in model.process(pixels).detections or []:
                box = detection.location_data.relative_bounding_box
                boxes.append((box.xmin * w, box.ymin * h, (box.xmin + box.width) * w, (box.ymin + box.height) * h,
                              detection.score[0]))
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
                    found += [(x0 + left, y0 + top, x1 + left, y1 + top, score) for x0, y0, x1, y1, score in
                              self._detect(pixels[top:top + tile, left:left + tile])]
            tile *= 2
        side, above, below = FACE_PADDING
        padded = []
        for x0, y0, x1, y1 in _pooled(found):
            bw, bh = x1 - x0, y1 - y0
            padded.append((max(0, math.floor(x0 - side * bw)), max(0, math.floor(y0 - above * bh)),
                           min(w, math.ceil(x1 + side * bw)), min(h, math.ceil(y1 + below * bh))))
        return [box for box in padded if box[2] > box[0] and box[3] > box[1]]
