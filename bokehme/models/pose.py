"""MediaPipe's pose model with its person mask, bundled in the mediapipe wheel: one person, offline."""

import numpy as np
from skimage import data

from ..imaging.resample import resize_image_to_uint8, resize_map, size_for_long_side
from .mediapipe_runtime import native_stderr_silenced

__all__ = ["PersonPose", "POSE_LONG_SIDE"]

#: Long side a crop is shrunk to before the pose graph sees it; the graph
#: itself looks at 256 px around the person, and its mask comes back at
#: the size it was given.
POSE_LONG_SIDE = 512


class PersonPose:
    """One person's mask from MediaPipe Pose (``pose_landmark_full``, in the mediapipe wheel).

    The pose graph finds the most prominent person in what it is shown and
    segments that person alone: where semantic segmentation sees one region
    of "person" for a performer and the audience touching them, this mask is
    the performer's.
    """

    def __init__(self):
        with native_stderr_silenced():
            from mediapipe.python.solutions import pose

            self._graph = pose.Pose(static_image_mode=True, model_complexity=1, enable_segmentation=True)
            # The first frame loads the networks and logs, and the first
            # person found logs a warning once: both stay out of the terminal.
            self._graph.process(np.ascontiguousarray(data.astronaut()[:, 96:480]))

    def __call__(self, image, shape):
        """The most prominent person's mask.

        Parameters
        ----------
        image : (H, W, 3) float32 ndarray
            sRGB in [0, 1]: a photo, or the crop of one around a person.
        shape : (int, int)
            The (h, w) the mask is wanted at.

        Returns
        -------
        mask : (h, w) float32 ndarray or None
            The person's probability in [0, 1]; None when no person is found.
        """
        pixels = resize_image_to_uint8(image, size_for_long_side(image.shape, POSE_LONG_SIDE))
        found = self._graph.process(pixels)
        if found.segmentation_mask is None:
            return None
        return np.clip(resize_map(np.array(found.segmentation_mask), shape), 0.0, 1.0)
