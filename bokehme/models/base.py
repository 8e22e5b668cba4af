"""The one interface every segmentation backend has: image in, subject probability out."""

from ..imaging.classes import check_classes
from ..imaging.subject import anchored, select_subject
from .catalog import VOC_CLASSES, DeviceUnavailable, ModelFallback, SegmentationError, WeightsNotFound

__all__ = [
    "VOC_CLASSES",
    "Segmenter",
    "SegmentationError",
    "WeightsNotFound",
    "DeviceUnavailable",
    "ModelFallback",
]


class Segmenter:
    """Base of every backend.

    Attributes
    ----------
    name : str
        The model's name (see :data:`bokehme.models.MODEL_NAMES`).
    labels : tuple of str
        Class names, ``labels[0]`` is always ``"background"``.
    long_side : int or None
        The long side every image is shrunk to before the network sees it,
        for a model that sees nothing else: an image handed over already
        that small is seen as it is, so a caller that needs the shrunk image
        too shrinks it once.  None for a model that looks at more.
    """

    name = ""
    labels = ("background",)
    long_side = None

    def class_probabilities(self, image):
        """Per-class probabilities of an image.

        Parameters
        ----------
        image : (H, W, 3) ndarray
            sRGB image at full resolution: float32 in [0, 1], or uint8 in
            [0, 255] as video frames come (resized in integer arithmetic,
            :func:`bokehme.imaging.resample.resize_image`).

        Returns
        -------
        probabilities : (C, h, w) float32 ndarray
            Probabilities at the model's resolution, summing to 1 over C; a
            new array at each call, which the caller may write into.
        """
        raise NotImplementedError

    def subject_probability(self, image, subject="person", people="near"):
        """Probability that each pixel belongs to the subject.

        Parameters
        ----------
        image : (H, W, 3) ndarray
            sRGB image, float32 in [0, 1] or uint8 in [0, 255].
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
