"""Scrub personally identifiable detail from the background of a photo.

A moderate blur or a mosaic can be undone or read (Hill et al. 2016, "On
the (In)effectiveness of Mosaicing and Blurring as Tools for Document
Redaction"): a known blur is a linear map that deconvolution inverts, and a
mosaic of known text can be matched against renderings of candidate words.
The scrub therefore throws information away instead of hiding it:

1. the faces of bystanders are painted over with the colour around them;
2. the background is averaged over cells as large as the blur radius (at
   least 3% of the diagonal, larger than letters and faces worth reading),
   and each cell's colour is quantized with random dither;
3. that coarse background is lens-blurred behind the untouched subject, so
   the cells melt into ordinary bokeh, and fine grain is added on top.

Only the cells' dithered colours reach the output, so no deconvolution can
bring back detail finer than a cell.  Everything here works on arrays; the
one model, :class:`FaceDetector`, is MediaPipe's face detector.
"""

import math
import os
from dataclasses import dataclass, field

import numpy as np
import torch

from . import lens
from .composite import render_bokeh
from .matte import refine_alpha, resize_map
from .segment import _native_stderr_silenced, salient_object

__all__ = [
    "ScrubReport",
    "FaceDetector",
    "main_subject",
    "keep_subject_faces",
    "scrub_faces",
    "scrub_radius",
    "cell_size",
    "scrub_background",
    "scrub",
]

#: Smallest scrub blur radius, as a fraction of the image diagonal (about
#: 150 px on a 12-megapixel photo): text and faces smaller than this are
#: averaged away whole.
MIN_RADIUS_FRACTION = 0.03

#: Colour levels per channel (in sRGB) that each background cell keeps.
CELL_LEVELS = 32

#: Standard deviation of the grain laid over the scrubbed background, in
#: sRGB units; about one 8-bit step, like a clean sensor's noise.
GRAIN = 1.0 / 255

#: Faces are searched for in tiles this many times the smallest face size,
#: the scale at which MediaPipe's short-range model finds them reliably.
TILE_FACES = 6

#: Padding added around each detected face, as fractions of its box:
#: (left and right, above for the hair, below for the chin and neck).
FACE_PADDING = (0.35, 0.6, 0.3)


@dataclass
class ScrubReport:
    """What a scrub did, for a JSON report beside the photo.

    Attributes
    ----------
    faces_scrubbed : int
        Bystander faces painted over.
    face_boxes : list of [x0, y0, x1, y1]
        Their padded boxes in full-resolution pixels.
    subject_faces : int
        Faces found on the subject and left untouched.
    bystander_area : float
        Share of the image taken by people other than the subject.
    subject_area : float
        Share of the image kept sharp (alpha above 0.5).
    radius : float
        Blur radius used, in pixels.
    cell : int
        Side in pixels of the cells the background was averaged over.
    """

    faces_scrubbed: int = 0
    face_boxes: list = field(default_factory=list)
    subject_faces: int = 0
    bystander_area: float = 0.0
    subject_area: float = 0.0
    radius: float = 0.0
    cell: int = 0


# --------------------------------------------------------------------------
# Faces


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
        os.environ.setdefault("GLOG_minloglevel", "2")
        with _native_stderr_silenced():
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


def _face_core(box):
    """The centre half of a padded face box: the face itself, without hair and background."""
    x0, y0, x1, y1 = box
    qx, qy = (x1 - x0) // 4, (y1 - y0) // 4
    return x0 + qx, y0 + qy, x1 - qx, y1 - qy


def _is_subjects(box, alpha):
    """Whether a padded face box belongs to the subject.

    Only the box's core is looked at: the padding around a face is
    background as often as hair, but the face itself is the subject's when
    most of it is.
    """
    x0, y0, x1, y1 = _face_core(box)
    core = alpha[y0:y1, x0:x1]
    return core.size > 0 and float((core > 0.5).mean()) > 0.5


def _ramp(start, stop, inner_start, inner_stop, feather):
    """1-D weights over pixels ``start..stop``: 1 on the inner span, 0 `feather` pixels beyond it."""
    i = np.arange(start, stop, dtype=np.float32) + 0.5
    outside = np.maximum(np.maximum(inner_start - i, i - inner_stop), 0)
    return np.clip(1 - outside / feather, 0, 1)


def keep_subject_faces(alpha, boxes):
    """Make the subject's faces fully opaque, so the scrub leaves them exactly as they are.

    A guided-filter matte is often soft inside a face whose skin is close in
    colour to the wall behind it; the face detector knows better.  Inside
    the core of each of the subject's face boxes, pixels that are mostly
    subject become subject, with a feathered edge around the core.

    Parameters
    ----------
    alpha : (H, W) float32 ndarray
        Subject alpha in [0, 1].
    boxes : list of (x0, y0, x1, y1)
        Padded face boxes, see :class:`FaceDetector`; those that are not the
        subject's are ignored.

    Returns
    -------
    alpha : (H, W) float32 ndarray
        A copy, at least as opaque as `alpha`.
    """
    out = np.array(alpha, dtype=np.float32, copy=True)
    for box in boxes:
        if not _is_subjects(box, alpha):
            continue
        x0, y0, x1, y1 = box
        cx0, cy0, cx1, cy1 = _face_core(box)
        feather = max(1.0, (cx0 - x0) / 2)
        cover = np.outer(_ramp(y0, y1, cy0, cy1, feather), _ramp(x0, x1, cx0, cx1, feather))
        region = out[y0:y1, x0:x1]
        # Background that shows inside the box (alpha under 0.3) stays background.
        cover *= np.clip((region - 0.3) / 0.4, 0, 1)
        region += cover * (1 - region)
    return out


def scrub_faces(image, boxes, alpha):
    """Paint over the faces that are not the subject's.

    Each bystander's box is filled with the mean colour of the background
    around it, with a feathered edge so that, once the background is
    blurred, it reads as a soft patch of the surroundings rather than a
    rectangle.  Nothing of the face survives a solid fill.

    Parameters
    ----------
    image : (H, W, 3) float32 ndarray
        sRGB image in [0, 1].
    boxes : list of (x0, y0, x1, y1)
        Face boxes in pixels, see :class:`FaceDetector`.
    alpha : (H, W) float32 ndarray
        Subject alpha in [0, 1].  Boxes whose centre lies mostly on the
        subject are the subject's own face and are left alone; elsewhere
        pixels are painted in proportion to ``1 - alpha``, so the subject is
        never painted on.

    Returns
    -------
    scrubbed : (H, W, 3) float32 ndarray
        A copy of `image`.
    """
    out = np.array(image, dtype=np.float32, copy=True)
    h, w = alpha.shape
    for box in boxes:
        if _is_subjects(box, alpha):
            continue
        x0, y0, x1, y1 = box
        bw, bh = x1 - x0, y1 - y0
        # The ring of background around the box gives the fill colour.
        rx0, ry0 = max(0, x0 - bw // 2), max(0, y0 - bh // 2)
        rx1, ry1 = min(w, x1 + bw // 2), min(h, y1 + bh // 2)
        ring = 1.0 - alpha[ry0:ry1, rx0:rx1]
        ring[y0 - ry0:y1 - ry0, x0 - rx0:x1 - rx0] = 0
        if ring.sum() < 1:
            # Nothing but subject around: the face's own mean still erases it.
            ring = np.ones_like(ring)
        colour = np.tensordot(ring, image[ry0:ry1, rx0:rx1], axes=([0, 1], [0, 1])) / ring.sum()
        # The fill is solid over the box but for a feathered edge.
        feather = max(1.0, 0.15 * min(bw, bh))
        cover = np.outer(_ramp(y0, y1, y0 + feather, y1 - feather, feather),
                         _ramp(x0, x1, x0 + feather, x1 - feather, feather))
        cover *= 1.0 - alpha[y0:y1, x0:x1]
        region = out[y0:y1, x0:x1]
        region += cover[..., None] * (colour.astype(np.float32) - region)
    return out


# --------------------------------------------------------------------------
# People


def main_subject(person_probability, centre_sigma=0.35):
    """Split people into the one main subject and the bystanders.

    Parameters
    ----------
    person_probability : (h, w) float32 ndarray
        Probability of a person at each pixel, in [0, 1], at any resolution.
    centre_sigma : float
        Width of the centre weighting, as a fraction of the image diagonal;
        see :func:`bokehme.segment.salient_object`.

    Returns
    -------
    main : (h, w) float32 ndarray
        The probability of the person with the largest centre-weighted mass,
        with its soft rim; zero where nobody is found.
    bystanders : (h, w) float32 ndarray
        The probability of every other person.
    """
    person = np.clip(np.asarray(person_probability, dtype=np.float32), 0.0, 1.0)
    main = salient_object(np.stack([1.0 - person, person]), centre_sigma)
    return main, np.clip(person - main, 0.0, 1.0)


# --------------------------------------------------------------------------
# Background


def scrub_radius(shape, radius=None):
    """The scrub's blur radius: `radius`, but at least :data:`MIN_RADIUS_FRACTION` of the diagonal."""
    floor = MIN_RADIUS_FRACTION * math.hypot(shape[0], shape[1])
    return floor if radius is None else max(float(radius), floor)


def cell_size(radius):
    """Side in pixels of the cells a background is averaged over: the blur radius."""
    return max(2, round(radius))


def _coarse_background(image, alpha, cell, rng):
    """The background averaged over `cell`-pixel cells, quantized with dither.

    Cells are averaged in linear light with weight ``1 - alpha``, so the
    subject's colours stay out and a street lamp keeps its light; cells
    wholly behind the subject take their colour from the cells around them.

    Returns
    -------
    (H, W, 3) float32 ndarray
        sRGB in [0, 1], the cells smoothly upsampled to full resolution.
    """
    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))
    weight = torch.from_numpy(1.0 - np.asarray(alpha, dtype=np.float32))
    cells = lens._linear_to_srgb_t(lens.weighted_block_mean(x, weight, cell))
    dither = torch.from_numpy(rng.random(cells.shape, dtype=np.float32))
    cells = torch.floor(cells * (CELL_LEVELS - 1) + dither) / (CELL_LEVELS - 1)
    return lens.upsample(cells.clamp_(0, 1), image.shape[:2], cell)


def scrub_background(image, alpha, radius, *, seed=0):
    """Blur the background beyond recovery, keeping the subject sharp.

    The background is first reduced to cells as large as the blur radius,
    whose colours are quantized to :data:`CELL_LEVELS` levels with random
    dither; the reduction discards all detail finer than a cell and the
    dither the last bits a matching attack could use.  The cells are then
    lens-blurred (:func:`bokehme.composite.render_bokeh`), which melts them
    into smooth bokeh, and a light grain is laid over the background.

    Parameters
    ----------
    image : (H, W, 3) float32 ndarray
        sRGB image in [0, 1].
    alpha : (H, W) float32 ndarray
        Subject alpha in [0, 1], 1 = subject.
    radius : float or None
        Blur radius in pixels; raised to at least :data:`MIN_RADIUS_FRACTION`
        of the diagonal, see :func:`scrub_radius`.
    seed : int
        Seed of the dither and grain, so a scrub can be repeated exactly.

    Returns
    -------
    scrubbed : (H, W, 3) float32 ndarray
        sRGB in [0, 1].  Pixels with alpha 1 equal `image` exactly.
    """
    image = np.asarray(image, dtype=np.float32)
    alpha = np.asarray(alpha, dtype=np.float32)
    radius = scrub_radius(image.shape, radius)
    rng = np.random.default_rng(seed)
    coarse = _coarse_background(image, alpha, cell_size(radius), rng)
    # The subject and its soft rim stay as they are, so render_bokeh's
    # edge colours are estimated from the real photo.
    np.copyto(coarse, image, where=(alpha > 0)[..., None])
    out = render_bokeh(coarse, alpha, radius)
    grain = rng.standard_normal(out.shape, dtype=np.float32)
    grain *= (GRAIN * (1.0 - alpha))[..., None]
    out += grain
    return np.clip(out, 0.0, 1.0, out=out)


# --------------------------------------------------------------------------
# The whole scrub


def scrub(image, person_probability, radius=None, *, faces=None, subject_probability=None, seed=0):
    """Keep one subject sharp and make everything behind it unidentifiable.

    Parameters
    ----------
    image : (H, W, 3) float32 ndarray
        sRGB image in [0, 1].
    person_probability : (h, w) float32 ndarray
        Probability of a person at each pixel, at the model's resolution.
    radius : float, optional
        Blur radius in pixels, at least :data:`MIN_RADIUS_FRACTION` of the
        diagonal (also the default).
    faces : callable, optional
        A :class:`FaceDetector` (or any function of the image returning
        boxes); it is run on the original photo.  None skips face filling
        and leaves faces to the background scrub alone.
    subject_probability : (h, w) float32 ndarray, optional
        The subject to keep sharp (another class, a user's mask); by
        default the main person, see :func:`main_subject`.  People outside
        it are bystanders either way.
    seed : int
        Seed of the background's dither and grain.

    Returns
    -------
    scrubbed : (H, W, 3) float32 ndarray
        sRGB in [0, 1]; the subject's pixels (alpha 1) are unchanged.
    alpha : (H, W) float32 ndarray
        The subject's alpha.
    report : ScrubReport
    """
    image = np.asarray(image, dtype=np.float32)
    person = np.asarray(person_probability, dtype=np.float32)
    if subject_probability is None:
        subject, bystanders = main_subject(person)
    else:
        subject = np.asarray(subject_probability, dtype=np.float32)
        bystanders = np.clip(person - resize_map(subject, person.shape), 0.0, 1.0)
    boxes = [] if faces is None else [tuple(int(v) for v in box) for box in faces(image)]
    alpha = keep_subject_faces(refine_alpha(image, subject), boxes)
    bystander_boxes = [box for box in boxes if not _is_subjects(box, alpha)]
    radius = scrub_radius(image.shape, radius)
    scrubbed = scrub_background(scrub_faces(image, bystander_boxes, alpha), alpha, radius, seed=seed)
    report = ScrubReport(
        faces_scrubbed=len(bystander_boxes),
        face_boxes=[list(box) for box in bystander_boxes],
        subject_faces=len(boxes) - len(bystander_boxes),
        bystander_area=float((bystanders > 0.5).mean()),
        subject_area=float((alpha > 0.5).mean()),
        radius=float(radius),
        cell=cell_size(radius),
    )
    return scrubbed, alpha, report
