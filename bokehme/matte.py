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

from .lens import block_mean, upsample_rows

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

# Pixels per strip of the alpha evaluation: the strip's temporaries stay
# small, and there are few enough strips for their overhead not to count.
_STRIP_PIXELS = 1 << 20


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


def _coefficient_planes(a, b, floor=None):
    """(K, h, w) float32 Tensor: a's channels, b, then the floor if given."""
    planes = [a] if a.ndim == 2 else list(np.moveaxis(a, -1, 0))
    planes.append(b)
    if floor is not None:
        planes.append(floor)
    return torch.from_numpy(np.stack(planes))


def _linear_model(coeffs, colours):
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


def _apply(a, b, guide, floor=None):
    """Evaluate ``sum(a * guide) + b`` with a, b upsampled to the guide.

    With ``floor`` (at the resolution of a, b) the result is at least the
    upsampled floor.
    """
    height, width = guide.shape[:2]
    coeffs = _coefficient_planes(a, b, floor)
    if coeffs.shape[1:] != (height, width):
        coeffs = F.interpolate(coeffs[None], size=(height, width), mode="bilinear",
                               align_corners=False)[0]
    g = torch.from_numpy(guide)
    return _linear_model(coeffs, g[..., None] if guide.ndim == 2 else g).numpy()


def _bilinear_taps(n_out, n_in):
    """Where a bilinear resize from n_in to n_out samples reads its input.

    The sampling of ``F.interpolate(mode="bilinear", align_corners=False)``
    with the same rounding, so that blending with these taps in torch's
    order matches it to float rounding.

    Returns
    -------
    first, second : Tensor
        (n_out,) int64 the two input samples read; equal at the border.
    first_weight, second_weight : Tensor
        (n_out,) float32 their weights.
    """
    scale = float(np.float32(n_in) / np.float32(n_out))
    # torch rounds ``scale * (i + 0.5) - 0.5`` once (a fused multiply-add);
    # in float64 the product and difference are exact, so one cast matches.
    source = ((torch.arange(n_out, dtype=torch.float64) + 0.5) * scale - 0.5
              ).float().clamp_(min=0)
    first = source.long().clamp_(max=n_in - 1)
    second_weight = (source - first).clamp_(0, 1)
    return first, (first + 1).clamp_(max=n_in - 1), 1 - second_weight, second_weight


def _gather_columns(x, index):
    """``x[:, index]`` for a (K, P) float32 Tensor."""
    out = torch.empty((len(x), len(index)))
    # A row at a time: torch gathers from 1-d tensors fastest.
    for row, row_out in zip(x, out):
        torch.index_select(row, 0, index, out=row_out)
    return out


def _column_blends(planes, cell_rows, col_taps, cols):
    """Planes blended between the two cells an output column reads.

    The first step of torch's bilinear kernel, which then blends two such
    results, one per cell row.

    Parameters
    ----------
    planes : Tensor
        (K, h, w) float32 contiguous.
    cell_rows : sequence of Tensor
        (P,) int64 rows of cells.
    col_taps : tuple of Tensor
        :func:`_bilinear_taps` of the output's columns.
    cols : Tensor
        (P,) int64 output columns.

    Returns
    -------
    list of Tensor
        (K, P) float32, one per entry of ``cell_rows``.
    """
    left, right, left_weight, right_weight = (t.index_select(0, cols) for t in col_taps)
    corners = []
    for row in cell_rows:
        row = row * planes.shape[2]
        corners += [row + left, row + right]
    values = _gather_columns(planes.view(len(planes), -1), torch.cat(corners))
    values = values.view(len(planes), -1, 2, len(cols)).unbind(1)
    return [v[:, 0].mul_(left_weight).add_(v[:, 1].mul_(right_weight)) for v in values]


def _sure_alpha(zero, one, top, bottom, left, right):
    """The alpha of pixels whose four bilinear cells are all zero or all one.

    Parameters
    ----------
    zero, one : ndarray
        (h, w) bool cells where the alpha is surely 0, surely 1.
    top, bottom, left, right : ndarray
        (R,), (R,), (C,), (C,) int64 cells that the rectangles of output
        pixels read.

    Returns
    -------
    ndarray
        (R, C) float32 per rectangle: 0 or 1, NaN where it must be computed.
    """
    def all_four(cells):
        pairs = np.take(cells, left, axis=1) & np.take(cells, right, axis=1)
        return np.take(pairs, top, axis=0) & np.take(pairs, bottom, axis=0)

    alpha = np.full((len(top), len(left)), np.nan, np.float32)
    alpha[all_four(zero)] = 0
    alpha[all_four(one)] = 1
    return alpha


def _rows_of_pairs(pair_rects, rects):
    """Pixels of a strip whose rows each take their rectangle row's pairs.

    Parameters
    ----------
    pair_rects : Tensor
        (P,) int64 sorted rectangle row of every (rectangle row, column)
        pair, counted from the strip's first.
    rects : Tensor
        (S,) int64 rectangle row of every row of the strip, likewise.

    Returns
    -------
    rows, pairs : Tensor
        (N,) int64 row in the strip and pair of every pixel, row by row.
    """
    pair_counts = torch.bincount(pair_rects, minlength=int(rects[-1]) + 1)
    row_counts = pair_counts.index_select(0, rects)
    rows = torch.repeat_interleave(row_counts)
    # A pixel's pair: its place in its row plus its rectangle row's first.
    shift = (pair_counts.cumsum(0) - pair_counts).index_select(0, rects)
    shift -= row_counts.cumsum(0) - row_counts
    return rows, torch.arange(len(rows)).add_(shift.index_select(0, rows))


def _alpha_where_unsure(a, b, floor, image):
    """``clip(_apply(a, b, image, floor), 0, 1)`` computed only where needed.

    Where the four cells a pixel interpolates from all have a = b = 0 and no
    floor, its alpha is exactly 0; where they all have a floor of 1 it is
    exactly 1.  Only the remaining pixels, usually a small part of the
    photo, run the linear model.

    Parameters
    ----------
    a : ndarray
        (h, w, 3) float32 colour coefficients.
    b, floor : ndarray
        (h, w) float32 offset and floor.
    image : ndarray
        (H, W, 3) float32 guide.

    Returns
    -------
    ndarray
        (H, W) float32 alpha in [0, 1].
    """
    height, width = image.shape[:2]
    row_taps = _bilinear_taps(height, a.shape[0])
    col_taps = _bilinear_taps(width, a.shape[1])
    # The output splits into rectangles of pixels that read the same four
    # cells: rows of rectangles share their cell rows, columns their columns.
    top, row_rects = torch.unique_consecutive(row_taps[0], return_inverse=True)
    left, col_rects = torch.unique_consecutive(col_taps[0], return_inverse=True)
    bottom = (top + 1).clamp_(max=a.shape[0] - 1)
    right = (left + 1).clamp_(max=a.shape[1] - 1)
    zero = (b == 0) & (floor <= 0)
    for channel in np.moveaxis(a, -1, 0):
        zero &= channel == 0
    sure = _sure_alpha(zero, floor >= 1, top.numpy(), bottom.numpy(),
                       left.numpy(), right.numpy())
    # Per rectangle row and output column: all rows of a rectangle row
    # are alike.
    sure = torch.from_numpy(sure).index_select(1, col_rects)
    planes = _coefficient_planes(a, b, floor)
    alpha = torch.empty((height, width))
    # Strip by strip, the temporaries stay small.
    strip = max(1, _STRIP_PIXELS // width)
    for start in range(0, height, strip):
        rects = row_rects[start:start + strip]
        block = torch.index_select(sure, 0, rects, out=alpha[start:start + strip])
        first, last = rects[0].item(), rects[-1].item() + 1
        pair_rects, pair_cols = torch.nonzero(sure[first:last].isnan()).unbind(1)
        if not len(pair_cols):
            continue
        # Torch blends along cell rows first: once per pair, for all the
        # rows of its rectangle row.
        upper, lower = _column_blends(
            planes, (top[first:last][pair_rects], bottom[first:last][pair_rects]),
            col_taps, pair_cols)
        rows, pairs = _rows_of_pairs(pair_rects, rects - first)
        pixels = pair_cols.index_select(0, pairs).add_(rows * width)
        rows += start
        coeffs = _gather_columns(upper, pairs).mul_(row_taps[2].index_select(0, rows))
        coeffs.add_(_gather_columns(lower, pairs).mul_(row_taps[3].index_select(0, rows)))
        colours = torch.from_numpy(image[start:start + strip]).reshape(-1, 3)
        value = _linear_model(coeffs, colours.index_select(0, pixels)).clamp_(0, 1)
        block.view(-1).index_copy_(0, pixels, value)
    return alpha.numpy()


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
    if subsample == 1:
        return _apply(a, b, guide)
    # Strip by strip from the block grid (block centres, as the reduction
    # placed them), so the upsampled coefficients never exist at full size.
    height, width = guide.shape[:2]
    coeffs = _coefficient_planes(a, b)[None]
    colours = torch.from_numpy(guide[..., None] if guide.ndim == 2 else guide)
    out = torch.empty((height, width))
    rows = max(1, _STRIP_PIXELS // width)
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        strip = upsample_rows(coeffs, (height, width), subsample, top, bottom)
        out[top:bottom] = _linear_model(strip.permute(2, 0, 1), colours[top:bottom])
    return out.numpy()


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
    return _alpha_where_unsure(*_alpha_model(image, probability, radius, eps), image)


def _alpha_model(image, probability, radius, eps):
    """Low-resolution coefficients of the alpha, see :func:`refine_alpha`.

    Returns
    -------
    a : ndarray
        (h, w, 3) float32 colour coefficients.
    b, floor : ndarray
        (h, w) float32; the alpha is ``clip(max(a.I + b, floor), 0, 1)``
        with all three bilinearly upsampled to the image.
    """
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
    return a, b, floor


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
