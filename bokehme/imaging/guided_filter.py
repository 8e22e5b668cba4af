"""The guided filter (He et al.) and its fast, subsampled form, on float32 arrays.

The filter fits, in every window, a linear model from the guide's colours to
the source; the model's coefficients are smooth, so they can be fitted at
low resolution and evaluated at full resolution (the fast guided filter).

References
----------
.. [1] K. He, J. Sun and X. Tang, "Guided Image Filtering", IEEE TPAMI 35(6),
   2013.
.. [2] K. He and J. Sun, "Fast Guided Filter", arXiv:1505.00996, 2015.
"""

import functools

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .resample import block_mean, upsample_rows

__all__ = [
    "box_mean",
    "guided_coefficients",
    "coefficient_planes",
    "linear_model",
    "apply_coefficients",
    "guided_filter",
    "fast_guided_filter",
]

# Pixels per strip of a full-resolution evaluation: the strip's temporaries
# stay small, and there are few enough strips for their overhead not to count.
_STRIP_PIXELS = 1 << 20


def _window_counts(n, radius):
    """How many of the 2r+1 window positions around each of n lie inside."""
    index = np.arange(n)
    return (np.minimum(index + radius, n - 1) - np.maximum(index - radius, 0) + 1
            ).astype(np.float32)


@functools.lru_cache(maxsize=8)
def _inside_scale(height, width, radius, channels):
    """Full window over the pixels of it inside the image: (H, W, C) float32, read-only.

    The guided filter takes a dozen box means of one size; video frames
    repeat it every frame.  Each channel has its copy: numpy multiplies
    arrays of one shape several times faster than it broadcasts a last axis.
    """
    size = 2 * radius + 1
    scale = size * size / np.outer(_window_counts(height, radius), _window_counts(width, radius))
    scale = np.repeat(scale.astype(np.float32)[..., None], channels, axis=-1)
    scale.flags.writeable = False
    return scale


def box_mean(x, radius):
    """Mean over a (2r+1) square window, counting only pixels inside the image.

    Parameters
    ----------
    x : ndarray
        (H, W) or (H, W, C) float32.
    radius : int

    Returns
    -------
    ndarray
        float32, same shape.
    """
    size = 2 * radius + 1
    # OpenCV's running sums: the same window sums as scipy's uniform_filter,
    # several times faster on float32.
    total = cv2.boxFilter(np.ascontiguousarray(x, dtype=np.float32), -1, (size, size), normalize=True,
                          borderType=cv2.BORDER_CONSTANT).reshape(x.shape)
    # The filter divides by the full window; rescale to the pixels inside.
    scale = _inside_scale(x.shape[0], x.shape[1], int(radius), x.shape[2] if x.ndim == 3 else 1)
    total *= scale if x.ndim == 3 else scale[..., 0]
    return total


def guided_coefficients(guide, src, radius, eps, fallback=None):
    """Window-averaged linear coefficients of the guided filter.

    Parameters
    ----------
    guide, src, radius, eps
        As for :func:`guided_filter`.
    fallback : ndarray, optional
        Same shape as `src`.  In a window where the guide's colours explain
        little of `src`'s variation (no edge of the guide follows it), the
        offset is drawn from `src`'s window mean towards `fallback`'s, in
        proportion to the share of the variance left unexplained.

    Returns
    -------
    a : ndarray
        (H, W, C) float32 for a (H, W, C) guide (a view of C contiguous
        planes, as the coefficients are used), (H, W) for a gray guide.
    b : ndarray
        (H, W) float32; the filter output is ``sum(a * guide) + b``.
    """
    mean_p = box_mean(src, radius)
    if guide.ndim == 2:
        mean_i = box_mean(guide, radius)
        var = box_mean(guide * guide, radius) - mean_i * mean_i
        cov = box_mean(guide * src, radius) - mean_i * mean_p
        a = cov / (var + eps)
        b = _offset(mean_p, a * cov, a * mean_i, src, radius, fallback)
        return box_mean(a, radius), box_mean(b, radius)
    # Colour by colour, as contiguous planes: numpy and OpenCV are several
    # times slower on the strided channels of an (H, W, 3) array.
    colours = [np.ascontiguousarray(guide[..., c]) for c in range(3)]
    means = [box_mean(colour, radius) for colour in colours]
    covs = [box_mean(colour * src, radius) - mean * mean_p for colour, mean in zip(colours, means)]
    # Entries of the regularized 3x3 colour covariance, rr rg rb gg gb bb.
    pairs = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]
    sigma = [box_mean(colours[i] * colours[j], radius) - means[i] * means[j] for i, j in pairs]
    rr, rg, rb, gg, gb, bb = sigma
    rr += eps
    gg += eps
    bb += eps
    # Inverse by cofactors; the matrix is symmetric positive definite.
    inv = [gg * bb - gb * gb, gb * rb - rg * bb, rg * gb - gg * rb,
           rr * bb - rb * rb, rg * rb - rr * gb, rr * gg - rg * rg]
    det = rr * inv[0] + rg * inv[1] + rb * inv[2]
    i_rr, i_rg, i_rb, i_gg, i_gb, i_bb = (v / det for v in inv)
    c_r, c_g, c_b = covs
    a = [i_rr * c_r + i_rg * c_g + i_rb * c_b,
         i_rg * c_r + i_gg * c_g + i_gb * c_b,
         i_rb * c_r + i_gb * c_g + i_bb * c_b]
    b = _offset(mean_p, a[0] * c_r + a[1] * c_g + a[2] * c_b,
                a[0] * means[0] + a[1] * means[1] + a[2] * means[2], src, radius, fallback)
    # Plane by plane too, handed back as an (H, W, 3) view of the three.
    a = np.stack([box_mean(plane, radius) for plane in a])
    return np.moveaxis(a, 0, -1), box_mean(b, radius)


def _offset(mean_p, explained, a_mean_i, src, radius, fallback):
    """The linear model's offset ``b``, drawn towards `fallback` where the model explains little.

    ``explained`` is the variance of `src` the model explains in each
    window (``a . cov``); its share of `src`'s variance is the model's R^2.
    """
    if fallback is None:
        return mean_p - a_mean_i
    var_p = np.maximum(box_mean(src * src, radius) - mean_p * mean_p, 0)
    unexplained = np.clip(1 - explained / np.maximum(var_p, 1e-12), 0, 1)
    target = mean_p + unexplained * (box_mean(fallback, radius) - mean_p)
    return target - a_mean_i


def coefficient_planes(a, b, floor=None):
    """The coefficients stacked as planes, for :func:`linear_model`.

    Returns
    -------
    Tensor
        (K, h, w) float32: a's channels, b, then the floor if given.
    """
    planes = [a] if a.ndim == 2 else list(np.moveaxis(a, -1, 0))
    planes.append(b)
    if floor is not None:
        planes.append(floor)
    return torch.from_numpy(np.stack(planes))


def linear_model(coeffs, colours):
    """``sum(a * colours) + b``, at least the floor where ``coeffs`` holds one.

    Parameters
    ----------
    coeffs : Tensor
        (K, ...) float32: a's C channels, b, then optionally the floor.
    colours : Tensor
        (..., C) float32 guide colours at the same pixels.

    Returns
    -------
    Tensor
        (...) float32.
    """
    channels = colours.shape[-1]
    out = torch.addcmul(coeffs[channels], coeffs[0], colours[..., 0])
    for c in range(1, channels):
        out.addcmul_(coeffs[c], colours[..., c])
    if len(coeffs) > channels + 1:
        torch.maximum(out, coeffs[channels + 1], out=out)
    return out


def apply_coefficients(a, b, guide, floor=None):
    """Evaluate ``sum(a * guide) + b`` with a, b bilinearly upsampled to the guide.

    Parameters
    ----------
    a : ndarray
        (h, w, C) or (h, w) float32 coefficients, see :func:`guided_coefficients`.
    b : ndarray
        (h, w) float32 offsets.
    guide : ndarray
        (H, W, C) or (H, W) float32 guide.
    floor : ndarray, optional
        (h, w) float32; the result is at least the upsampled floor.

    Returns
    -------
    ndarray
        (H, W) float32.
    """
    height, width = guide.shape[:2]
    coeffs = coefficient_planes(a, b, floor)
    if coeffs.shape[1:] != (height, width):
        coeffs = F.interpolate(coeffs[None], size=(height, width), mode="bilinear",
                               align_corners=False)[0]
    g = torch.from_numpy(guide)
    return linear_model(coeffs, g[..., None] if guide.ndim == 2 else g).numpy()


def guided_filter(guide, src, radius, eps):
    """Edge-preserving smoothing of ``src`` steered by ``guide`` (He et al.).

    Parameters
    ----------
    guide : ndarray
        (H, W, 3) colour or (H, W) gray float32 guide image in [0, 1].
    src : ndarray
        (H, W) float32 image to filter.
    radius : int
        Window radius in pixels; windows are (2r+1) squares, clipped at the
        image border.
    eps : float
        Regularization; larger values smooth more across weak edges.

    Returns
    -------
    ndarray
        (H, W) float32 filtered image.
    """
    guide, src = _as_float(guide), _as_float(src)
    a, b = guided_coefficients(guide, src, int(radius), eps)
    return apply_coefficients(a, b, guide)


def fast_guided_filter(guide, src, radius, eps, subsample, *, src_reduced=False):
    """Guided filter computed at reduced resolution (He & Sun, 2015).

    The linear coefficients are found on guide and source reduced by
    ``subsample`` with radius ``radius / subsample`` and then bilinearly
    upsampled; only the final ``a * guide + b`` runs at full resolution.

    Parameters
    ----------
    guide, src, radius, eps
        As for :func:`guided_filter`.
    subsample : int
        Reduction factor, at least 1.
    src_reduced : bool, optional
        `src` is given already reduced: the ``subsample`` block means of
        the source, (ceil(H / subsample), ceil(W / subsample)), as
        :func:`~bokehme.imaging.resample.resized_block_mean` gives a low
        resolution map's without enlarging it first.

    Returns
    -------
    ndarray
        (H, W) float32 filtered image.
    """
    guide, src = _as_float(guide), _as_float(src)
    subsample = int(subsample)
    small = src if src_reduced else block_mean(src, subsample)
    a, b = guided_coefficients(block_mean(guide, subsample), small, max(1, round(radius / subsample)), eps)
    if subsample == 1:
        return apply_coefficients(a, b, guide)
    # Strip by strip from the block grid (block centres, as the reduction
    # placed them), so the upsampled coefficients never exist at full size.
    height, width = guide.shape[:2]
    coeffs = coefficient_planes(a, b)[None]
    colours = torch.from_numpy(guide[..., None] if guide.ndim == 2 else guide)
    out = torch.empty((height, width))
    rows = max(1, _STRIP_PIXELS // width)
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        strip = upsample_rows(coeffs, (height, width), subsample, top, bottom)
        out[top:bottom] = linear_model(strip.permute(2, 0, 1), colours[top:bottom])
    return out.numpy()


def _as_float(x):
    # Contiguous, so that torch can view it flat.
    return np.ascontiguousarray(x, dtype=np.float32)
