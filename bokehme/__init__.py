"""bokehme: lens-quality background blur for ordinary photos.

The public API::

    segmenter = bokehme.load_segmenter("auto")
    photo = bokehme.read_photo("portrait.jpg")
    result = bokehme.render(photo.pixels, bokehme.Options(radius=40), segmenter)
    bokehme.write_photo("portrait_bokeh.jpg", result.image, source=photo)
"""

__version__ = "0.1.0"

from .photo_io import Photo, PhotoError, read_photo, write_photo  # noqa: E402
from .pipeline import NoSubjectError, Options, Rendering, render  # noqa: E402
from .segment import SegmentationError, Segmenter, load_segmenter  # noqa: E402

__all__ = [
    "NoSubjectError",
    "Options",
    "Photo",
    "PhotoError",
    "Rendering",
    "SegmentationError",
    "Segmenter",
    "load_segmenter",
    "read_photo",
    "render",
    "write_photo",
]
