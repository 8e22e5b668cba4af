"""bokehme: lens-quality background blur for ordinary photos.

The public API::

    segmenter = bokehme.load_segmenter("auto")
    photo = bokehme.read_photo("portrait.jpg")
    result = bokehme.render(photo.samples, bokehme.Options(radius=40), segmenter)
    bokehme.write_photo("portrait_bokeh.jpg", result.image, source=photo)

The layers, from the bottom: :mod:`bokehme.imaging` (pure array code),
:mod:`bokehme.models` (everything that loads weights), :mod:`bokehme.io`
(files), :mod:`bokehme.pipeline` (:func:`render`), :mod:`bokehme.job` (one
photo file in, its results out), :mod:`bokehme.batch` (many photos) and
:mod:`bokehme.cli`.  The names below are imported when first used, so that
``import bokehme`` (and ``bokehme --help``) stays quick.
"""

import importlib

__version__ = "0.1.0"

#: Where each public name lives.
_PUBLIC = {
    "FaceDetector": "bokehme.models.faces",
    "NoSubjectError": "bokehme.pipeline",
    "Options": "bokehme.options",
    "OptionsError": "bokehme.options",
    "Photo": "bokehme.io.photo",
    "PhotoError": "bokehme.io.photo",
    "PhotoJob": "bokehme.job",
    "Rendering": "bokehme.pipeline",
    "SegmentationError": "bokehme.models.base",
    "Segmenter": "bokehme.models.base",
    "load_segmenter": "bokehme.models.loading",
    "read_depth": "bokehme.io.depth_maps",
    "read_photo": "bokehme.io.read",
    "render": "bokehme.pipeline",
    "write_photo": "bokehme.io.write",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'bokehme' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
