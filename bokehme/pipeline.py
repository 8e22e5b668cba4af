"""The per-image pipeline: one pure function of (image, options, models).

The same :func:`render` serves single photos, batches, video frames and
cluster workers: it takes pixels and returns pixels, and never touches
files, the terminal or global state.  It picks one of three paths: the
two-plane bokeh (subject sharp, background blurred), the depth-of-field
render when a depth map is given, and the PII scrub.
"""

from dataclasses import dataclass

import numpy as np

from .imaging import depth_map, scrub as scrubbing
from .imaging.composite import render_bokeh, replace_background
from .imaging.depth_render import render_depth
from .imaging.foreground import EDGE_PIXELS
from .imaging.matte import refine_alpha
from .imaging.samples import to_samples, to_unit_float
from .options import Options, blur_radius

__all__ = ["NoSubjectError", "Rendering", "render", "subject_probability"]

#: Below this share of the image, a "subject" is taken to be noise.
MIN_SUBJECT_AREA = 0.002


class NoSubjectError(Exception):
    """The segmenter found no subject in an image.

    Attributes
    ----------
    subject : tuple of str
        The class names looked for, or ``("auto",)``.
    """

    def __init__(self, subject):
        self.subject = tuple(subject)
        what = "subject" if self.subject == ("auto",) else " or ".join(self.subject)
        super().__init__(f"no {what} found")


@dataclass
class Rendering:
    """What :func:`render` returns.

    Attributes
    ----------
    image : (H, W, 3) ndarray
        The rendered photo, sRGB: uint8 for an 8-bit image (the result
        rounded), else float32 in [0, 1].
    alpha : (H, W) float32 ndarray
        The subject's alpha in [0, 1] that was used.
    scrub : bokehme.imaging.scrub.ScrubReport or None
        What a PII scrub removed; None without ``Options.pii``.
    """

    image: np.ndarray
    alpha: np.ndarray
    scrub: scrubbing.ScrubReport | None = None


def subject_probability(image, segmenter, subject=("person",), people="near"):
    """The segmenter's subject probability, at its own resolution.

    `people` says which people a ``"person"`` subject is, see
    :meth:`bokehme.models.Segmenter.subject_probability`.

    Raises
    ------
    NoSubjectError
        When the segmenter finds nothing of `subject`.
    """
    probability = segmenter.subject_probability(image, subject, people)
    if float((probability > 0.5).mean()) < MIN_SUBJECT_AREA:
        raise NoSubjectError(subject)
    return probability


def _scrub(image, options, segmenter=None, mask=None, faces=None):
    """The PII path of :func:`render`: see :func:`bokehme.imaging.scrub.scrub`."""
    if mask is not None:
        # Without a segmenter, nobody but the masked subject is known to be a person.
        person = mask if segmenter is None else segmenter.subject_probability(image, "person", "all")
        subject = mask
    elif options.subject == ("person",):
        # One main person stays sharp; everyone else is a bystander.
        subject = subject_probability(image, segmenter, options.subject, "main")
        person = segmenter.subject_probability(image, "person", "all")
    else:
        person = segmenter.subject_probability(image, "person", "all")  # everyone is a bystander
        subject = subject_probability(image, segmenter, options.subject)
    scrubbed, alpha, report = scrubbing.scrub(image, person, options.radius, faces=faces,
                                              subject_probability=subject)
    return Rendering(image=scrubbed, alpha=alpha, scrub=report)


def _render_with_depth(image, disparity, options, segmenter=None, mask=None):
    """The depth-map path of :func:`render`: see :func:`bokehme.imaging.depth_render.render_depth`.

    The subject, when one is found, sets the focus plane and stays sharp
    where the phone's depth is coarse; without one, the focus is
    ``options.focus`` or the middle of the picture.
    """
    if disparity.shape != image.shape[:2]:
        disparity = depth_map.upsample_disparity(image, disparity)
    alpha = mask
    if alpha is None:
        try:
            alpha = refine_alpha(image, subject_probability(image, segmenter, options.subject,
                                                            options.people))
        except NoSubjectError:
            alpha = None
    focus = depth_map.focus_disparity(disparity, alpha, options.focus)
    result = render_depth(image, disparity, focus, blur_radius(options, image.shape), blades=options.blades,
                          blade_rotation=options.blade_rotation, highlights=options.highlights, alpha=alpha)
    return Rendering(image=result, alpha=alpha if alpha is not None else np.zeros(image.shape[:2], np.float32))


def _eight_bit(rendering, eight_bit):
    """`rendering` with its image rounded to 8 bits, if `eight_bit`."""
    if eight_bit:
        rendering.image = to_samples(rendering.image, np.uint8)
    return rendering


def render(image, options=Options(), segmenter=None, mask=None, faces=None, disparity=None, background=None,
           probability=None, edge_pixels=EDGE_PIXELS):
    """Blur the background of a photo as a fast lens would.

    Parameters
    ----------
    image : (H, W, 3) ndarray
        sRGB image, orientation already applied: float32 in [0, 1], or
        8- or 16-bit samples (uint8, uint16) read as ``v / 255`` or
        ``v / 65535``.  An 8-bit image is rendered without a full-size float
        copy, and its rendering is 8-bit too.
    options : Options
    segmenter : bokehme.models.Segmenter, optional
        Finds the subject; needed unless `mask` is given.
    mask : (H, W) float32 ndarray, optional
        A user's alpha in [0, 1] (1 = subject) used instead of segmentation.
    faces : bokehme.models.faces.FaceDetector, optional
        Finds faces to fill in a PII scrub; without it the scrub relies on
        the background render alone.
    disparity : (h, w) float32 ndarray, optional
        A depth map as disparity in [0, 1], near = 1, at any resolution: the
        blur then grows with distance from the focus plane, as with a lens.
        ``options.focus`` applies only with one.
    background : (H, W, 3) float32 ndarray, optional
        A new background (sRGB in [0, 1], the photo's size) that replaces
        the old one instead of blurring it; the subject's edges are laid
        over it cleaned of the old background's colours.
    probability : (h, w) float32 ndarray, optional
        The subject's probability as a segmenter gave it, found beforehand
        (a video frame's, steadied from frame to frame): the alpha is refined
        from it instead of running `segmenter`, or, with `mask`, it tells the
        blur where the model is unsure.
    edge_pixels : float, optional
        Working size of the soft edge's colour estimate (see
        :func:`bokehme.imaging.foreground.foreground_in_band`): the default
        keeps fine strands; video frames take fewer, for speed.

    Returns
    -------
    rendering : Rendering

    Raises
    ------
    NoSubjectError
        When segmentation finds no subject.
    bokehme.imaging.depth_map.FocusOutsideImage
        When ``options.focus`` lies outside the image.
    ValueError
        Without a segmenter or a mask, with a mask or background of another
        size, with a depth map and a new background, or with either for a
        PII scrub.
    """
    if mask is None and segmenter is None and probability is None:
        raise ValueError("render needs a segmenter, a mask or a subject probability")
    image = np.asarray(image)
    eight_bit = image.dtype == np.uint8
    if not eight_bit:
        image = to_unit_float(image)
    elif not image.flags.writeable:
        # Pillow's arrays are read-only, and torch warns of every view of
        # one: a copy of the bytes is a quarter of a float copy.
        image = image.copy()
    if mask is not None and mask.shape != image.shape[:2]:
        raise ValueError(f"mask is {mask.shape[1]}x{mask.shape[0]}, image is {image.shape[1]}x{image.shape[0]}")
    if background is not None and background.shape != image.shape:
        raise ValueError(f"background is {background.shape[1]}x{background.shape[0]}, "
                         f"image is {image.shape[1]}x{image.shape[0]}")
    if options.pii:
        if disparity is not None or background is not None:
            raise ValueError("a PII scrub renders its own background: it takes no depth map or new background")
        return _eight_bit(_scrub(to_unit_float(image), options, segmenter, mask, faces), eight_bit)
    if disparity is not None:
        if background is not None:
            raise ValueError("a new background replaces the scene: it takes no depth map")
        return _eight_bit(_render_with_depth(to_unit_float(image), disparity, options, segmenter, mask), eight_bit)
    if mask is None:
        if probability is None:
            probability = subject_probability(image, segmenter, options.subject, options.people)
        alpha = refine_alpha(image, probability)
    else:
        alpha = mask.astype(np.float32, copy=False)
    if background is not None:
        return Rendering(image=replace_background(image, alpha, background, edge_pixels=edge_pixels), alpha=alpha)
    result = render_bokeh(
        image,
        alpha,
        blur_radius(options, image.shape),
        blades=options.blades,
        blade_rotation=options.blade_rotation,
        highlights=options.highlights,
        maybe_subject=probability,
        edge_pixels=edge_pixels,
    )
    return Rendering(image=result, alpha=alpha)
