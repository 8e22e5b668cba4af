"""How to render a photo: the options of :func:`bokehme.render`, checked as they are made."""

import math
from dataclasses import dataclass

from .imaging.classes import subject_classes

__all__ = ["Options", "OptionsError", "DEFAULT_RADIUS_FRACTION", "default_radius", "blur_radius"]

#: Default blur radius as a fraction of the image diagonal, so a photo looks
#: alike at any resolution (about 75 px on a 12-megapixel photo).
DEFAULT_RADIUS_FRACTION = 0.015


class OptionsError(ValueError):
    """Options that cannot be rendered as given.

    Attributes
    ----------
    fields : tuple of str
        The :class:`Options` fields at fault, the first the one that decides
        (``("pii", "blades")``: a scrub has no use for blades).
    reason : str
        Why, in a few words.
    """

    def __init__(self, fields, reason):
        self.fields, self.reason = tuple(fields), reason
        super().__init__(f"{', '.join(self.fields)}: {reason}")


@dataclass(frozen=True)
class Options:
    """How to render.

    Made options are valid: every combination that :func:`bokehme.render`
    would not honour is refused with :class:`OptionsError`.

    Attributes
    ----------
    radius : float or None
        Largest blur radius in full-resolution pixels; None picks
        :data:`DEFAULT_RADIUS_FRACTION` of the image diagonal.
    blades : int
        Aperture blades; 0 is a round aperture (disc), else at least 3.
    blade_rotation : float
        Rotation of a polygonal aperture, in degrees.
    highlights : float
        How much near-clipped background highlights are boosted so they bloom
        into bokeh discs; 0 is off.
    subject : tuple of str
        Class names that stay sharp, or ``("auto",)`` for the most salient
        object; a comma-separated string is accepted and split.  ``person``
        is the people the photo is about: the main person and those standing
        as near to the camera, not the smaller people behind
        (:func:`bokehme.imaging.subject.people_in_focus`).
    all_people : bool
        Keep every person sharp, however far behind (a team photo, street
        photography).
    pii : bool
        Scrub the background instead of only blurring it: one main subject
        stays sharp, bystanders and faces behind it are made unrecoverable
        (see :mod:`bokehme.imaging.scrub`).  The scrub renders its own
        background, so it takes no blades, highlights, depth map or focus.
    focus : (int, int) or None
        With a depth map: the pixel (column, row) whose depth is in focus;
        None focuses on the subject.
    """

    radius: float | None = None
    blades: int = 0
    blade_rotation: float = 0.0
    highlights: float = 0.0
    subject: tuple = ("person",)
    all_people: bool = False
    pii: bool = False
    focus: tuple[int, int] | None = None

    def __post_init__(self):
        try:
            object.__setattr__(self, "subject", subject_classes(self.subject))
        except ValueError as error:
            raise OptionsError(("subject",), str(error)) from None
        if self.radius is not None and not (math.isfinite(self.radius) and self.radius > 0):
            raise OptionsError(("radius",), "a blur radius is a positive number of pixels")
        if self.blades < 0 or self.blades in (1, 2):
            raise OptionsError(("blades",), "an aperture has 0 (round) or at least 3 blades")
        if not self.highlights >= 0:
            raise OptionsError(("highlights",), "a highlight boost is 0 or more")
        if self.focus is not None and len(self.focus) != 2:
            raise OptionsError(("focus",), "a focus point is one pixel's column and row")
        if self.pii:
            for name in ("blades", "highlights", "focus"):
                if getattr(self, name):
                    raise OptionsError(("pii", name), "the scrub renders its own background")
            if self.all_people:
                raise OptionsError(("pii", "all_people"), "the scrub keeps one person sharp")


    @property
    def people(self):
        """Which people a ``"person"`` subject is, as segmenters take it: ``"all"`` or ``"near"`` the main one."""
        return "all" if self.all_people else "near"


def default_radius(shape):
    """Blur radius in pixels for an image of `shape`: a fixed share of its diagonal."""
    return DEFAULT_RADIUS_FRACTION * math.hypot(shape[0], shape[1])


def blur_radius(options, shape):
    """``options.radius``, or :func:`default_radius` for an image of `shape`."""
    return options.radius if options.radius is not None else default_radius(shape)
