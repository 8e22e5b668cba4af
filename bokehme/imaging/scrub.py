"""Scrub personally identifiable detail from the background of a photo.

A moderate blur or a mosaic can be undone or read, so the scrub throws
information away instead of hiding it (docs/pii.md): bystanders' faces are
painted over with the colour around them, the background is averaged over
cells as large as the blur radius with dithered colours, and that coarse
background is lens-blurred behind the untouched subject, with a fine grain
on top.  Only the cells' dithered colours reach the output, so no
deconvolution can bring back detail finer than a cell.

Faces come in as boxes from any detector (see :mod:`bokehme.models.faces`);
nothing here runs a model.

References
----------
.. [1] S. Hill, Z. Zhou, L. Saul and H. Shacham, "On the (In)effectiveness
   of Mosaicing and Blurring as Tools for Document Redaction", PoPETs 2016.
"""

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy import ndimage

from .colour import linear_to_srgb
from .composite import render_bokeh
from .lens import weighted_block_mean
from .matte import refine_alpha
from .resample import resize_map, upsample
from .subject import main_subject

__all__ = [
    "ScrubReport",
    "main_face",
    "keep_subject_faces",
    "cut_faces",
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

#: Least share of a face's core on the subject for it to be the main person's.
MAIN_FACE_SHARE = 0.25

#: Standard deviation of the grain laid over the scrubbed background, in
#: sRGB units; about one 8-bit step, like a clean sensor's noise.
GRAIN = 1.0 / 255


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
        Faces of the main person left untouched: 0 or 1.
    faces_cut_from_subject : int
        Of the faces scrubbed, those found on the subject's region: people
        touching the main person, cut out of the subject and scrubbed.
    bystanders : int
        People found other than the subject, all scrubbed.
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
    faces_cut_from_subject: int = 0
    bystanders: int = 0
    bystander_area: float = 0.0
    subject_area: float = 0.0
    radius: float = 0.0
    cell: int = 0


# --------------------------------------------------------------------------
# Faces


def _face_core(box):
    """The centre half of a padded face box: the face itself, without hair and background."""
    x0, y0, x1, y1 = box
    qx, qy = (x1 - x0) // 4, (y1 - y0) // 4
    return x0 + qx, y0 + qy, x1 - qx, y1 - qy


def _on_subject(box, alpha):
    """The share of a padded face box's core that is subject.

    Only the box's core is looked at: the padding around a face is
    background as often as hair, but the face itself is the subject's as
    far as its core is.
    """
    x0, y0, x1, y1 = _face_core(box)
    core = alpha[y0:y1, x0:x1]
    return float((core > 0.5).mean()) if core.size else 0.0


def _the_main_persons(box, own):
    """Whether a face box is the main person's own: another detection of their face
    (its core's centre in their face's core), or a face-like print on their body below it
    (its centre below their face itself, within the width of their face box)."""
    x0, y0, x1, y1 = _face_core(own)
    cx0, cy0, cx1, cy1 = _face_core(box)
    cx, cy = (cx0 + cx1) / 2, (cy0 + cy1) / 2
    if x0 <= cx <= x1 and y0 <= cy <= y1:
        return True
    return cy > y1 and own[0] <= cx <= own[2]


def _overlap(box, other):
    """Whether two boxes share any pixel."""
    return box[0] < other[2] and other[0] < box[2] and box[1] < other[3] and other[1] < box[3]


def main_face(boxes, alpha):
    """The main person's face: the largest face on the subject.

    The main person is the nearest, so their face is the largest of those
    on them; any other face there is someone touching or standing behind
    them.  Faces mostly on the subject come first; only when there is none,
    a face partly on it counts (a turned head, a motion-blurred dancer whose
    matte misses part of the face), so that the main person's face is never
    taken for a bystander's.

    Parameters
    ----------
    boxes : list of (x0, y0, x1, y1)
        Padded face boxes.
    alpha : (H, W) float32 ndarray
        Subject alpha in [0, 1].

    Returns
    -------
    (x0, y0, x1, y1) or None
    """
    shares = [_on_subject(box, alpha) for box in boxes]
    on = [(share > 0.5, (box[2] - box[0]) * (box[3] - box[1]), box)
          for box, share in zip(boxes, shares) if share >= MAIN_FACE_SHARE]
    return max(on, key=lambda entry: entry[:2])[2] if on else None


def _ramp(start, stop, inner_start, inner_stop, feather):
    """1-D weights over pixels ``start..stop``: 1 on the inner span, 0 `feather` pixels beyond it."""
    i = np.arange(start, stop, dtype=np.float32) + 0.5
    outside = np.maximum(np.maximum(inner_start - i, i - inner_stop), 0)
    return np.clip(1 - outside / feather, 0, 1)


def keep_subject_faces(alpha, boxes):
    """Make the main person's face fully opaque, so the scrub leaves it exactly as it is.

    A guided-filter matte is often soft inside a face whose skin is close in
    colour to the wall behind it, or misses part of a face in motion; the
    face detector knows better.  The core of the face box becomes subject,
    with a feathered edge around it.

    Parameters
    ----------
    alpha : (H, W) float32 ndarray
        Subject alpha in [0, 1].
    boxes : list of (x0, y0, x1, y1)
        The main person's padded face boxes (see :func:`main_face`).

    Returns
    -------
    alpha : (H, W) float32 ndarray
        A copy, at least as opaque as `alpha`.
    """
    out = np.array(alpha, dtype=np.float32, copy=True)
    for box in boxes:
        x0, y0, x1, y1 = box
        cx0, cy0, cx1, cy1 = _face_core(box)
        feather = max(1.0, (cx0 - x0) / 2)
        cover = np.outer(_ramp(y0, y1, cy0, cy1, feather), _ramp(x0, x1, cx0, cx1, feather))
        region = out[y0:y1, x0:x1]
        region += cover * (1 - region)
    return out


def cut_faces(alpha, boxes, keep=None):
    """Cut faces out of the subject: people touching the main person are bystanders.

    Parameters
    ----------
    alpha : (H, W) float32 ndarray
        Subject alpha in [0, 1].
    boxes : list of (x0, y0, x1, y1)
        Padded boxes of faces that are not the main person's.
    keep : (x0, y0, x1, y1), optional
        The main person's face (the core of their box), never cut.

    Returns
    -------
    alpha : (H, W) float32 ndarray
        A copy, zero over each box but for a feathered edge.
    """
    out = np.array(alpha, dtype=np.float32, copy=True)
    for x0, y0, x1, y1 in boxes:
        feather = max(1.0, 0.15 * min(x1 - x0, y1 - y0))
        cover = np.outer(_ramp(y0, y1, y0 + feather, y1 - feather, feather),
                         _ramp(x0, x1, x0 + feather, x1 - feather, feather))
        out[y0:y1, x0:x1] *= 1 - cover
    if keep is not None:
        x0, y0, x1, y1 = keep
        out[y0:y1, x0:x1] = alpha[y0:y1, x0:x1]
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
        Bystanders' face boxes in pixels, see
        :class:`bokehme.models.faces.FaceDetector`.
    alpha : (H, W) float32 ndarray
        Subject alpha in [0, 1]: pixels are painted in proportion to
        ``1 - alpha``, so the subject is never painted on.

    Returns
    -------
    scrubbed : (H, W, 3) float32 ndarray
        A copy of `image`.
    """
    out = np.array(image, dtype=np.float32, copy=True)
    h, w = alpha.shape
    for box in boxes:
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
    cells = linear_to_srgb(weighted_block_mean(x, weight, cell))
    dither = torch.from_numpy(rng.random(cells.shape, dtype=np.float32))
    cells = torch.floor(cells * (CELL_LEVELS - 1) + dither) / (CELL_LEVELS - 1)
    return upsample(cells.clamp_(0, 1), image.shape[:2], cell)


def scrub_background(image, alpha, radius, *, seed=0):
    """Blur the background beyond recovery, keeping the subject sharp.

    The background is first reduced to cells as large as the blur radius,
    whose colours are quantized to :data:`CELL_LEVELS` levels with random
    dither; the reduction discards all detail finer than a cell and the
    dither the last bits a matching attack could use.  The cells are then
    lens-blurred (:func:`bokehme.imaging.composite.render_bokeh`), which melts them
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
        A :class:`bokehme.models.faces.FaceDetector`, or any function of
        the image returning boxes; it is run on the original photo.  None skips face filling
        and leaves faces to the background scrub alone.
    subject_probability : (h, w) float32 ndarray, optional
        The subject to keep sharp (another class, a user's mask); by
        default the main person, see
        :func:`bokehme.imaging.subject.main_subject`.  People outside
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
    alpha = refine_alpha(image, subject, fill_subject=False)
    own = main_face(boxes, alpha)
    bystander_boxes = [box for box in boxes
                       if own is None or not (_the_main_persons(box, own) and _on_subject(box, alpha) > 0.5)]
    on_subject = [box for box in bystander_boxes if _on_subject(box, alpha) > 0.5]
    # The main person's face is kept whole, but the padding around it gives
    # way to a face beside it (someone walking shoulder to shoulder).
    beside = [box for box in bystander_boxes if box not in on_subject and own is not None and _overlap(box, own)]
    alpha = keep_subject_faces(alpha, [own] if own else [])
    alpha = cut_faces(alpha, on_subject + beside, keep=_face_core(own) if own else None)
    radius = scrub_radius(image.shape, radius)
    scrubbed = scrub_background(scrub_faces(image, bystander_boxes, alpha), alpha, radius, seed=seed)
    report = ScrubReport(
        faces_scrubbed=len(bystander_boxes),
        face_boxes=[list(box) for box in bystander_boxes],
        subject_faces=int(own is not None),
        faces_cut_from_subject=len(on_subject) + len(beside),
        bystanders=int(ndimage.label(bystanders > 0.5)[1]),
        bystander_area=float((bystanders > 0.5).mean()),
        subject_area=float((alpha > 0.5).mean()),
        radius=float(radius),
        cell=cell_size(radius),
    )
    return scrubbed, alpha, report
