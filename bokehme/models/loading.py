"""Loading a segmentation backend by name, once per run."""

from pathlib import Path

import torch

from .catalog import MODEL_NAMES, DeviceUnavailable, ModelFallback, SegmentationError, WeightsNotFound
from .mobilenetv2_deeplab import MobileNetV2DeepLab
from .people import PeopleSegmenter
from .pose import PersonPose
from .salient import SalientObject, salient_weights
from .selfie import SelfieSegmenter
from .tflite import is_tflite
from .torchvision_deeplab import TORCHVISION_VARIANTS, TorchvisionDeepLab
from . import weights as weight_files

__all__ = ["MODEL_NAMES", "load_segmenter", "resolve_device"]

def _build(name, weights, device):
    weights = Path(weights)
    if not weights.is_file():
        raise SegmentationError(f"weights file not found: {weights}")
    if is_tflite(weights):
        if name not in ("auto", "deeplabv3-mobilenetv2"):
            raise SegmentationError(f"{weights} is DeepLabV3-MobileNetV2 weights, not {name}")
        return MobileNetV2DeepLab.from_weights(weight_files.mobilenetv2_weights(weights), device)
    state = weight_files.load_state_dict(weights)
    fits = weight_files.model_of_state_dict(state)
    if name == "auto":
        name = fits
    if name == "deeplabv3-mobilenetv2":
        return MobileNetV2DeepLab.from_weights(state, device)
    return TorchvisionDeepLab(name, state, device)


def resolve_device(device="auto"):
    """``"auto"`` becomes ``"cuda"`` when a CUDA device is present, else ``"cpu"``.

    Raises
    ------
    DeviceUnavailable
        For ``"cuda"`` without a CUDA device.
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable("cuda")
    return device


def load_segmenter(model="auto", weights=None, device="auto", warn=None):
    """Load a segmentation backend, once per run.

    Parameters
    ----------
    model : str
        One of :data:`MODEL_NAMES`.
    weights : path-like, optional
        A weights file: the DeepLabV3-MobileNetV2 ``.tflite`` (or its converted
        state_dict), or a torchvision DeepLabV3 state_dict.  Without it, weights
        are looked up as :func:`bokehme.models.weights.find_weights` says.
    device : {"auto", "cpu", "cuda"}
    warn : callable, optional
        Called with a :class:`~bokehme.models.base.ModelFallback` when
        ``"auto"`` falls back to the selfie model.

    Returns
    -------
    segmenter : bokehme.models.base.Segmenter

    Raises
    ------
    SegmentationError
        Weights missing (:class:`~bokehme.models.base.WeightsNotFound`),
        unreadable or for another model; no such device.
    """
    if model not in MODEL_NAMES:
        raise SegmentationError(f"unknown model {model!r}; choose one of {', '.join(MODEL_NAMES)}")
    device = resolve_device(device)
    if model == "selfie":
        return SelfieSegmenter()
    if weights is not None:
        segmenter = _build(model, weights, device)
    elif model != "auto":
        found = weight_files.find_weights(model)
        if found is None:
            raise WeightsNotFound(model)
        return _build(model, found, device)
    else:
        segmenter = _find_any_deeplab(device)
        if segmenter is None:
            if warn is not None:
                warn(ModelFallback("selfie"))
            return SelfieSegmenter()
    if model == "auto" and segmenter.name == "deeplabv3-mobilenetv2":
        found = salient_weights()
        return PeopleSegmenter(segmenter, SelfieSegmenter(), PersonPose(),
                               salient=None if found is None else SalientObject(found))
    return segmenter


def _find_any_deeplab(device):
    """DeepLabV3-MobileNetV2 if found or downloadable, else a torchvision variant
    already cached (they are large: never fetched unasked), else None."""
    found = weight_files.find_weights("deeplabv3-mobilenetv2")
    if found is not None:
        return _build("deeplabv3-mobilenetv2", found, device)
    for name in TORCHVISION_VARIANTS:
        found = weight_files.find_weights(name, download=False)
        if found is not None:
            return _build(name, found, device)
    return None
