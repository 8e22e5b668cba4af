"""The one interface every segmentation backend has: image in, subject probability out."""

from ..imaging.subject import anchored, check_classes, select_subject

__all__ = [
    "VOC_CLASSES",
    "Segmenter",
    "SegmentationError",
    "WeightsNotFound",
    "DeviceUnavailable",
    "ModelFallback",
]

#: The 21 PASCAL VOC classes in their usual order, background first.
VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus",
    "car", "cat", "chair", "cow", "diningtable", "dog", "horse", "motorbike",
    "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)


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


class Segmenter:
    """Base of every backend.

    Attributes
    ----------
    name : str
        The model's name (see :data:`bokehme.models.MODEL_NAMES`).
    labels : tuple of str
        Class names, ``labels[0]`` is always ``"background"``.
    """

    name = ""
    labels = ("background",)

    def class_probabilities(self, image):
        """Per-class probabilities of an image.

        Parameters
        ----------
        image : (H, W, 3) float32 ndarray
            sRGB image in [0, 1] at full resolution.

        Returns
        -------
        probabilities : (C, h, w) float32 ndarray
            Probabilities at the model's resolution, summing to 1 over C.
        """
        raise NotImplementedError

    def subject_probability(self, image, subject="person", people="near"):
        """Probability that each pixel belongs to the subject.

        Parameters
        ----------
        image : (H, W, 3) float32 ndarray
            sRGB image in [0, 1].
        subject : str or sequence of str
            Class names, or ``"auto"``; see
            :func:`bokehme.imaging.subject.select_subject`.
        people : {"near", "main", "all"}
            Which people a ``"person"`` subject is: the main person and those
            as near to the camera, the main person alone, or everyone
            (:func:`bokehme.imaging.subject.people_in_focus`).

        Returns
        -------
        probability : (h, w) float32 ndarray
            In [0, 1], at the model's resolution (same aspect as ``image``).

        Raises
        ------
        bokehme.imaging.subject.UnknownClassError
            If the model does not know a class of `subject`.
        """
        check_classes(subject, self.labels)
        return anchored(select_subject(self.class_probabilities(image), self.labels, subject, people))
