"""The lens blur: a disc (or polygon) of light, in linear light, at any radius.

A real lens blurs *light*, so the blur runs on linear-light values; a bright
street lamp then spreads into a bright disc instead of a grey smudge.  Its
cost does not grow with the radius: a disc of radius ``r`` removes all detail
finer than about ``r / 4`` pixels, so the photo is reduced by ``ceil(r / 3)``,
convolved there with a small aperture kernel and upsampled (docs/lens.md).
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

from .aperture import aperture_kernel
from .colour import srgb_to_linear
from .fill import fill_holes
from .resample import block_sums, upsample

__all__ = [
    "lens_blur",
    "blur_reduced",
    "blur_block_sums",
    "weighted_block_mean",
    "reduction_for",
]

# Radius, in reduced pixels, of the aperture kernel applied after reduction;
# a larger value is more exact and slower (docs/lens.md).
_REDUCED_RADIUS = 3.0

#: Below this blurred weight (the weighted fraction of the aperture) a pixel
#: has almost no known background around it and is filled from further away.
FILL_WEIGHT = 1e-3


def _convolve(sums, kernel):
    """Depth-wise 'same' convolution of (1, C, h, w) with a 2-D kernel."""
    channels = sums.shape[1]
    weight = torch.from_numpy(kernel).expand(channels, 1, *kernel.shape).contiguous()
    return F.conv2d(sums, weight, padding=kernel.shape[0] // 2, groups=channels)


def weighted_block_mean(image, weight, scale):
    """Linear-light means of an sRGB image over ``scale``-pixel blocks.

    Parameters
    ----------
    image : Tensor
        (H, W, C) float32 sRGB values.
    weight : Tensor
        (H, W) float32 in [0, 1]: how much each pixel counts.
    scale : int
        Block size in pixels.

    Returns
    -------
    Tensor
        (1, C, ceil(H / scale), ceil(W / scale)) float32 linear-light means;
        blocks without weight are filled from weighted blocks around them.
    """
    sums = block_sums(image, weight, scale, lambda strip, top: srgb_to_linear(strip))
    return fill_holes(sums[:, :-1], sums[:, -1:], FILL_WEIGHT * scale * scale)


def reduction_for(radius):
    """Integer reduction factor at which a blur of ``radius`` is computed."""
    return max(1, math.ceil(radius / _REDUCED_RADIUS))


def blur_reduced(image, radius, *, blades=0, blade_rotation=0.0, weight=None,
                 transform=None):
    """Lens blur computed at reduced resolution; see :func:`lens_blur`.

    Parameters
    ----------
    image : Tensor
        (H, W, C) float32.
    radius, blades, blade_rotation, weight
        As for :func:`lens_blur` (``weight`` as a tensor or None).
    transform : callable, optional
        ``transform(strip, top)``: a map of each strip of rows of ``image``
        (starting at row ``top``) applied before blurring, e.g. sRGB
        decoding, so that its full-resolution result is never materialized.

    Returns
    -------
    Tensor
        (1, C, ceil(H / s), ceil(W / s)) float32 blurred values at reduction
        ``s = reduction_for(radius)``; bring back to full size with
        :func:`bokehme.imaging.resample.upsample`.
    """
    sums = block_sums(image, weight, reduction_for(radius), transform)
    return blur_block_sums(sums, radius, blades=blades, blade_rotation=blade_rotation)


def blur_block_sums(sums, radius, *, blades=0, blade_rotation=0.0):
    """Lens blur of :func:`block_sums` taken at ``reduction_for(radius)``.

    Parameters
    ----------
    sums : Tensor
        (1, C + 1, h, w) float32 weighted block sums, the weight sum last.
    radius, blades, blade_rotation
        As for :func:`lens_blur`.

    Returns
    -------
    Tensor
        (1, C, h, w) float32 normalized blurred values, as for
        :func:`blur_reduced`.
    """
    scale = reduction_for(radius)
    # Block averaging and bilinear upsampling soften the disc's edge over
    # about ``scale`` pixels but leave its half-height radius in place.
    small_radius = radius / scale
    blurred = _convolve(sums, aperture_kernel(small_radius, blades, blade_rotation))
    # The weight plane holds block sums of up to scale^2 per pixel.
    return fill_holes(blurred[:, :-1], blurred[:, -1:], FILL_WEIGHT * scale * scale)


def lens_blur(image, radius, *, blades=0, blade_rotation=0.0, weight=None):
    """Blur linear-light values with a lens aperture.

    Parameters
    ----------
    image : ndarray
        (H, W, C) or (H, W) float32 linear-light values.
    radius : float
        Aperture radius in pixels.
    blades : int, optional
        Aperture blades, 0 for a round aperture; see :func:`aperture_kernel`.
    blade_rotation : float, optional
        Rotation of the aperture polygon in degrees.
    weight : ndarray, optional
        (H, W) float32 in [0, 1]: how much each pixel contributes.  The
        result is the normalized convolution ``blur(image * w) / blur(w)``;
        where no weighted pixel lies within the aperture, values are filled
        from the nearest weighted content further away.

    Returns
    -------
    ndarray
        float32 blurred values, same shape as ``image``.  Image borders are
        handled by normalization, so edges keep their brightness.
    """
    image = np.asarray(image, dtype=np.float32)
    gray = image.ndim == 2
    x = torch.from_numpy(image[..., None] if gray else image)
    w = None if weight is None else torch.from_numpy(np.asarray(weight, np.float32))
    small = blur_reduced(x, radius, blades=blades, blade_rotation=blade_rotation,
                         weight=w)
    out = upsample(small, image.shape[:2], reduction_for(radius))
    return out[..., 0] if gray else out
