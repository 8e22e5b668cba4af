"""torchvision's DeepLabV3 variants with their COCO_WITH_VOC_LABELS weights."""

import os
from pathlib import Path

import torch

from ..imaging.resample import resize_image
from .base import VOC_CLASSES, SegmentationError, Segmenter

__all__ = ["TorchvisionDeepLab", "TORCHVISION_VARIANTS", "TORCHVISION_SHORT_SIDE", "torchvision_checkpoint"]

#: torchvision's DeepLabV3 variants: constructor and weights enum names.
TORCHVISION_VARIANTS = {
    "deeplabv3-mobilenet": ("deeplabv3_mobilenet_v3_large", "DeepLabV3_MobileNet_V3_Large_Weights"),
    "deeplabv3-resnet50": ("deeplabv3_resnet50", "DeepLabV3_ResNet50_Weights"),
    "deeplabv3-resnet101": ("deeplabv3_resnet101", "DeepLabV3_ResNet101_Weights"),
}

#: Short side torchvision's DeepLabV3 weights were trained and evaluated at.
TORCHVISION_SHORT_SIDE = 520

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def torchvision_checkpoint(name):
    """Where torchvision keeps `name`'s weights and where it downloads them from.

    Returns
    -------
    path : Path
        In torchvision's cache, ``$TORCH_HOME/hub/checkpoints``.
    url : str
        The URL of the ``COCO_WITH_VOC_LABELS_V1`` entry of the weights enum.
    """
    import torchvision.models.segmentation as segmentation

    _, enum_name = TORCHVISION_VARIANTS[name]
    url = getattr(segmentation, enum_name).COCO_WITH_VOC_LABELS_V1.url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url), url


class TorchvisionDeepLab(Segmenter):
    """torchvision's DeepLabV3 with COCO_WITH_VOC_LABELS weights (21 VOC classes).

    Parameters
    ----------
    name : str
        A key of :data:`TORCHVISION_VARIANTS`.
    state_dict : dict
        The weights; loaded strictly, so untrained layers can never run.
    device : str
        ``"cpu"`` or ``"cuda"`` (half precision).
    """

    labels = VOC_CLASSES

    def __init__(self, name, state_dict, device="cpu"):
        import torchvision.models.segmentation as segmentation

        constructor, _ = TORCHVISION_VARIANTS[name]
        self.name = name
        self.device = torch.device(device)
        aux = any(key.startswith("aux_classifier.") for key in state_dict)
        # weights=None builds the bare architecture; it is only ever used
        # after a strict load of real weights below.
        model = getattr(segmentation, constructor)(
            weights=None, weights_backbone=None, num_classes=len(VOC_CLASSES), aux_loss=aux
        )
        try:
            model.load_state_dict(state_dict, strict=True)
        except RuntimeError as error:
            first = str(error).splitlines()[1].strip() if "\n" in str(error) else str(error)
            raise SegmentationError(f"weights do not fit {name}: {first}") from None
        self.half = self.device.type == "cuda"
        # oneDNN's convolutions are faster channels-last, on the CPU as on a GPU.
        model = model.eval().to(self.device, memory_format=torch.channels_last)
        self.model = model.half() if self.half else model

    def class_probabilities(self, image):
        h, w = image.shape[:2]
        scale = TORCHVISION_SHORT_SIDE / min(h, w)
        batch = resize_image(image, (max(1, round(h * scale)), max(1, round(w * scale))))
        mean = torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1)
        batch = ((batch - mean) / std).to(self.device, memory_format=torch.channels_last)
        with torch.inference_mode():
            logits = self.model(batch.half() if self.half else batch)["out"]
            return torch.softmax(logits.float(), dim=1)[0].cpu().numpy()
