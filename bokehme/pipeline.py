"""The per-image pipeline: one pure function of (image, options, models).

The same :func:`render` serves single photos, batches, and later video frames
and cluster workers: it takes pixels and returns pixels, and never touches
files, the terminal or global state.
"""

import math
from dataclasses import dataclass

import numpy as np

from . import depth, pii
from .composite import render_bokeh
from .matte import refine_alpha

#: Default blur radius as a fraction of the image diagonal, so a photo looks
#: alike at any resolution (about 75 px on a 12-megapixel photo).
DEFAULT_RADIUS_FRACTION = 0.015

#: Below this share of the image, a "subject" is taken to be noise.
MIN_SUBJECT_AREA = 0.002


class NoSubjectError(Exception):
    """The segmenter found no subject; the message is one line for the user."""


@dataclass(frozen=True)
class Options:
    """How to render.

    Attributes
    ----------
    radius : float or None
        Largest blur radius in full-resolution pixels; None picks
        :data:`DEFAULT_RADIUS_FRACTION` of the image diagonal.
    blades : int
        Aperture blades; 0 is a round aperture (disk).
    blade_rotation : float
        Rotation of a polygonal aperture, in degrees.
    highlights : float
        How much near-clipped background highlights are boosted so they bloom
        into bokeh discs; 0 is off.
    subject : str
        Comma-separated class names, or ``"auto"`` for the most salient object.
    pii : bool
        Scrub the background instead of only blurring it: one main subject
        stays sharp, bystanders and faces behind it are made unrecoverable
        (see :mod:`bokehme.pii`).  A depth map is not used then.
    focus : (int, int) or None
        With a depth map: the pixel (column, row) whose depth is in focus;
        None focuses on the subject.
    """

    radius: float | None = None
    blades: int = 0
    blade_rotation: float = 0.0
    highlights: float = 0.0
    subject: str = "person"
    pii: bool = False
    focus: tuple[int, int] | None = None


@dataclass
class Rendering:
    """What :func:`render` returns.

    Attributes
    ----------
    image : (H, W, 3) float32 ndarray
        The rendered photo, sRGB in [0, 1].
    alpha : (H, W) float32 ndarray
        The subject's alpha in [0, 1] that was used.
    scrub : bokehme.pii.ScrubReport or None
        What a PII scrub removed; None without ``Options.pii``.
    """

    image: np.ndarray
    alpha: np.ndarray
    scrub: pii.ScrubReport | None = None


def default_radius(shape):
    """Blur radius in pixels for an image of `shape`: a fixed share of its diagonal."""
    return DEFAULT_RADIUS_FRACTION * math.hypot(shape[0], shape[1])


def blur_radius(options, shape):
    """``options.radius``, or :func:`default_radius` for an image of `shape`."""
    return options.radius if options.radius is not None else default_radius(shape)


def subject_probability(image, segmenter, subject="person"):
    """The segmenter's subject probability, at its own resolution.

    Raises
    ------
    NoSubjectError
        When the segmenter finds nothing of `subject`.
    """
    probability = segmenter.subject_probability(image, subject)
    if float((probability > 0.5).mean()) < MIN_SUBJECT_AREA:
        what = "subject" if subject == "auto" else subject.replace(",", " or ")
        raise NoSubjectError(f"no {what} found; try --subject auto or another class")
    return probability


def scrub(image, options, segmenter=None, mask=None, faces=None):
    """The PII path of :func:`render`: see :func:`bokehme.pii.scrub`."""
    if mask is not None:
        # Without a segmenter, nobody but the masked subject is known to be a person.
        person = mask if segmenter is None else segmenter.subject_probability(image, "person")
        subject = mask
    elif options.subject == "person":
        person, subject = subject_probability(image, segmenter, "person"), None  # the main person
    else:
        person = segmenter.subject_probability(image, "person")  # everyone is a bystander
        subject = subject_probability(image, segmenter, options.subject)
    scrubbed, alpha, report = pii.scrub(image, person, options.radius, faces=faces, subject_probability=subject)
    return Rendering(image=scrubbed, alpha=alpha, scrub=report)


def render_with_depth(image, disparity, options, segmenter=None, mask=None):
    """The depth-map path of :func:`render`: see :func:`bokehme.depth.render_depth`.

    The subject, when one is found, sets the focus plane and stays sharp
    where the phone's depth is coarse; without one, the focus is
    ``options.focus`` or the middle of the picture.
    """
    disparity = depth.upsample_disparity(image, disparity) if disparity.shape != image.shape[:2] else disparity
    alpha = mask
    if alpha is None:
        try:
            alpha = refine_alpha(image, subject_probability(image, segmenter, options.subject))
        except NoSubjectError:
            alpha = None
    try:
        focus = depth.focus_disparity(disparity, alpha, options.focus)
    except ValueError as error:
        raise NoSubjectError(str(error)) from None
    result = depth.render_depth(image, disparity, focus, blur_radius(options, image.shape), blades=options.blades,
                                blade_rotation=options.blade_rotation, highlights=options.highlights, alpha=alpha)
    return Rendering(image=result, alpha=alpha if alpha is not None else np.zeros(image.shape[:2], np.float32))


def render(image, options=Options(), segmenter=None, mask=None, faces=None, disparity=None):
    """Blur the background of a photo as a fast lens would.

    Parameters
    ----------
    image : (H, W, 3) float32 ndarray
        sRGB image in [0, 1], orientation already applied.
    options : Options
    segmenter : bokehme.segment.Segmenter, optional
        Finds the subject; needed unless `mask` is given.
    mask : (H, W) float32 ndarray, optional
        A user's alpha in [0, 1] (1 = subject) used instead of segmentation.
    faces : bokehme.pii.FaceDetector, optional
        Finds faces to fill in a PII scrub; without it the scrub relies on
        the background render alone.
    disparity : (h, w) float32 ndarray, optional
        A depth map as disparity in [0, 1], near = 1, at any resolution: the
        blur then grows with distance from the focus plane, as with a lens.

    Returns
    -------
    rendering : Rendering

    Raises
    ------
    NoSubjectError
        When segmentation finds no subject.
    """
    if mask is None and segmenter is None:
        raise ValueError("render needs a segmenter or a mask")
    if mask is not None and mask.shape != image.shape[:2]:
        raise ValueError(f"mask is {mask.shape[1]}x{mask.shape[0]}, image is {image.shape[1]}x{image.shape[0]}")
    if options.pii:
        return scrub(image, options, segmenter, mask, faces)
    if disparity is not None:
        return render_with_depth(image, disparity, options, segmenter, mask)
    if mask is None:
        alpha = refine_alpha(image, subject_probability(image, segmenter, options.subject))
    else:
        alpha = mask.astype(np.float32, copy=False)
    result = render_bokeh(
        image,
        alpha,
        blur_radius(options, image.shape),
        blades=options.blades,
        blade_rotation=options.blade_rotation,
        highlights=options.highlights,
    )
    return Rendering(image=result, alpha=alpha)
