"""Everything that loads weights: segmentation backends and the face detector.

One backend per module, all behind :class:`~bokehme.models.base.Segmenter`
(image in, class probabilities out); :func:`load_segmenter` builds one by
name from the weights :mod:`~bokehme.models.weights` finds.  Backends never
download anything in their constructors.
"""

from .base import (VOC_CLASSES, DeviceUnavailable, ModelFallback, SegmentationError, Segmenter,
                   WeightsNotFound)
from .loading import MODEL_NAMES, load_segmenter, resolve_device

__all__ = [
    "MODEL_NAMES",
    "VOC_CLASSES",
    "DeviceUnavailable",
    "ModelFallback",
    "SegmentationError",
    "Segmenter",
    "WeightsNotFound",
    "load_segmenter",
    "resolve_device",
]
