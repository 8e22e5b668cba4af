"""The lens blur: a disc (or polygon) of light, in linear light, at any radius.

A real lens blurs *light*, so the blur runs on linear-light values; a bright
street lamp then spreads into a bright disc instead of a grey smudge.  Its
cost does not grow with the radius: a disc of radius ``r`` removes all detail
finer than about ``r / 4`` pixels, so the photo is reduced by ``ceil(r / 3)``,
convolved there with a small aperture kernel and upsampled (docs/lens.md).
"""

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from .aperture import aperture_kernel
from .colour import srgb_to_linear
from .fill import fill_holes
from .resample import block_sums, resize_map, upsample

__all__ = [
    "lens_blur",
    "blur_reduced",
    "blur_block_sums",
    "weighted_block_mean",
    "continue_behind",
    "reduction_for",
]

# Radius, in reduced pixels, of the aperture kernel applied after reduction;
# a larger value is more exact and slower (docs/lens.md).
_REDUCED_RADIUS = 3.0

#: Where a segmenter gives the subject more than this probability, the blur
#: does not trust what it sees to be background.
MAYBE_SUBJECT = 0.1

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


def continue_behind(sums, counts, maybe_subject=None):
    """Block sums with the background continued behind the subject.

    Blocks at least three quarters covered by the subject are left out, and
    every other block keeps the mean of the background it shows; the left
    out blocks take the mean of the nearest block that shows background.
    The blur then runs over a whole plate, as a lens sees the background
    behind the subject.  With a segmenter's probability, the blocks where it
    finds the subject at all likely, and one block around them, are left out
    too, so that the subject's colours stay out of the blur where the alpha
    misses part of its outline.

    Parameters
    ----------
    sums : Tensor
        (1, C + 1, h, w) float32 block sums of the background's colours
        weighted by ``1 - alpha``, the weight sum last (:func:`block_sums`).
    counts : Tensor
        (h, w, 1) float32 pixels per block
        (:func:`bokehme.imaging.resample.block_counts`).
    maybe_subject : (h', w') float32 ndarray, optional
        The subject's probability, at any resolution.

    Returns
    -------
    Tensor
        (1, C + 1, h, w) float32 block sums of the continued plate, every
        pixel at weight 1.

    Notes
    -----
    Normalized convolution alone takes the colour next to the outline only
    from the side away from the subject, so the bokeh there is shifted
    outwards; continuing the plate behind the subject first centres it.
    """
    counts = counts.permute(2, 0, 1)[None]
    seen = sums[0, -1] / counts[0, 0]
    hidden = (seen < 0.25).numpy()
    if maybe_subject is not None:
        maybe = resize_map(maybe_subject, hidden.shape) > MAYBE_SUBJECT
        # OpenCV's dilation by the cross is scipy's binary dilation, many times faster.
        hidden |= cv2.dilate(maybe.view(np.uint8), cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))).view(bool)
    if hidden.all():
        return sums  # no background in sight: normalized convolution fills what it can
    means = (sums[0, :-1] / sums[0, -1].clamp(min=1e-12)).numpy()
    rows, cols = ndimage.distance_transform_edt(hidden, return_distances=False, return_indices=True)
    means = torch.from_numpy(np.ascontiguousarray(means[:, rows, cols]))[None]
    return torch.cat([means * counts, counts], dim=1).contiguous(memory_format=torch.channels_last)


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
