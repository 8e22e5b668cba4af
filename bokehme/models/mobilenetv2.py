"""DeepLabV3 with a MobileNetV2 backbone, ported from TensorFlow's TFLite file.

The network is ``deeplabv3_257_mv_gpu.tflite`` (depth multiplier 0.5, output
stride 8, ASPP reduced to image pooling plus one 1x1 branch, 21 PASCAL VOC
classes).  Its batch-norm is already folded into the convolution biases, so
every layer here is a plain convolution with a bias.  The PyTorch graph
reproduces the TFLite one operator for operator, including TensorFlow's
``SAME`` padding and the ``align_corners=True`` bilinear upsampling of the
logits, so that it matches the original on its native 257x257 input and runs
on any other size.

Conversion reads the flatbuffer once (``state_dict_from_tflite``); callers
cache the result with ``torch.save`` and later hand the ``.pt`` file to
``load_model``, which needs no TFLite tooling.
"""

import os
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .base import VOC_CLASSES
from .tflite import TFLiteError, is_tflite, read_tflite_tensors, sha256_of

TFLITE_SHA256 = "68a539782c2c6a72f8aac3724600124a85ed977162b44e84cbae5db717c933c6"
TFLITE_URL = (
    "https://storage.googleapis.com/download.tensorflow.org/models/tflite/gpu/"
    "deeplabv3_257_mv_gpu.tflite"
)

# Inverted-residual blocks as (expansion, output channels, stride, dilation).
# At output stride 8 TF-slim turns the strides of blocks 6 and 13 into 1 and
# dilates every later depthwise convolution by the accumulated stride instead.
_BLOCKS = (
    (1, 8, 1, 1),
    (6, 12, 2, 1), (6, 12, 1, 1),
    (6, 16, 2, 1), (6, 16, 1, 1), (6, 16, 1, 1),
    (6, 32, 1, 1), (6, 32, 1, 2), (6, 32, 1, 2), (6, 32, 1, 2),
    (6, 48, 1, 2), (6, 48, 1, 2), (6, 48, 1, 2),
    (6, 80, 1, 2), (6, 80, 1, 4), (6, 80, 1, 4),
    (6, 160, 1, 4),
)
_STEM_CHANNELS = 16
_ASPP_CHANNELS = 256


class WeightsError(ValueError):
    """Raised when a weights file or state_dict does not hold this network."""


class _Stride2Conv(nn.Conv2d):
    """3x3 stride-2 convolution with TensorFlow's ``SAME`` padding.

    TensorFlow pads an even-sized side by 0 before and 1 after, an odd-sized
    side by 1 on both ends; PyTorch's symmetric padding only matches the odd
    case, so the padding is made explicit.
    """

    def __init__(self, in_channels, out_channels, groups=1):
        super().__init__(in_channels, out_channels, 3, stride=2, groups=groups)

    def forward(self, x):
        height, width = x.shape[-2:]
        return super().forward(F.pad(x, (width % 2, 1, height % 2, 1)))


def _depthwise(channels, stride, dilation):
    if stride == 2:
        return _Stride2Conv(channels, channels, groups=channels)
    return nn.Conv2d(channels, channels, 3, padding=dilation,
                     dilation=dilation, groups=channels)


class _InvertedResidual(nn.Module):
    def __init__(self, in_channels, expansion, out_channels, stride, dilation):
        super().__init__()
        hidden = in_channels * expansion
        self.expand = nn.Conv2d(in_channels, hidden, 1) if expansion != 1 else None
        self.depthwise = _depthwise(hidden, stride, dilation)
        self.project = nn.Conv2d(hidden, out_channels, 1)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x):
        y = x if self.expand is None else F.relu6(self.expand(x), inplace=True)
        y = self.project(F.relu6(self.depthwise(y), inplace=True))
        return y + x if self.residual else y


class DeepLabV3MobileNetV2(nn.Module):
    """DeepLabV3-MobileNetV2 (depth 0.5, output stride 8) for 21 VOC classes.

    ``forward`` takes ``x`` of shape (N, 3, H, W), float32 RGB in [-1, 1],
    any H and W, and returns logits of shape (N, 21, H, W).  Sides of the
    form 8k + 1 align the feature grid exactly with the input pixels, as the
    model was trained.
    """

    def __init__(self):
        super().__init__()
        self.stem = _Stride2Conv(3, _STEM_CHANNELS)
        blocks = []
        channels = _STEM_CHANNELS
        for expansion, out_channels, stride, dilation in _BLOCKS:
            blocks.append(_InvertedResidual(channels, expansion, out_channels,
                                            stride, dilation))
            channels = out_channels
        self.blocks = nn.Sequential(*blocks)
        self.image_pooling = nn.Conv2d(channels, _ASPP_CHANNELS, 1)
        self.aspp0 = nn.Conv2d(channels, _ASPP_CHANNELS, 1)
        self.concat_projection = nn.Conv2d(2 * _ASPP_CHANNELS, _ASPP_CHANNELS, 1)
        self.logits = nn.Conv2d(_ASPP_CHANNELS, len(VOC_CLASSES), 1)
        # oneDNN's depthwise and 1x1 convolutions run about twice as fast on
        # channels-last tensors on the CPU; loading weights keeps this layout.
        self.to(memory_format=torch.channels_last)

    def forward(self, x):
        x = x.contiguous(memory_format=torch.channels_last)
        features = self.blocks(F.relu6(self.stem(x), inplace=True))
        # Image pooling is the mean over the whole feature map; resizing its
        # 1x1 result is a broadcast.
        pooled = F.relu(self.image_pooling(features.mean((2, 3), keepdim=True)))
        # The projection of the concatenation (pooled broadcast, aspp0) is
        # the sum of the two halves' projections, and the pooled half is the
        # same at every pixel: computing it once saves a fifth of the work.
        weight = self.concat_projection.weight
        projection = (F.conv2d(F.relu(self.aspp0(features)), weight[:, _ASPP_CHANNELS:])
                      + F.conv2d(pooled, weight[:, :_ASPP_CHANNELS],
                                 self.concat_projection.bias))
        logits = self.logits(F.relu(projection))
        # Back to planar classes while the map is small: a softmax over the
        # class axis of a channels-last result is several times slower.
        return F.interpolate(logits.contiguous(), size=x.shape[-2:], mode="bilinear",
                             align_corners=True)


def _tflite_names():
    """Map each state_dict key to its TFLite tensor name and layout."""
    names = {"stem": ("MobilenetV2/Conv", "weights", "dense")}
    for i, (expansion, *_) in enumerate(_BLOCKS):
        scope = "MobilenetV2/expanded_conv" + (f"_{i}" if i else "")
        if expansion != 1:
            names[f"blocks.{i}.expand"] = (f"{scope}/expand", "weights", "dense")
        names[f"blocks.{i}.depthwise"] = (f"{scope}/depthwise",
                                          "depthwise_weights", "depthwise")
        names[f"blocks.{i}.project"] = (f"{scope}/project", "weights", "dense")
    for head in ("image_pooling", "aspp0", "concat_projection"):
        names[head] = (head, "weights", "dense")
    names["logits"] = ("logits/semantic", "weights", "dense")
    mapping = {}
    for module, (scope, weights, layout) in names.items():
        bias = "depthwise_bias" if layout == "depthwise" else "Conv2D_bias"
        mapping[f"{module}.weight"] = (f"{scope}/{weights}", layout)
        mapping[f"{module}.bias"] = (f"{scope}/{bias}", "bias")
    return mapping


_TFLITE_DTYPES = {0: np.float32, 2: np.int32}


def state_dict_from_tflite(path):
    """Convert the TFLite file into a state_dict for `DeepLabV3MobileNetV2`.

    Parameters
    ----------
    path : str or os.PathLike
        ``deeplabv3_257_mv_gpu.tflite`` (see `TFLITE_URL`).

    Returns
    -------
    state_dict : dict of str to torch.Tensor
        float32 weights in PyTorch's layout, ready for `load_model` or
        ``torch.save``.

    Raises
    ------
    WeightsError
        If the file is not a TFLite flatbuffer, is not the published file
        (sha256 differs), or lacks a tensor or holds one of the wrong shape.
    """
    name = os.fspath(path)
    if not is_tflite(path):
        raise WeightsError(f"{name}: not a TFLite flatbuffer")
    # Checked before parsing, so that a damaged file fails with this message
    # rather than somewhere inside the flatbuffer reader.
    digest = sha256_of(path)
    if digest != TFLITE_SHA256:
        raise WeightsError(f"{name}: sha256 {digest} is not the expected "
                           f"{TFLITE_SHA256} of deeplabv3_257_mv_gpu.tflite")
    try:
        tensors = read_tflite_tensors(path)
    except TFLiteError as error:
        raise WeightsError(str(error)) from None
    expected = DeepLabV3MobileNetV2().state_dict()
    state_dict = {}
    for key, (tensor_name, layout) in _tflite_names().items():
        if tensor_name not in tensors:
            raise WeightsError(f"{name}: tensor {tensor_name!r} is missing")
        array = tensors[tensor_name]
        if layout == "dense":
            array = array.transpose(0, 3, 1, 2)  # OHWI -> OIHW
        elif layout == "depthwise":
            array = array.transpose(3, 0, 1, 2)  # 1HWC -> C1HW
        if array.shape != tuple(expected[key].shape):
            raise WeightsError(f"{name}: tensor {tensor_name!r} has shape "
                               f"{tensors[tensor_name].shape}, which does not "
                               f"fit {key} {tuple(expected[key].shape)}")
        state_dict[key] = torch.from_numpy(np.ascontiguousarray(array, np.float32))
    return state_dict


def _check_state_dict(state_dict, expected, source):
    if not isinstance(state_dict, dict):
        raise WeightsError(f"{source}: holds a {type(state_dict).__name__}, "
                           "not a state_dict")
    missing = [key for key in expected if key not in state_dict]
    if missing:
        raise WeightsError(f"{source}: {len(missing)} missing key(s), "
                           f"first {missing[0]!r}")
    unexpected = [key for key in state_dict if key not in expected]
    if unexpected:
        raise WeightsError(f"{source}: {len(unexpected)} unexpected key(s), "
                           f"first {unexpected[0]!r}")
    for key, value in state_dict.items():
        if not isinstance(value, torch.Tensor):
            raise WeightsError(f"{source}: {key} is a {type(value).__name__}, "
                               "not a tensor")
        if value.shape != expected[key].shape:
            raise WeightsError(f"{source}: {key} has shape {tuple(value.shape)}, "
                               f"expected {tuple(expected[key].shape)}")


def load_model(state_dict_or_path):
    """Build the network with its weights, ready for inference.

    Parameters
    ----------
    state_dict_or_path : dict or str or os.PathLike
        The ``.tflite`` file, a ``torch.save``'d state_dict converted by
        `state_dict_from_tflite` (the fast path), or such a state_dict.

    Returns
    -------
    model : DeepLabV3MobileNetV2
        In eval mode, on the CPU, float32.

    Raises
    ------
    WeightsError
        If the file cannot be read as either format, or the keys or shapes of
        the weights do not match the network.
    """
    if isinstance(state_dict_or_path, dict):
        source, state_dict = "state_dict", state_dict_or_path
    else:
        source = os.fspath(state_dict_or_path)
        if is_tflite(source):
            state_dict = state_dict_from_tflite(source)
        else:
            try:
                state_dict = torch.load(source, map_location="cpu",
                                        weights_only=True)
            except Exception as error:
                first_line = (str(error).splitlines() or [""])[0]
                raise WeightsError(f"{source}: neither a TFLite file nor a torch "
                                   f"state_dict ({type(error).__name__}: "
                                   f"{first_line})") from error
    model = DeepLabV3MobileNetV2()
    _check_state_dict(state_dict, model.state_dict(), source)
    model.load_state_dict({k: v.float() for k, v in state_dict.items()})
    return model.eval()


def inference_size(height, width, long_side=513):
    """Size at which to run the network on an image, aspect ratio kept.

    Parameters
    ----------
    height, width : int
        Size of the image in pixels.
    long_side : int
        Long side of the result; of the form 8k + 1.

    Returns
    -------
    size : tuple of int
        (height, width), each of the form 8k + 1, the longer one `long_side`.
    """
    if long_side < 9 or long_side % 8 != 1:
        raise ValueError(f"long_side must be 8k + 1 and at least 9, got {long_side}")
    scale = (long_side - 1) / max(height, width)
    return tuple(max(int(round(side * scale / 8)), 1) * 8 + 1
                 for side in (height, width))


def class_probabilities(model, image, long_side=513):
    """Per-class probabilities of a photo at the network's working size.

    Parameters
    ----------
    model : DeepLabV3MobileNetV2
        From `load_model`.
    image : np.ndarray
        (H, W, 3) uint8 RGB.
    long_side : int
        Long side of the inference size, of the form 8k + 1; see
        `inference_size`.

    Returns
    -------
    probabilities : np.ndarray
        (21, h, w) float32 in [0, 1], summing to 1 over the classes of
        `VOC_CLASSES`, at the inference size (h, w), which covers the whole
        image with the same aspect ratio (pixel-centre aligned).
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
    size = inference_size(*image.shape[:2], long_side=long_side)
    with torch.inference_mode(), warnings.catch_warnings():
        # Arrays from PIL are read-only; torch warns although it only reads.
        warnings.filterwarnings("ignore", "The given NumPy array is not writable")
        x = torch.from_numpy(image).permute(2, 0, 1)[None]
        # Shrinking in uint8 avoids a float copy of a full-resolution photo;
        # antialiasing keeps fine texture from aliasing into the small input.
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False,
                          antialias=True)
        x = x.float().mul_(1 / 127.5).sub_(1)
        # The input follows the model onto its device and precision (half on CUDA).
        parameter = next(model.parameters())
        x = x.to(parameter.device, parameter.dtype)
        return model(x)[0].float().softmax(0).cpu().numpy()
