"""Lens optics on float32 arrays: sRGB transfer, aperture kernels, lens blur.

A real lens blurs *light*, so the blur runs on linear-light values; a bright
street lamp then spreads into a bright disc instead of a grey smudge.

The blur is fast and costs about the same at any radius: a disc of radius
``r`` removes all detail finer than about ``r / 4`` pixels, so the image is
first reduced by the integer factor ``ceil(r / 3)``, convolved there with an
aperture kernel of 2 to 3 pixels' radius, and smoothly upsampled.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "srgb_to_linear",
    "linear_to_srgb",
    "aperture_kernel",
    "lens_blur",
    "boost_highlights",
]

# Radius, in reduced pixels, of the aperture kernel applied after reduction;
# a larger value is more exact and slower.  About 3 (2.5 to 4.5) keeps it
# above 42 dB PSNR against a full-resolution disc convolution on natural
# images at radii 5 to 40.
_REDUCED_RADIUS = 3.0

# Rows of full-resolution pixels handled at once while reducing, so that the
# per-pixel work (transfer curve, weighting) stays in cache and no
# full-resolution temporary is made.
_STRIP_PIXELS = 1 << 19

# Below this blurred weight (the weighted fraction of the aperture) a pixel
# has almost no known background around it and is filled from further away.
_FILL_WEIGHT = 1e-3

# How much brighter, at amount 1, a fully clipped highlight is made.
_HIGHLIGHT_GAIN = 8.0


def _srgb_to_linear_t(x):
    """Exact sRGB decoding of a float32 tensor into a new tensor."""
    curve = x + 0.055
    curve.mul_(1 / 1.055).clamp_(min=0).pow_(2.4)
    return torch.where(x <= 0.04045, x * (1 / 12.92), curve)


def _linear_to_srgb_t(x):
    """Exact sRGB encoding of a float32 tensor, clipped to [0, 1]."""
    x = x.clamp(0, 1)
    # Written as p + 0.055 (p - 1) so that 1 encodes to exactly 1.
    power = x.pow(1 / 2.4)
    curve = power.sub(1).mul_(0.055).add_(power)
    return torch.where(x <= 0.0031308, x * 12.92, curve)


def srgb_to_linear(image):
    """Decode sRGB values into linear light.

    Parameters
    ----------
    image : ndarray
        sRGB-encoded values in [0, 1], any shape.

    Returns
    -------
    ndarray
        float32 linear-light values, same shape.
    """
    x = torch.from_numpy(np.asarray(image, dtype=np.float32))
    return _srgb_to_linear_t(x).numpy()


def linear_to_srgb(image):
    """Encode linear light as sRGB values.

    Parameters
    ----------
    image : ndarray
        Linear-light values, any shape; values outside [0, 1] are clipped.

    Returns
    -------
    ndarray
        float32 sRGB values in [0, 1], same shape.
    """
    x = torch.from_numpy(np.asarray(image, dtype=np.float32))
    return _linear_to_srgb_t(x).numpy()


def aperture_kernel(radius, blades=0, blade_rotation=0.0):
    """The blur kernel of a lens aperture: a disc or a regular polygon.

    Parameters
    ----------
    radius : float
        Radius of the aperture in pixels (of the circle the polygon is
        inscribed in).
    blades : int, optional
        Number of aperture blades: 0 for a round aperture, otherwise the
        number of sides (at least 3) of the polygon.
    blade_rotation : float, optional
        Rotation of the polygon in degrees.

    Returns
    -------
    ndarray
        float32 (2k+1, 2k+1) kernel with ``k = ceil(radius)``, summing to 1.
        Edge pixels hold the fraction of their area inside the aperture, so
        the disc keeps its true size at any radius.
    """
    if blades and blades < 3:
        raise ValueError("an aperture polygon needs at least 3 blades")
    radius = float(radius)
    if radius <= 0.5:
        return np.ones((1, 1), np.float32)
    half = math.ceil(radius)
    # Area coverage by supersampling each pixel on an n x n grid.
    n = 8
    sub = (np.arange(n, dtype=np.float32) + 0.5) / n - 0.5
    axis = (np.arange(-half, half + 1, dtype=np.float32)[:, None] + sub).ravel()
    y, x = axis[:, None], axis[None, :]
    if blades:
        # A point is inside the polygon when its projection on every side's
        # normal is within the apothem.
        apothem = radius * math.cos(math.pi / blades)
        inside = np.ones(y.shape[:1] + x.shape[1:], bool)
        for k in range(blades):
            angle = math.radians(blade_rotation) + math.pi * (2 * k + 1) / blades
            inside &= x * math.cos(angle) + y * math.sin(angle) <= apothem
    else:
        inside = x * x + y * y <= radius * radius
    size = 2 * half + 1
    coverage = inside.reshape(size, n, size, n).sum(axis=(1, 3), dtype=np.float32)
    return coverage / coverage.sum()


def _decode(x, highlights):
    """sRGB values to linear light, highlights boosted by ``highlights``."""
    x = _srgb_to_linear_t(x)
    if highlights:
        x = _boost_highlights_t(x, highlights)
    return x


def _sum_rows(x, scale, out):
    """Sums of each ``scale`` rows of an (h, W, C) tensor into ``out``.

    ``h`` is a multiple of ``scale``.
    """
    rows, width, channels = x.shape
    x = x.view(rows // scale, scale, width, channels)
    if scale > 8:
        # One op instead of many: on a busy machine each multi-threaded op
        # waits for its threads to be scheduled.
        torch.sum(x, 1, out=out)
        return
    # Over a short axis torch's reduction is slow; adds of whole rows are not.
    out.copy_(x[:, 0])
    for i in range(1, scale):
        out.add_(x[:, i])


def _sum_columns(x, scale, out):
    """Sums of each ``scale`` columns of an (h, W, C) tensor into ``out``.

    A last, narrower column of blocks sums only the columns that exist.
    """
    rows, width, channels = x.shape
    full = width // scale
    main = full * scale
    # Plain adds of strided slices beat a reduction over a short axis.
    blocks = x[:, :main].view(rows, full, scale * channels)
    target = out[:, :full]
    target.copy_(blocks[..., :channels])
    for i in range(1, scale):
        target.add_(blocks[..., i * channels:(i + 1) * channels])
    if main < width:
        torch.sum(x[:, main:], 1, out=out[:, full])


def _block_counts(height, width, scale):
    """Number of real pixels in each block, as a (h, w, 1) tensor."""
    def counts(n):
        c = torch.full((-(-n // scale),), float(scale))
        c[-1] = n - scale * (c.numel() - 1)
        return c
    return torch.outer(counts(height), counts(width))[..., None]


def block_mean(image, scale):
    """Average ``scale`` x ``scale`` blocks of an (H, W[, C]) float32 array.

    Blocks at the right and bottom edges average only the pixels they hold.
    """
    gray = image.ndim == 2
    x = torch.from_numpy(image[..., None] if gray else image)
    height, width, channels = x.shape
    row_sums = torch.empty((-(-height // scale), width, channels))
    rows = max(1, _STRIP_PIXELS // (width * scale)) * scale
    for top in range(0, height, rows):
        strip = _pad_rows(x[top:top + rows], scale)
        _sum_rows(strip, scale, row_sums[top // scale:top // scale + strip.shape[0] // scale])
    small = torch.empty((row_sums.shape[0], -(-width // scale), channels))
    _sum_columns(row_sums, scale, small)
    small /= _block_counts(height, width, scale)
    return small.numpy()[..., 0] if gray else small.numpy()


def _pad_rows(strip, scale):
    """Zero rows appended to make a strip's height a multiple of ``scale``."""
    missing = -strip.shape[0] % scale
    return F.pad(strip, (0, 0, 0, 0, 0, missing)) if missing else strip


def block_sums(image, weight, scale, transform=None):
    """Block sums of ``weight * transform(image)`` and of ``weight``.

    Parameters
    ----------
    image : Tensor
        (H, W, C) float32.
    weight : Tensor or None
        (H, W) float32 weights; None for all ones.
    scale : int
        Block size.
    transform : callable, optional
        ``transform(strip, top)`` maps the strip of ``image`` starting at
        row ``top`` to a new tensor before weighting.

    Returns
    -------
    Tensor
        (1, C + 1, ceil(H / scale), ceil(W / scale)) float32 block sums, the
        weight sum last.  Partial blocks at the right and bottom edges sum
        only their real pixels, so normalized convolution stays exact there.
    """
    height, width, channels = image.shape
    small_h, small_w = -(-height // scale), -(-width // scale)
    row_sums = torch.empty((small_h, width, channels + (weight is not None)))
    rows = max(1, _STRIP_PIXELS // (width * scale)) * scale
    for top in range(0, height, rows):
        strip = image[top:top + rows]
        out = row_sums[top // scale:top // scale + -(-strip.shape[0] // scale)]
        if transform is not None:
            strip = transform(strip, top)
        if weight is not None:
            w = weight[top:top + rows, :, None]
            # A strip made by ``transform`` is ours to overwrite.
            strip = strip.mul_(w) if transform is not None else strip * w
            _sum_rows(_pad_rows(w, scale), scale, out[..., channels:])
        _sum_rows(_pad_rows(strip, scale), scale, out[..., :channels])
    # An (N, C, h, w) tensor in channels-last layout whose batch stride is
    # the full image: torch's fast convolution kernels insist on it.
    reduced = torch.empty((1, channels + 1, small_h, small_w),
                          memory_format=torch.channels_last)
    sums = reduced[0].permute(1, 2, 0)
    if weight is None:
        _sum_columns(row_sums, scale, sums[..., :channels])
        sums[..., channels:] = _block_counts(height, width, scale)
    else:
        _sum_columns(row_sums, scale, sums)
    return reduced


def _convolve(sums, kernel):
    """Depth-wise 'same' convolution of (1, C, h, w) with a 2-D kernel."""
    channels = sums.shape[1]
    weight = torch.from_numpy(kernel).expand(channels, 1, *kernel.shape).contiguous()
    return F.conv2d(sums, weight, padding=kernel.shape[0] // 2, groups=channels)


def _fill_unknown(num, den, least):
    """Normalized values num / den, holes filled from coarser scales.

    Where ``den`` (the blurred weight) is below ``least`` there is almost no
    weighted content nearby; such pixels take a push-pull estimate built
    only from weighted content further away, never from unweighted pixels.
    """
    if bool(den.min() >= least):
        return num / den
    if min(den.shape[-2:]) <= 1:
        return num / den.clamp(min=1e-12) * (den > 0)
    confidence = (den / least).clamp_(max=1)
    estimate = num / den.clamp(min=1e-12)
    # Block sums, so ``least`` keeps its meaning one level coarser.
    coarse = _fill_unknown(F.avg_pool2d(num, 2, ceil_mode=True, divisor_override=1),
                           F.avg_pool2d(den, 2, ceil_mode=True, divisor_override=1),
                           least)
    coarse = F.interpolate(coarse, size=den.shape[-2:], mode="bilinear",
                           align_corners=False)
    return torch.lerp(coarse, estimate, confidence)


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
    sums = block_sums(image, weight, scale, lambda strip, top: _srgb_to_linear_t(strip))
    return _fill_unknown(sums[:, :-1], sums[:, -1:], _FILL_WEIGHT * scale * scale)


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
        ``s = reduction_for(radius)``; upsample with :func:`upsample`.
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
    return _fill_unknown(blurred[:, :-1], blurred[:, -1:], _FILL_WEIGHT * scale * scale)


def upsample(small, shape, scale):
    """Bilinearly upsample a reduced (1, C, h, w) result to (H, W, C).

    Parameters
    ----------
    small : Tensor
        Output of :func:`blur_reduced`.
    shape : tuple of int
        Full-resolution (H, W).
    scale : int
        The reduction factor, ``reduction_for(radius)``.

    Returns
    -------
    ndarray
        (H, W, C) float32.
    """
    height, width = shape
    out = torch.empty((height, width, small.shape[1]))
    # Strip by strip, as the interpolations then run in cache.
    rows = max(1, _STRIP_PIXELS // (width * scale)) * scale
    for top in range(0, height, rows):
        out[top:top + rows] = upsample_rows(small, shape, scale, top, min(height, top + rows))
    return out.numpy()


def upsample_rows(small, shape, scale, top, bottom):
    """Rows ``top:bottom`` of :func:`upsample`, computed from the rows they need.

    Lets a caller finish a full-resolution result strip by strip while each
    strip is still in cache, without a full-size upsampled copy.

    Parameters
    ----------
    small : Tensor
        (1, C, h, w) float32, as for :func:`upsample`.
    shape : tuple of int
        Full-resolution (H, W).
    scale : int
        The reduction factor.
    top, bottom : int
        Full-resolution rows wanted, ``0 <= top < bottom <= H``.

    Returns
    -------
    Tensor
        (bottom - top, W, C) float32.
    """
    height, width = small.shape[-2:]
    # Output pixel i * s + k lies at source coordinate i + (k + 0.5) / s - 0.5:
    # between block i and the one before it (k < s / 2) or after it, at a
    # fraction that depends on the phase k alone.  So each phase is one
    # interpolation of whole rows (then columns), which is several times
    # faster than a general resampling that weighs every pixel on its own.
    first, last = top // scale, -(-bottom // scale)
    columns = -(-shape[1] // scale)
    # Source rows first - 1 .. last and columns -1 .. columns, the borders
    # repeated (as the source coordinate is clamped to the image).
    rows = torch.arange(first - 1, last + 1).clamp_(0, height - 1)
    across = torch.arange(-1, columns + 1).clamp_(0, width - 1)
    source = small[0].permute(1, 2, 0).index_select(0, rows).index_select(1, across)
    tall = torch.empty((last - first, scale, columns + 2, source.shape[-1]))
    for phase, (neighbour, fraction) in enumerate(_phases(scale)):
        torch.lerp(source[1:-1], source[1 + neighbour:source.shape[0] - 1 + neighbour], fraction,
                   out=tall[:, phase])
    tall = tall.view(-1, columns + 2, source.shape[-1])[top - first * scale:bottom - first * scale]
    wide = torch.empty((tall.shape[0], columns, scale, source.shape[-1]))
    for phase, (neighbour, fraction) in enumerate(_phases(scale)):
        torch.lerp(tall[:, 1:-1], tall[:, 1 + neighbour:columns + 1 + neighbour], fraction,
                   out=wide[:, :, phase])
    return wide.view(tall.shape[0], columns * scale, -1)[:, :shape[1]]


def _phases(scale):
    """Neighbour (-1 or +1) and its weight for each phase of an upsampling by `scale`."""
    for phase in range(scale):
        offset = (phase + 0.5) / scale - 0.5
        yield (-1 if offset < 0 else 1), abs(offset)


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


def _boost_highlights_t(x, amount, threshold=0.6):
    """Tensor version of :func:`boost_highlights`."""
    peak = x.amax(dim=-1, keepdim=True) if x.dim() == 3 else x
    t = ((peak - threshold) / (1 - threshold)).clamp_(0, 1)
    return x * (1 + amount * _HIGHLIGHT_GAIN * t * t)


def boost_highlights(linear, amount, threshold=0.6):
    """Make near-clipped highlights brighter so they bloom into bokeh discs.

    A clipped street lamp stored as 1.0 was really many times brighter;
    spread over a large disc at its stored value it would turn grey.

    Parameters
    ----------
    linear : ndarray
        (H, W, 3) or (H, W) float32 linear-light values.
    amount : float
        Strength; 0 returns ``linear`` unchanged, 1 makes a fully clipped
        pixel 9 times brighter.
    threshold : float, optional
        Linear value (of the brightest channel) where boosting starts.

    Returns
    -------
    ndarray
        float32 values, same shape; may exceed 1.
    """
    if not amount:
        return linear
    x = torch.from_numpy(np.asarray(linear, dtype=np.float32))
    return _boost_highlights_t(x, amount, threshold).numpy()
