"""Resampling on float32 arrays and tensors: block sums and means, bilinear resizing.

The blur and the matte both work at reduced resolution and come back to full
resolution at the end; these are the reductions and enlargements they share.
Full-resolution passes go strip by strip of rows, so their temporaries stay
in cache and no full-size copy is made.
"""

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .samples import to_samples, to_unit_float

__all__ = [
    "block_mean",
    "block_sums",
    "block_counts",
    "upsample",
    "upsample_rows",
    "resize_map",
    "resized_block_mean",
    "resize_image",
    "resize_image_to_uint8",
    "size_for_long_side",
    "cover",
    "bilinear_taps",
    "resize_bilinear",
]

# Full-resolution pixels handled at once, so that the per-pixel work
# (transfer curve, weighting, interpolation) stays in cache.
_STRIP_PIXELS = 1 << 19


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


def block_counts(height, width, scale):
    """Number of real pixels in each ``scale``-pixel block of an (H, W) image, as a (h, w, 1) tensor."""
    def counts(n):
        c = torch.full((-(-n // scale),), float(scale))
        c[-1] = n - scale * (c.numel() - 1)
        return c
    return torch.outer(counts(height), counts(width))[..., None]


def block_mean(image, scale):
    """Average ``scale`` x ``scale`` blocks of an (H, W[, C]) array.

    Blocks at the right and bottom edges average only the pixels they hold.
    A float32 array in [0, 1] is returned as it is at scale 1; a uint8 one
    in [0, 255] (a video frame) comes back as float32 in [0, 1].

    Notes
    -----
    8-bit sums are exact and divided by the pixel count, so white stays
    exactly white.  A float array's whole blocks are averaged by OpenCV's
    area resize, which multiplies their sums by the reciprocal of the count:
    the two agree to within two units in the last place.
    """
    eight_bit = image.dtype == np.uint8
    if scale == 1:
        return to_unit_float(image) if eight_bit else image
    gray = image.ndim == 2
    planes = image[..., None] if gray else image
    if eight_bit and scale <= _EXACT_8BIT_SCALE:
        small = _block_sums_8bit(planes, scale)
        _divide_by_counts(small, *image.shape[:2], scale)
        small *= np.float32(1 / 255)
    elif eight_bit:
        # Strips of whole blocks become floats while in cache, not as a full-size copy.
        rows = max(1, _STRIP_PIXELS // (image.shape[1] * scale)) * scale
        small = np.concatenate([_float_block_means(planes[top:top + rows].astype(np.float32), scale)
                                for top in range(0, image.shape[0], rows)])
        small *= np.float32(1 / 255)
    else:
        small = _float_block_means(planes, scale)
    return small[..., 0] if gray else small


def _float_block_means(image, scale):
    """Block means of an (H, W, C) float array, as (h, w, C) float32.

    OpenCV's area resize averages the whole blocks, several times faster
    than adding rows and columns with torch; the partial blocks at the
    right and bottom edges are summed here.
    """
    height, width, channels = image.shape
    image = image.astype(np.float32, copy=False)
    rows, cols = height // scale, width // scale
    if rows and cols:
        whole = cv2.resize(image[:rows * scale, :cols * scale], (cols, rows), interpolation=cv2.INTER_AREA)
        whole = whole.reshape(rows, cols, channels)
        if rows * scale == height and cols * scale == width:
            return whole
    small = np.empty((-(-height // scale), -(-width // scale), channels), np.float32)
    if rows and cols:
        small[:rows, :cols] = whole
    counts = block_counts(height, width, scale).numpy()
    if cols < small.shape[1]:
        edge = np.add.reduceat(image[:, cols * scale:].sum(axis=1), np.arange(0, height, scale), axis=0)
        small[:, cols] = edge / counts[:, cols]
    if rows < small.shape[0] and cols:
        edge = np.add.reduceat(image[rows * scale:, :cols * scale].sum(axis=0), np.arange(0, cols * scale, scale),
                               axis=0)
        small[rows, :cols] = edge / counts[rows, :cols]
    return small


def _divide_by_counts(sums, height, width, scale):
    """Block sums of an (H, W) image, (h, w, C) float32, divided in place by their pixel counts.

    Whole blocks are divided by one number: numpy broadcasts a count per
    block over the colours several times slower.  The quotients are those of
    dividing by :func:`block_counts`, bit for bit.
    """
    rows, cols = height // scale, width // scale
    sums[:rows, :cols] /= np.float32(scale * scale)
    counts = block_counts(height, width, scale).numpy()
    sums[:, cols:] /= counts[:, cols:]
    sums[rows:, :cols] /= counts[rows:, :cols]


#: Up to this block size, 8-bit block sums are exact in float32 (below 2**24).
_EXACT_8BIT_SCALE = 256


def _block_sums_8bit(image, scale):
    """Sums of ``scale`` x ``scale`` blocks of an (H, W, C) uint8 array, as (h, w, C) float32.

    Integer sums are exact, so they equal the float sums of :func:`block_mean`
    whatever the order of adding; rows are added as 16-bit integers and
    columns by OpenCV's running sums, both several times faster than
    widening the whole frame to floats first.
    """
    height, width, channels = image.shape
    whole = height // scale
    rows = image[:whole * scale].reshape(whole, scale, width, channels).sum(1, dtype=np.uint16)
    if whole * scale < height:
        rows = np.concatenate([rows, image[whole * scale:].sum(0, dtype=np.uint16)[None]])
    # A window of `scale` columns anchored at its first, every `scale`-th kept.
    sums = cv2.boxFilter(rows.reshape(len(rows), width, channels), cv2.CV_32F, (scale, 1), anchor=(0, 0),
                         normalize=False, borderType=cv2.BORDER_CONSTANT)
    # Gathered, not copied from a strided view: numpy copies those value by value.
    return np.take(sums.reshape(len(rows), width, channels), np.arange(0, width, scale), axis=1)


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
        sums[..., channels:] = block_counts(height, width, scale)
    else:
        _sum_columns(row_sums, scale, sums)
    return reduced


def upsample(small, shape, scale, dtype=np.float32):
    """Bilinearly upsample a reduced (1, C, h, w) result to (H, W, C).

    Parameters
    ----------
    small : Tensor
        (1, C, h, w) float32 values of blocks of `scale` pixels, as
        :func:`block_sums` lays them out.
    shape : tuple of int
        Full-resolution (H, W).
    scale : int
        The block size.
    dtype : np.float32 or np.uint8, optional
        np.uint8 rounds values in [0, 1] to 8 bits strip by strip
        (:func:`bokehme.imaging.samples.to_samples`), with no full-size
        float array.

    Returns
    -------
    ndarray
        (H, W, C) of `dtype`.
    """
    height, width = shape
    layers = small[0].permute(1, 2, 0).contiguous().numpy()
    out = np.empty((height, width, layers.shape[2]), dtype)
    # OpenCV's bilinear resize takes source pixel centres as torch's
    # ``align_corners=False`` does, several times faster than torch; strip
    # by strip, each with the source row on either side it reads, so no
    # second full-size array is made.
    rows = max(1, _STRIP_PIXELS // (width * scale))
    for first in range(0, layers.shape[0], rows):
        last = min(layers.shape[0], first + rows)
        below, above = max(0, first - 1), min(layers.shape[0], last + 1)
        strip = cv2.resize(layers[below:above], (layers.shape[1] * scale, (above - below) * scale),
                           interpolation=cv2.INTER_LINEAR)
        top, bottom = first * scale, min(height, last * scale)
        skip = (first - below) * scale
        strip = strip.reshape(strip.shape[0], strip.shape[1], -1)[skip:skip + bottom - top, :width]
        out[top:bottom] = strip if dtype == np.float32 else to_samples(strip, dtype)
    return out


def upsample_rows(small, shape, scale, top, bottom):
    """Rows ``top:bottom`` of :func:`upsample`, computed from the rows they need.

    Lets a caller finish a full-resolution result strip by strip while each
    strip is still in cache, without a full-size upsampled copy.  The output
    is what ``F.interpolate(mode="bilinear", align_corners=False)`` gives
    for the integer scale, computed one phase of the scale at a time.

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
    # interpolation of whole rows (then columns), where a general resampling
    # would weigh every pixel on its own.
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


def resize_map(x, shape):
    """Bilinear resize of an (h, w) map (probability, alpha, disparity).

    Parameters
    ----------
    x : (h, w) ndarray
    shape : (int, int)
        The (H, W) wanted.

    Returns
    -------
    (H, W) float32 ndarray
    """
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None, None]
    return F.interpolate(t, size=shape, mode="bilinear", align_corners=False)[0, 0].numpy()


def resized_block_mean(x, shape, scale):
    """Block means of ``resize_map(x, shape)``, without making it.

    Bilinear resizing and block averaging are both linear and separable, so
    the two together are one small matrix per axis: a map a few times
    smaller than the photo is brought to the photo's block grid without a
    full-resolution pass.

    Parameters
    ----------
    x : (h, w) ndarray
        A map (probability, alpha, disparity).
    shape : (int, int)
        The (H, W) it would be resized to.
    scale : int
        Block size, as for :func:`block_mean` (edge blocks average only the
        pixels they hold).

    Returns
    -------
    (ceil(H / scale), ceil(W / scale)) float32 ndarray
    """
    x = torch.from_numpy(np.asarray(x, dtype=np.float64))
    rows = _resized_block_weights(shape[0], x.shape[0], scale)
    columns = _resized_block_weights(shape[1], x.shape[1], scale)
    return (rows @ x @ columns.T).float().numpy()


def _resized_block_weights(n_out, n_in, scale):
    """(ceil(n_out / scale), n_in) float64 weights: each block's mean of a bilinear resize's taps."""
    first, second, first_weight, second_weight = bilinear_taps(n_out, n_in)
    block = torch.arange(n_out) // scale
    weights = torch.zeros((-(-n_out // scale), n_in), dtype=torch.float64)
    weights.index_put_((block, first), first_weight.double(), accumulate=True)
    weights.index_put_((block, second), second_weight.double(), accumulate=True)
    return weights / torch.bincount(block)[:, None]


def resize_image(image, size):
    """Resize an (H, W, 3) image to `size` = (h, w), anti-aliased.

    Parameters
    ----------
    image : ndarray
        float32 in [0, 1], or uint8 in [0, 255] as a video frame comes:
        torch resizes 8-bit pixels in integer arithmetic, several times
        faster, to within one level of the float result.
    size : (int, int)

    Returns
    -------
    Tensor
        (1, 3, h, w) float32 in [0, 1]; torch does the work multi-threaded.
    """
    if image.dtype == np.uint8:
        return _resize_uint8(image, size).float().div_(255)
    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]
    if tuple(tensor.shape[-2:]) == tuple(size):
        return tensor.contiguous()
    return F.interpolate(tensor, size=size, mode="bilinear", antialias=True, align_corners=False)


def resize_image_to_uint8(image, size):
    """:func:`resize_image` as an (h, w, 3) uint8 array in [0, 255], rounded."""
    if image.dtype == np.uint8:
        return np.ascontiguousarray(_resize_uint8(image, size)[0].permute(1, 2, 0).numpy())
    small = resize_image(image, size)[0].permute(1, 2, 0)
    return np.ascontiguousarray((small.clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy())


def _resize_uint8(image, size):
    """An (H, W, 3) uint8 array resized to a (1, 3, h, w) uint8 tensor."""
    tensor = torch.from_numpy(np.require(image, requirements=("C", "W"))).permute(2, 0, 1)[None]
    if tuple(tensor.shape[-2:]) == tuple(size):
        return tensor
    return F.interpolate(tensor, size=size, mode="bilinear", antialias=True, align_corners=False)


def size_for_long_side(shape, long_side):
    """The (h, w) of an image of `shape` scaled so that its long side is `long_side`."""
    h, w = shape[:2]
    scale = long_side / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def cover(image, shape):
    """Scale an image to cover `shape` and crop it about its centre, as a background fills a frame.

    Parameters
    ----------
    image : (h, w, 3) float32 ndarray
        sRGB in [0, 1].
    shape : (int, int)
        The (H, W) to fill.

    Returns
    -------
    (H, W, 3) float32 ndarray
        `image` scaled by ``max(H / h, W / w)`` (anti-aliased when it
        shrinks), its overhang cut equally on both sides.
    """
    height, width = shape
    scale = max(height / image.shape[0], width / image.shape[1])
    size = (max(height, round(image.shape[0] * scale)), max(width, round(image.shape[1] * scale)))
    scaled = resize_image(np.ascontiguousarray(image, dtype=np.float32), size)[0].permute(1, 2, 0)
    top, left = (size[0] - height) // 2, (size[1] - width) // 2
    return np.ascontiguousarray(scaled[top:top + height, left:left + width].clamp(0, 1).numpy())


def bilinear_taps(n_out, n_in):
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


def resize_bilinear(planes, size):
    """Bilinear resize of (C, h, w) planes, the same whatever the number of threads.

    What ``F.interpolate(mode="bilinear", align_corners=False)`` gives, to
    float rounding, but made of gathers and element-wise sums whose result
    does not depend on how torch splits the work among its threads.

    Parameters
    ----------
    planes : Tensor
        (C, h, w) float32, on the CPU (its columns are gathered with numpy).
    size : (int, int)
        The (H, W) wanted.

    Returns
    -------
    Tensor
        (C, H, W) float32.
    """
    top, bottom, top_weight, bottom_weight = bilinear_taps(size[0], planes.shape[1])
    left, right, left_weight, right_weight = bilinear_taps(size[1], planes.shape[2])
    rows = (planes.index_select(1, top) * top_weight[:, None]
            + planes.index_select(1, bottom) * bottom_weight[:, None]).numpy()

    def columns(index):
        # numpy gathers along the last axis several times faster than torch.
        return torch.from_numpy(np.take(rows, index.numpy(), axis=2))

    return columns(left) * left_weight + columns(right) * right_weight
