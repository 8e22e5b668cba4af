"""Alpha mattes on float32 arrays: guided filtering and foreground colours.

A segmentation network sees the photo at a few hundred pixels; its
probability map is blocky at full resolution.  The guided filter (He et al.,
"Guided Image Filtering", 2013) fits, in every window, a linear model from
the full-resolution colours to that probability, so the alpha follows the
real edges and fine strands of the photo.
"""

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from .lens import block_mean

__all__ = [
    "guided_filter",
    "fast_guided_filter",
    "refine_alpha",
    "estimate_foreground",
]

# Far from any soft edge the segmenter is sure; there the alpha is set to
# exactly 0 or 1 instead of a guided-filter estimate that wobbles around it.
_SURE = 0.02

# Working size, in pixels, of the foreground estimation's local means.
_FOREGROUND_PIXELS = 5e5


def _window_counts(n, radius):
    """How many of the 2r+1 window positions around each of n lie inside."""
    index = np.arange(n)
    return (np.minimum(index + radius, n - 1) - np.maximum(index - radius, 0) + 1
            ).astype(np.float32)


def _box_mean(x, radius):
    """Mean over a (2r+1) square window, counting only pixels inside."""
    size = 2 * radius + 1
    total = ndimage.uniform_filter(x, size=size, mode="constant", axes=(0, 1))
    # uniform_filter divides by the full window; rescale to the pixels inside.
    height, width = x.shape[:2]
    scale = size * size / np.outer(_window_counts(height, radius),
                                   _window_counts(width, radius))
    total *= scale[..., None] if x.ndim == 3 else scale
    return total


def _coefficients(guide, src, radius, eps):
    """Window-averaged linear coefficients of the guided filter.

    Returns
    -------
    a : ndarray
        (H, W, C) float32 for a (H, W, C) guide, (H, W) for a gray guide.
    b : ndarray
        (H, W) float32; the filter output is ``sum(a * guide) + b``.
    """
    mean_i = _box_mean(guide, radius)
    mean_p = _box_mean(src, radius)
    if guide.ndim == 2:
        var = _box_mean(guide * guide, radius) - mean_i * mean_i
        cov = _box_mean(guide * src, radius) - mean_i * mean_p
        a = cov / (var + eps)
        b = mean_p - a * mean_i
        return _box_mean(a, radius), _box_mean(b, radius)
    cov = _box_mean(guide * src[..., None], radius) - mean_i * mean_p[..., None]
    # Entries of the regularized 3x3 colour covariance, rr rg rb gg gb bb.
    pairs = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]
    sigma = [_box_mean(guide[..., i] * guide[..., j], radius)
             - mean_i[..., i] * mean_i[..., j] for i, j in pairs]
    rr, rg, rb, gg, gb, bb = sigma
    rr += eps
    gg += eps
    bb += eps
    # Inverse by cofactors; the matrix is symmetric positive definite.
    inv = [gg * bb - gb * gb, gb * rb - rg * bb, rg * gb - gg * rb,
           rr * bb - rb * rb, rg * rb - rr * gb, rr * gg - rg * rg]
    det = rr * inv[0] + rg * inv[1] + rb * inv[2]
    i_rr, i_rg, i_rb, i_gg, i_gb, i_bb = (v / det for v in inv)
    c_r, c_g, c_b = cov[..., 0], cov[..., 1], cov[..., 2]
    a = np.stack([i_rr * c_r + i_rg * c_g + i_rb * c_b,
                  i_rg * c_r + i_gg * c_g + i_gb * c_b,
                  i_rb * c_r + i_gb * c_g + i_bb * c_b], axis=-1)
    b = mean_p - np.einsum("hwc,hwc->hw", a, mean_i)
    return _box_mean(a, radius), _box_mean(b, radius)


def _apply(a, b, guide, floor=None):
    """Evaluate ``sum(a * guide) + b`` with a, b upsampled to the guide.

    With ``floor`` (at the resolution of a, b) the result is at least the
    upsampled floor.
    """
    height, width = guide.shape[:2]
    gray = guide.ndim == 2
    planes = [a[..., None] if gray else a, b[..., None]]
    if floor is not None:
        planes.append(floor[..., None])
    planes = np.concatenate(planes, axis=-1)
    small = torch.from_numpy(planes).permute(2, 0, 1)[None].contiguous()
    if small.shape[-2:] != (height, width):
        small = F.interpolate(small, size=(height, width), mode="bilinear",
                              align_corners=False)
    coeffs = small[0]
    g = torch.from_numpy(guide)
    g = g[..., None] if gray else g
    channels = g.shape[-1]
    out = torch.addcmul(coeffs[channels], coeffs[0], g[..., 0])
    for c in range(1, channels):
        out.addcmul_(coeffs[c], g[..., c])
    if floor is not None:
        torch.maximum(out, coeffs[-1], out=out)
    return out.numpy()


def _as_float(x):
    # Contiguous, so that torch can view it flat.
    return np.ascontiguousarray(x, dtype=np.float32)


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
    a, b = _coefficients(guide, src, int(radius), eps)
    return _apply(a, b, guide)


def _subsample(x, factor):
    """Area-average an (H, W[, C]) array by an integer factor."""
    return x if factor == 1 else block_mean(x, factor)


def fast_guided_filter(guide, src, radius, eps, subsample):
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

    Returns
    -------
    ndarray
        (H, W) float32 filtered image.
    """
    guide, src = _as_float(guide), _as_float(src)
    subsample = int(subsample)
    a, b = _coefficients(_subsample(guide, subsample), _subsample(src, subsample),
                         max(1, round(radius / subsample)), eps)
    return _apply(a, b, guide)


def _degrade(image, shape):
    """An (H, W, 3) image seen at resolution ``shape`` and resized back."""
    t = torch.from_numpy(image).permute(2, 0, 1)[None]
    low = F.interpolate(t, size=shape, mode="area")
    back = F.interpolate(low, size=image.shape[:2], mode="bilinear", align_corners=False)
    return np.ascontiguousarray(back[0].permute(1, 2, 0).numpy())


def resize_map(x, shape):
    """Bilinear resize of an (h, w) map (probability, alpha, disparity) to `shape`, float32."""
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None, None]
    return F.interpolate(t, size=shape, mode="bilinear", align_corners=False)[0, 0].numpy()


def refine_alpha(image, probability, *, radius=None, eps=1e-4):
    """Turn a low-resolution subject probability into a full-resolution alpha.

    Parameters
    ----------
    image : ndarray
        (H, W, 3) float32 sRGB photo in [0, 1], the guide.
    probability : ndarray
        (h, w) float32 subject probability in [0, 1] at any (usually much
        lower) resolution with the photo's aspect ratio.
    radius : int, optional
        Guided-filter radius in full-resolution pixels; by default three
        probability pixels (23 px for a 12 MP photo and a 513 px map).
        Smaller radii stay closer to the probability, larger ones recover
        more of fine strands.
    eps : float, optional
        Guided-filter regularization.

    Returns
    -------
    ndarray
        (H, W) float32 alpha in [0, 1], 1 = subject.  It is exactly 1 inside
        the subject and exactly 0 far from it.
    """
    image = _as_float(image)
    height, width = image.shape[:2]
    if radius is None:
        radius = max(2, round(3 * max(height, width) / max(probability.shape)))
    # The coefficients vary smoothly, so they are fitted at a resolution
    # where the window is about 4 pixels across its radius.
    factor = max(1, int(radius) // 4)
    guide = _subsample(image, factor)
    prob = resize_map(probability, guide.shape[:2])
    small_radius = max(1, round(radius / factor))
    # The probability is the subject's alpha seen at low resolution.  Fitting
    # it against the photo seen the same way keeps thin strands from being
    # averaged away: if alpha = a.I + b locally, the same a, b hold for
    # their low-resolution versions.
    if prob.shape != probability.shape:
        guide = _degrade(guide, probability.shape)
    a, b = _coefficients(guide, prob, small_radius, eps)
    # Far from the subject the map is ~0 but never exactly; there the alpha
    # is made exactly 0.  Where the segmenter is sure of the subject, a
    # textured subject must not make the linear model dip below 1.
    far = ndimage.maximum_filter(prob, size=2 * small_radius + 1) <= _SURE
    a[far] = 0
    b[far] = 0
    floor = np.clip((prob - (1 - 2 * _SURE)) / _SURE, 0, 1)
    alpha = _apply(a, b, image, floor)
    return np.clip(alpha, 0, 1, out=alpha)


def foreground_in_band(image, alpha, band, radii=(90, 6)):
    """Foreground colours at selected pixels, see :func:`estimate_foreground`.

    Parameters
    ----------
    image : ndarray
        (H, W, 3) float32 photo.
    alpha : ndarray
        (H, W) float32 alpha.
    band : ndarray
        (N,) int64 flat (row-major) indices of the pixels wanted, usually the
        soft edge.
    radii : tuple of int
        Blur radii of the successive blur-fusion passes at 1 MP; scaled with
        the photo's size.

    Returns
    -------
    ndarray
        (N, 3) float32 foreground colours at ``band``.
    """
    height, width = image.shape[:2]
    # The local means are smooth, so they are taken at about half a
    # megapixel whatever the photo's size.
    factor = max(1, round(np.sqrt(height * width / _FOREGROUND_PIXELS)))
    img_s = _subsample(image, factor)
    alpha_s = _subsample(alpha, factor)
    fg_s, bg_s = img_s, img_s
    a3 = alpha_s[..., None]
    megapixels = alpha_s.size / 1e6
    for r in radii:
        r = max(1, round(r * np.sqrt(megapixels)))
        mean_a = _box_mean(alpha_s, r)[..., None]
        fg_mean = _box_mean(fg_s * a3, r) / (mean_a + 1e-5)
        bg_mean = _box_mean(bg_s * (1 - a3), r) / (1 - mean_a + 1e-5)
        fg_s = np.clip(fg_mean + a3 * (img_s - a3 * fg_mean - (1 - a3) * bg_mean), 0, 1)
        bg_s = bg_mean
    # The last pass's local means, applied to the full-resolution pixels.
    band = torch.as_tensor(band)
    f_b, b_b = _sample(np.concatenate([fg_mean, bg_mean], axis=-1), band, factor,
                       (height, width)).split(3, dim=1)
    img_b = torch.from_numpy(image).view(-1, 3).index_select(0, band)
    a_b = torch.from_numpy(alpha).view(-1).index_select(0, band)[:, None]
    # f + a (I - a f - (1 - a) b), term by term in place.
    residual = img_b.sub_(b_b).addcmul_(a_b, b_b - f_b)
    return f_b.addcmul_(a_b, residual).clamp_(0, 1).numpy()


def _sample(small, band, factor, shape):
    """Bilinear samples of an (h, w, C) map reduced by ``factor`` at full-resolution pixels.

    Returns
    -------
    Tensor
        (N, C) float32 values at the flat indices ``band`` of an image of
        ``shape``, read as :func:`resize_map` would place them.
    """
    h_s, w_s = small.shape[:2]
    width = shape[1]
    rows, cols = band // width, band % width
    # Pixel centres on the reduced grid, in grid_sample's [-1, 1] units.
    x = (cols.float() + 0.5) / (factor * w_s) * 2 - 1
    y = (rows.float() + 0.5) / (factor * h_s) * 2 - 1
    grid = torch.stack([x, y], -1)[None, None]
    t = torch.from_numpy(np.ascontiguousarray(small, dtype=np.float32)).permute(2, 0, 1)[None]
    out = F.grid_sample(t, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out[0, :, 0].T


def estimate_foreground(image, alpha, *, radii=(90, 6)):
    """Foreground colours without the old background mixed into soft edges.

    Blur-fusion foreground estimation (Germer et al., "Fast multi-level
    foreground estimation", and Forte & Pitie's approximation): local means
    of foreground and background colours are solved against the compositing
    equation ``image = alpha * F + (1 - alpha) * B``.

    Parameters
    ----------
    image : ndarray
        (H, W, 3) float32 photo in [0, 1].
    alpha : ndarray
        (H, W) float32 alpha in [0, 1].
    radii : tuple of int, optional
        Blur radii of the successive passes, in pixels of a 1 MP photo.

    Returns
    -------
    ndarray
        (H, W, 3) float32 foreground in [0, 1]; equal to ``image`` wherever
        ``alpha`` is 0 or 1.
    """
    image, alpha = _as_float(image), _as_float(alpha)
    band = np.flatnonzero((alpha > 0) & (alpha < 1))
    fg = image.copy()
    fg.reshape(-1, 3)[band] = foreground_in_band(image, alpha, band, radii)
    return fg
