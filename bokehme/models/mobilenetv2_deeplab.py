"""DeepLabV3-MobileNetV2 from TensorFlow's published weights, as a segmentation backend."""

import torch

from ..imaging.resample import resize_image_to_uint8
from . import mobilenetv2
from .base import VOC_CLASSES, SegmentationError, Segmenter

__all__ = ["MobileNetV2DeepLab", "MOBILENETV2_LONG_SIDE"]

#: Long side of the DeepLabV3-MobileNetV2 input, chosen on the devset (README, "Models").
MOBILENETV2_LONG_SIDE = 513


class MobileNetV2DeepLab(Segmenter):
    """DeepLabV3-MobileNetV2 (PASCAL VOC) from TensorFlow's published weights, in PyTorch.

    Parameters
    ----------
    model : bokehme.models.mobilenetv2.DeepLabV3MobileNetV2
        The network with its weights loaded.
    long_side : int
        Long side of the network's input, of the form 8k + 1.
    device : str
        ``"cpu"`` or ``"cuda"`` (half precision).
    """

    name = "deeplabv3-mobilenetv2"
    labels = VOC_CLASSES

    def __init__(self, model, long_side=MOBILENETV2_LONG_SIDE, device="cpu"):
        device = torch.device(device)
        self.model = model.to(device).half() if device.type == "cuda" else model
        self.long_side = long_side

    @classmethod
    def from_weights(cls, weights, device="cpu"):
        """Build from the .tflite file, its converted state_dict (path), or a state_dict."""
        try:
            return cls(mobilenetv2.load_model(weights), device=device)
        except mobilenetv2.WeightsError as error:
            raise SegmentationError(str(error)) from None

    def class_probabilities(self, image):
        # Shrinking here to the network's own input size makes its resize a no-op.
        size = mobilenetv2.inference_size(*image.shape[:2], long_side=self.long_side)
        return mobilenetv2.class_probabilities(self.model, resize_image_to_uint8(image, size),
                                               long_side=self.long_side)
