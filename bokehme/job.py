"""The per-photo job: read a photo file once, render it, write what was asked for.

A :class:`PhotoJob` holds everything a photo needs besides its own file: the
rendering options, the models (loaded once by the caller), and how files are
read and written.  Its three stages (:meth:`~PhotoJob.load`,
:meth:`~PhotoJob.compute`, :meth:`~PhotoJob.save`) are what a batch runner
overlaps; :meth:`~PhotoJob.run` does all three for one photo, as a cluster
worker does.  Rendering is :func:`bokehme.render` and nothing else.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from .imaging.samples import to_samples
from .io import read as reading
from .io import write as writing
from .io.metadata import metadata_fields
from .io.photo import DEFAULT_MAX_PIXELS, Photo
from .options import Options

if TYPE_CHECKING:
    from .pipeline import Rendering

__all__ = ["InputSettings", "OutputSettings", "PhotoJob", "Loaded", "Target", "scrub_record"]

#: Scrub report fields as a report names them, with their units.
REPORT_NAMES = {
    "face_boxes": "face_boxes_px",
    "bystander_area": "bystander_area_fraction",
    "subject_area": "subject_area_fraction",
    "radius": "radius_px",
    "cell": "cell_px",
}


@dataclass(frozen=True)
class InputSettings:
    """How a photo and what goes with it are read.

    Attributes
    ----------
    max_pixels : int
        Refuse images with more pixels than this.
    depth : "auto", "off" or Path
        ``"auto"`` uses the depth map a phone stored in the photo, ``"off"``
        none, a path a grayscale depth image for the photo.
    depth_far_bright : bool
        The depth image is a depth map (far = bright), not disparity.
    mask : Path or None
        A user's 8-bit subject mask used instead of segmentation.
    """

    max_pixels: int = DEFAULT_MAX_PIXELS
    depth: Any = "auto"
    depth_far_bright: bool = False
    mask: Path | None = None


@dataclass(frozen=True)
class OutputSettings:
    """How results are written; see :func:`bokehme.io.write.write_photo`.

    Attributes
    ----------
    format : str or None
        Output format; None keeps the photo's where it can be written.
    quality : int
        JPEG/WebP quality.
    subsampling : str
        JPEG chroma subsampling.
    metadata : {"keep", "strip"}
        Metadata policy; a PII scrub always strips.
    """

    format: str | None = None
    quality: int = 95
    subsampling: str = "4:4:4"
    metadata: str = "keep"


class Target(NamedTuple):
    """Where one photo's results go.

    Attributes
    ----------
    destination : Path
        The rendered photo.
    mask, cutout : Path or None
        The subject's 8-bit alpha and the subject on transparency, when asked for.
    """

    destination: Path
    mask: Path | None = None
    cutout: Path | None = None


#: Pixels of the photos rendered side by side, together: two 16 MP photos
#: take about what one 32 MP photo takes alone, well under the peak of a
#: 48 MP photo, which renders alone.
SIDE_BY_SIDE_PIXELS = 32e6


class Loaded(NamedTuple):
    """A photo read with everything its rendering needs."""

    photo: Photo
    mask: np.ndarray | None
    disparity: np.ndarray | None


@dataclass
class PhotoJob:
    """Everything but the photo: options, models, and how files are read and written.

    Parameters
    ----------
    options : Options
    segmenter : bokehme.models.Segmenter, optional
        Needed unless ``inputs.mask`` is given.
    faces : bokehme.models.faces.FaceDetector, optional
        For ``options.pii``.
    inputs : InputSettings
    outputs : OutputSettings
    background : callable, optional
        ``background(shape, index) -> (H, W, 3) float32``: a new background
        that replaces the blurred one (see :mod:`bokehme.video.backdrop`).
    """

    options: Options = field(default_factory=Options)
    segmenter: Any = None
    faces: Any = None
    inputs: InputSettings = field(default_factory=InputSettings)
    outputs: OutputSettings = field(default_factory=OutputSettings)
    background: Any = None

    def load(self, source) -> Loaded:
        """Read the photo at `source`, its depth map and the user's mask; the file is read once.

        Raises
        ------
        bokehme.io.PhotoError
        """
        depth = self.inputs.depth
        # A scrub and a new background make their own: the photo's depth map is not read.
        wants_depth = depth == "auto" and not self.options.pii and self.background is None
        photo = reading.read_photo(source, max_pixels=self.inputs.max_pixels, with_depth=wants_depth)
        mask = None
        if self.inputs.mask is not None:
            mask = reading.read_mask(self.inputs.mask, photo.samples.shape[:2])
        disparity = photo.disparity
        if depth not in ("auto", "off"):
            disparity = reading.read_depth_file(depth, far_bright=self.inputs.depth_far_bright)
        return Loaded(photo, mask, disparity)

    def share(self, loaded: Loaded) -> float:
        """The share of the memory for renderings that rendering this photo takes.

        The local engine renders photos side by side while their shares sum
        to at most 1 (a larger photo renders alone), calling the models
        from two threads: its recipe makes their calls take turns.
        """
        height, width = loaded.photo.samples.shape[:2]
        return height * width / SIDE_BY_SIDE_PIXELS

    def compute(self, loaded: Loaded) -> Rendering:
        """Render a loaded photo (:func:`bokehme.render`), rounded to what its files hold.

        Returns
        -------
        Rendering
            Its image as :func:`bokehme.io.write.file_samples` gives it for
            this photo and output format, its alpha as 8 bits: a batch holds
            a result that waits to be written in a quarter of the memory.
        """
        # Imported at the first photo: planning a batch (which names targets)
        # must not wait for torch, and a rerun with nothing to do never loads it.
        from .pipeline import render

        photo = loaded.photo
        background = None if self.background is None else self.background(photo.samples.shape[:2], 0)
        rendering = render(photo.samples, self.options, self.segmenter, loaded.mask, self.faces, loaded.disparity,
                           background)
        rendering.image = writing.file_samples(rendering.image, photo, self.outputs.format)
        rendering.alpha = to_samples(rendering.alpha, np.uint8)
        return rendering

    def save(self, loaded: Loaded, rendering: Rendering, target: Target) -> dict | None:
        """Write the results of one photo atomically.

        Returns
        -------
        dict or None
            What is worth recording about the photo, or None: ``notes``, one
            line per piece of metadata that did not fit the output, and with
            ``options.pii`` what was scrubbed (see :func:`scrub_record`).
        """
        photo = loaded.photo
        settings = self.outputs
        notes = writing.write_photo(
            target.destination, rendering.image, source=photo, format=settings.format,
            quality=settings.quality, subsampling=settings.subsampling,
            metadata="strip" if self.options.pii else settings.metadata,
        )
        if target.mask is not None:
            writing.write_mask(target.mask, rendering.alpha)
        if target.cutout is not None:
            writing.write_cutout(target.cutout, photo.samples, rendering.alpha, icc_profile=photo.icc_profile)
        record = {}
        if rendering.scrub is not None:
            record.update(scrub_record(rendering.scrub), output=str(target.destination),
                          metadata_removed=metadata_fields(photo))
        if notes:
            record["notes"] = notes
        return record or None

    def run(self, source, target: Target) -> dict | None:
        """Load, compute and save one photo; what :meth:`save` returns."""
        loaded = self.load(source)
        return self.save(loaded, self.compute(loaded), target)


def scrub_record(report) -> dict:
    """A :class:`bokehme.imaging.scrub.ScrubReport` as a JSON report has it: each field named with its unit.

    Areas are fractions of the image (0 to 1), boxes, radius and cell are in
    full-resolution pixels, counts are plain.
    """
    return {REPORT_NAMES.get(name, name): value for name, value in dataclasses.asdict(report).items()}
