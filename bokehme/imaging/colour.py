"""sRGB transfer curves and the highlight boost, on float32 arrays and tensors.

Every function here takes a NumPy array or a torch tensor and returns the
same kind: arrays for callers that work in NumPy, tensors for the blur's
inner loops, which stay in torch.
"""

import cv2
import numpy as np
import torch

__all__ = [
    "srgb_to_linear",
    "linear_to_srgb",
    "boost_highlights",
    "to_light",
    "light_from_8bit",
    "float_srgb",
    "colours_at",
    "channel_views",
    "srgb_array",
]

#: How much brighter, at amount 1, a fully clipped highlight is made.
HIGHLIGHT_GAIN = 8.0


def _as_tensor(x):
    """(tensor, whether to hand back an array) for an array or a tensor."""
    if isinstance(x, torch.Tensor):
        return x, False
    return torch.from_numpy(np.asarray(x, dtype=np.float32)), True


def float_srgb(x):
    """sRGB values as float32 in [0, 1]: 8-bit ones (a video frame) scaled by 1/255.

    The Tensor counterpart of :func:`bokehme.imaging.samples.to_unit_float`.

    Parameters
    ----------
    x : Tensor
        float32 values in [0, 1], or uint8 values in [0, 255].

    Returns
    -------
    Tensor
        float32, same shape: `x` itself when it is float32, else a new
        tensor.  An 8-bit value ``v`` becomes ``v * float32(1 / 255)``, the
        same wherever a photo or frame is read.
    """
    if x.dtype == torch.uint8:
        scaled = x.float()
        scaled *= np.float32(1 / 255)
        return scaled
    return x


def colours_at(image, index):
    """The colours of an image's pixels at flat indices, as colour planes.

    Parameters
    ----------
    image : ndarray
        (H, W, 3) C-contiguous float32 sRGB in [0, 1], or uint8 read as
        ``v / 255``.
    index : Tensor
        (N,) int64 flat (row-major) pixel indices.

    Returns
    -------
    Tensor
        (3, N) float32, a new tensor.

    Notes
    -----
    Per-pixel arithmetic over a few pixels' colours is several times faster
    on planes than on (N, 3) rows, whose colours torch broadcasts one at a
    time.
    """
    values = torch.from_numpy(image)
    planes = torch.empty((3, len(index)), dtype=values.dtype)
    for channel, plane in zip(channel_views(values, 3), planes):
        torch.index_select(channel, 0, index, out=plane)
    return float_srgb(planes)


def channel_views(pixels, count):
    """The `count` channels of contiguous interleaved `pixels` (a Tensor), each a strided 1-d view.

    Values go in or out a channel at a time: torch gathers and scatters
    single values faster than rows of a few, and colour planes need no
    transposing.
    """
    flat = pixels.view(-1)
    return [flat[channel::count] for channel in range(count)]


def srgb_array(image):
    """A contiguous array of sRGB values: 8-bit ones kept as they are, others as float32.

    Lets the functions that take a photo also take a video frame as it is
    decoded, without a full-size float copy of it.
    """
    if isinstance(image, np.ndarray) and image.dtype == np.uint8:
        return np.ascontiguousarray(image)
    return np.ascontiguousarray(image, dtype=np.float32)


def srgb_to_linear(x):
    """Decode sRGB values into linear light (IEC 61966-2-1).

    Parameters
    ----------
    x : ndarray or Tensor
        float32 sRGB-encoded values in [0, 1], any shape.

    Returns
    -------
    ndarray or Tensor
        float32 linear-light values, same shape and kind, newly allocated.
    """
    t, as_array = _as_tensor(x)
    curve = t + 0.055
    curve.mul_(1 / 1.055).clamp_(min=0).pow_(2.4)
    out = torch.where(t <= 0.04045, t * (1 / 12.92), curve)
    return out.numpy() if as_array else out


def linear_to_srgb(x):
    """Encode linear light as sRGB values (IEC 61966-2-1).

    Parameters
    ----------
    x : ndarray or Tensor
        float32 linear-light values, any shape; values outside [0, 1] are clipped.

    Returns
    -------
    ndarray or Tensor
        float32 sRGB values in [0, 1], same shape and kind.
    """
    t, as_array = _as_tensor(x)
    t = t.clamp(0, 1)
    # Written as p + 0.055 (p - 1) so that 1 encodes to exactly 1.
    power = t.pow(1 / 2.4)
    curve = power.sub(1).mul_(0.055).add_(power)
    out = torch.where(t <= 0.0031308, t * 12.92, curve)
    return out.numpy() if as_array else out


def boost_highlights(linear, amount, threshold=0.6):
    """Make near-clipped highlights brighter so they bloom into bokeh discs.

    A clipped street lamp stored as 1.0 was really many times brighter;
    spread over a large disc at its stored value it would turn grey.

    Parameters
    ----------
    linear : ndarray or Tensor
        (H, W, 3) or (H, W) float32 linear-light values.
    amount : float
        Strength; 0 returns `linear` unchanged, 1 makes a fully clipped
        pixel ``1 + HIGHLIGHT_GAIN`` times brighter.
    threshold : float, optional
        Linear value (of the brightest channel) where boosting starts.

    Returns
    -------
    ndarray or Tensor
        float32 values, same shape and kind; may exceed 1.
    """
    if not amount:
        return linear
    t, as_array = _as_tensor(linear)
    peak = t.amax(dim=-1, keepdim=True) if t.dim() == 3 else t
    ramp = ((peak - threshold) / (1 - threshold)).clamp_(0, 1)
    out = t * (1 + amount * HIGHLIGHT_GAIN * ramp * ramp)
    return out.numpy() if as_array else out


def to_light(srgb, highlights=0.0):
    """sRGB values to the linear light a lens blurs, highlights boosted by `highlights`.

    Parameters
    ----------
    srgb : Tensor
        float32 sRGB values in [0, 1] (clipped to it), or uint8 values in
        [0, 255] (a video frame), read as ``v / 255``; any shape, but with
        `highlights` colours on the last axis.
    highlights : float, optional
        :func:`boost_highlights` amount; 0 for none.

    Returns
    -------
    Tensor
        float32, a new tensor.

    Notes
    -----
    The values are decoded by looking them up in a table of
    :func:`srgb_to_linear` over [0, 1] in :data:`LIGHT_TABLE_STEPS` steps
    (indexed by 16-bit integers, whose entries past 1 hold 1), a few times
    faster than the transfer curve's power on every pixel of a photo.
    The table holds 16 steps per 8-bit level, so 8-bit values (JPEGs, video
    frames) are decoded exactly and finer ones to within half a step, far
    below what a blur over many pixels can show.
    """
    if srgb.dtype == torch.uint8:
        light = light_from_8bit(srgb)
        return boost_highlights(light, highlights) if highlights else light
    values = np.ascontiguousarray(srgb.numpy())
    if values.size == 0:
        return torch.zeros(values.shape)
    flat = values.reshape(-1, values.shape[-1]) if values.ndim != 2 else values
    # One pass scales, rounds and saturates to 16 bits; the table's entries
    # past 1 hold 1, so values above it come out clipped.
    index = cv2.addWeighted(flat, float(LIGHT_TABLE_STEPS), flat, 0.0, 0.0, dtype=cv2.CV_16U)
    # torch gathers by 32-bit indices faster than numpy by 16-bit ones.
    index = torch.from_numpy(index.astype(np.int32)).view(-1)
    light = torch.from_numpy(_LIGHT_TABLE).index_select(0, index).view(values.shape)
    if highlights:
        light = boost_highlights(light, highlights)
    return light


#: Steps of :func:`to_light`'s table: 16 per 8-bit level.
LIGHT_TABLE_STEPS = 16 * 255
_LIGHT_TABLE = srgb_to_linear(np.minimum(np.arange(1 << 16, dtype=np.float32) / np.float32(LIGHT_TABLE_STEPS), 1))


def light_from_8bit(srgb):
    """8-bit sRGB values to linear light, exactly as :func:`to_light` decodes ``v / 255``.

    Parameters
    ----------
    srgb : Tensor
        (..., C) uint8 sRGB values in [0, 255].

    Returns
    -------
    Tensor
        float32 linear light in [0, 1], same shape, a new tensor.

    Notes
    -----
    Every 8-bit level is an entry of :func:`to_light`'s table, so a
    256-entry table of them decodes 8-bit pixels without rounding them to
    float first: one pass that reads a byte and writes a float.
    """
    values = np.ascontiguousarray(srgb.numpy())
    if values.size == 0:
        return torch.zeros(values.shape)
    # OpenCV looks up at most 512 channels at once; whole rows of pixels
    # are one channel.
    flat = values.reshape(-1, 1)
    return torch.from_numpy(cv2.LUT(flat, _LIGHT_FROM_8BIT).reshape(values.shape))


#: :func:`to_light`'s entries at the 8-bit levels.
_LIGHT_FROM_8BIT = np.ascontiguousarray(_LIGHT_TABLE[:LIGHT_TABLE_STEPS + 1:16])
