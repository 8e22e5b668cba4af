"""Everything that loads weights: segmentation backends and the face detector.

One backend per module, all behind :class:`~bokehme.models.base.Segmenter`
(image in, class probabilities out); :func:`bokehme.models.loading.load_segmenter`
builds one by name from the weights :mod:`~bokehme.models.weights` finds.
Backends never download anything in their constructors.

Only :mod:`~bokehme.models.catalog` (names, labels, errors) is imported here:
what the command line checks before a photo is processed must not wait for
torch and MediaPipe to load.
"""

from .catalog import (MODEL_NAMES, PEOPLE, VOC_CLASSES, DeviceUnavailable, ModelFallback, SegmentationError,
                      WeightsNotFound, model_labels)

__all__ = [
    "MODEL_NAMES",
    "PEOPLE",
    "VOC_CLASSES",
    "DeviceUnavailable",
    "ModelFallback",
    "SegmentationError",
    "WeightsNotFound",
    "model_labels",
]
