"""The models bokehme knows by name, what each can find, and why one cannot be had.

All of it is known before any weights are loaded, so the command line can
check a subject against the chosen model at once; nothing here imports a
network library.
"""

__all__ = [
    "MODEL_NAMES",
    "VOC_CLASSES",
    "PEOPLE",
    "model_labels",
    "SegmentationError",
    "WeightsNotFound",
    "DeviceUnavailable",
    "ModelFallback",
]

MODEL_NAMES = (
    "auto",
    "deeplabv3-mobilenetv2",
    "deeplabv3-mobilenet",
    "deeplabv3-resnet50",
    "deeplabv3-resnet101",
    "selfie",
)

#: The 21 PASCAL VOC classes in their usual order, background first.
VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus",
    "car", "cat", "chair", "cow", "diningtable", "dog", "horse", "motorbike",
    "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)

#: The labels of a people-only model (the selfie segmentation).
PEOPLE = ("background", "person")


def model_labels(model):
    """The classes a model can find, background first.

    ``"auto"`` ends up with a DeepLabV3 model when weights are found and with
    the selfie model otherwise: what it may find is the larger set, and a
    subject outside it is found by no model at all.
    """
    if model not in MODEL_NAMES:
        raise SegmentationError(f"unknown model {model!r}; choose one of {', '.join(MODEL_NAMES)}")
    return PEOPLE if model == "selfie" else VOC_CLASSES


class SegmentationError(Exception):
    """A model cannot be used as asked; ``str(error)`` is one line."""


class WeightsNotFound(SegmentationError):
    """No weights for a model are cached and none can be downloaded.

    Attributes
    ----------
    model : str
        The model's name.
    """

    def __init__(self, model):
        self.model = model
        super().__init__(f"no weights for {model}: none cached and no network")


class DeviceUnavailable(SegmentationError):
    """The device asked for is not present.

    Attributes
    ----------
    device : str
    """

    def __init__(self, device):
        self.device = device
        super().__init__(f"no {device.upper()} device is available")


class ModelFallback(UserWarning):
    """``auto`` found no DeepLabV3 weights and uses another model.

    Attributes
    ----------
    used : str
        The name of the model used instead.
    """

    def __init__(self, used):
        self.used = used
        super().__init__(f"no DeepLabV3 weights cached and no network: using the {used} model")
