"""MediaPipe selfie segmentation, bundled in the mediapipe wheel: people, offline."""

import numpy as np

from ..imaging.resample import resize_image_to_uint8, size_for_long_side
from .base import Segmenter
from .catalog import PEOPLE
from .mediapipe_runtime import ImageGraph, native_stderr_silenced

__all__ = ["SelfieSegmenter", "SELFIE_LONG_SIDE"]

#: Long side the selfie model's input is shrunk to: the network's own 256 px.
#: A larger input only makes MediaPipe shrink it again and enlarge the mask
#: it gives back, which the steps after it then pay for.
SELFIE_LONG_SIDE = 256

# MediaPipe's selfie segmentation graph, as its Python solution runs it.
_GRAPH = "mediapipe/modules/selfie_segmentation/selfie_segmentation_cpu.binarypb"


class SelfieSegmenter(Segmenter):
    """MediaPipe selfie segmentation (bundled in the mediapipe wheel, offline).

    People only; its landscape model is trained on head-and-shoulders shots
    and scored best on the devset's portraits.

    Parameters
    ----------
    landscape : bool
        The landscape model (256x144) rather than the general one (256x256).
    """

    name = "selfie"
    labels = PEOPLE
    long_side = SELFIE_LONG_SIDE

    def __init__(self, landscape=True):
        with native_stderr_silenced():
            self._graph = ImageGraph(_GRAPH, {"model_selection": int(landscape)}, "segmentation_mask")
            # The first frame loads the network and logs; keep that out of the user's terminal.
            self._graph.process(np.full((144, 256, 3), 128, np.uint8))

    def class_probabilities(self, image):
        pixels = resize_image_to_uint8(image, size_for_long_side(image.shape, SELFIE_LONG_SIDE))
        person = np.clip(self._graph.process(pixels), 0.0, 1.0).astype(np.float32)
        return np.stack([1.0 - person, person])
