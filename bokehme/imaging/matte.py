"""The subject's alpha: a segmenter's low-resolution probability made full-resolution.

A segmentation network sees the photo at a few hundred pixels; its
probability map is blocky at full resolution.  A guided filter with the
photo as guide fits, in every window, a linear model from the photo's
colours to that probability, so the alpha follows the real edges and fine
strands of the photo.  The model is fitted at low resolution and evaluated
at full resolution only where the alpha is not already sure
(docs/matte.md).
"""

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .colour import colours_at, srgb_array
from .guided_filter import coefficient_planes, guided_coefficients, linear_model
from .half_sharp import SURE, without_half_sharp
from .plain_ground import grown_over_plain_ground
from .resample import bilinear_taps, block_mean, resize_bilinear, resize_map
from .threads import kept_threads

__all__ = ["refine_alpha", "alpha_model", "evaluate_alpha"]

# Pixels per strip of the alpha evaluation: the strip's temporaries stay
# small, and there are few enough strips for their overhead not to count.
_STRIP_PIXELS = 1 << 20


def refine_alpha(image, probability, *, radius=None, eps=1e-4, fill_subject=True):
    """Turn a low-resolution subject probability into a full-resolution alpha.

    Parameters
    ----------
    image : ndarray
        (H, W, 3) float32 sRGB photo in [0, 1], the guide; or uint8 in
        [0, 255] (a video frame), read as ``v / 255``.
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
    fill_subject : bool, optional
        Whether the subject takes what the segmenter half-missed: what
        stands out of plain ground joined to it
        (:func:`bokehme.imaging.plain_ground.grown_over_plain_ground`) and
        the holes in it that the segmenter never called background
        (:func:`bokehme.imaging.half_sharp.without_half_sharp`).  A scrub
        keeps only what the segmenter chose: a bystander's arm touching the
        subject against a plain wall must not become sharp.

    Returns
    -------
    ndarray
        (H, W) float32 alpha in [0, 1], 1 = subject.  It is exactly 1 inside
        the subject and exactly 0 far from it.
    """
    image = srgb_array(image)
    return evaluate_alpha(*alpha_model(image, probability, radius, eps, fill_subject), image)


def alpha_model(image, probability, radius=None, eps=1e-4, fill_subject=True):
    """Low-resolution coefficients of the alpha, see :func:`refine_alpha`.

    Parameters
    ----------
    image, probability, radius, eps, fill_subject
        As for :func:`refine_alpha`.

    Returns
    -------
    a : ndarray
        (h, w, 3) float32 colour coefficients, a view of three planes.
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
    guide = block_mean(image, factor)
    prob = resize_map(probability, guide.shape[:2])
    small_radius = max(1, round(radius / factor))
    # What the segmenter missed of a subject that stands out of plain ground
    # (legs against a black backdrop) is subject: the fit below then follows
    # the photo's edge there.
    if fill_subject:
        prob = grown_over_plain_ground(guide, prob)
    # Where the segmenter is unsure but no outline can be (a hole in the
    # subject, a wide patch of doubt), the alpha must not render half-sharp.
    prob = without_half_sharp(prob, fill_holes=fill_subject)
    # The probability is the subject's alpha seen at low resolution.  Fitting
    # it against the photo seen the same way keeps thin strands from being
    # averaged away: if alpha = a.I + b locally, the same a, b hold for
    # their low-resolution versions.
    if prob.shape != probability.shape:
        guide = _degrade(guide, probability.shape)
    # Where no edge of the photo follows the probability's ramp, the ramp
    # is the network's coarseness, not a soft outline: the alpha takes the
    # subject-or-not decision there instead of wandering into the background.
    a, b = guided_coefficients(guide, prob, small_radius, eps, fallback=(prob > 0.5).astype(np.float32))
    # Far from the subject the map is ~0 but never exactly; there the alpha
    # is made exactly 0.  Where the segmenter is sure of the subject, a
    # textured subject must not make the linear model dip below 1.
    window = np.ones((2 * small_radius + 1,) * 2, np.uint8)
    # OpenCV's dilation is scipy's maximum_filter, many times faster.
    # Sure as the settling above counts it.
    far = (cv2.dilate(prob, window, borderType=cv2.BORDER_REPLICATE) <= SURE).view(np.uint8)
    # Zeros copied in by OpenCV, plane by plane (`a` is a view of three
    # contiguous ones): numpy's boolean assignment is several times slower.
    zeros = np.zeros_like(b)
    for plane in (*np.moveaxis(a, -1, 0), b):
        cv2.copyTo(zeros, far, plane)
    floor = np.clip((prob - (1 - 2 * SURE)) / SURE, 0, 1)
    return a, b, floor


def _degrade(image, shape):
    """An (H, W, 3) image seen at resolution ``shape`` and resized back.

    The result is a view of three contiguous colour planes, as the guided
    fit reads the guide: interleaving them would cost more than the resize.
    """
    t = torch.from_numpy(image).permute(2, 0, 1)[None]
    low = F.interpolate(t, size=shape, mode="area")
    # Resized back the same way whatever the thread count: the guided filter
    # would turn torch's last-bit differences into visible ones.
    back = resize_bilinear(low[0], image.shape[:2])
    return back.permute(1, 2, 0).numpy()


def evaluate_alpha(a, b, floor, image):
    """The alpha of :func:`alpha_model`'s coefficients, computed only where needed.

    Equal to ``clip(apply_coefficients(a, b, image, floor), 0, 1)``
    (:func:`bokehme.imaging.guided_filter.apply_coefficients`) to float
    rounding.

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
        (H, W, 3) float32 guide, or uint8 read as ``v / 255``.

    Returns
    -------
    ndarray
        (H, W) float32 alpha in [0, 1].
    """
    # Its colours are gathered through a flat view.
    image = np.ascontiguousarray(image)
    height, width = image.shape[:2]
    row_taps = bilinear_taps(height, a.shape[0])
    col_taps = bilinear_taps(width, a.shape[1])
    # The output splits into rectangles of pixels that read the same four
    # cells: rows of rectangles share their cell rows, columns their columns.
    top, row_rects = torch.unique_consecutive(row_taps[0], return_inverse=True)
    left, col_rects = torch.unique_consecutive(col_taps[0], return_inverse=True)
    bottom = (top + 1).clamp_(max=a.shape[0] - 1)
    zero = (b == 0) & (floor <= 0)
    for channel in np.moveaxis(a, -1, 0):
        zero &= channel == 0
    rect_alpha = _sure_alpha(zero, floor >= 1, top.numpy(), left.numpy())
    # Per rectangle row and output column: all rows of a rectangle row
    # are alike.
    sure = torch.from_numpy(rect_alpha).index_select(1, col_rects)
    # The output columns of each rectangle column: consecutive, from its first.
    col_counts = np.bincount(col_rects.numpy(), minlength=len(left))
    col_firsts = np.cumsum(col_counts) - col_counts
    planes = coefficient_planes(a, b, floor)
    alpha = torch.empty((height, width))

    def evaluate(start):
        rects = row_rects[start:start + strip]
        block = torch.index_select(sure, 0, rects, out=alpha[start:start + strip])
        first, last = rects[0].item(), rects[-1].item() + 1
        pair_rects, pair_cols = _unsure_pairs(rect_alpha[first:last], col_counts, col_firsts)
        if not len(pair_cols):
            return
        # Torch blends along cell rows first: once per pair, for all the
        # rows of its rectangle row.
        upper, lower = _column_blends(
            planes, (top[first:last][pair_rects], bottom[first:last][pair_rects]),
            col_taps, pair_cols)
        # A rectangle row's rows of the strip follow each other from its first.
        counts = torch.bincount(rects - first, minlength=last - first)
        firsts = (counts.cumsum(0) - counts).index_select(0, pair_rects)
        counts = counts.index_select(0, pair_rects)
        lasts = firsts + counts - 1
        pixels_of_strip = image[start:start + strip]
        # Phase by phase, the pixels that many rows below their rectangle
        # row's first: one per pair, so the pairs' blends serve as they are.
        for phase in range(int(counts.max())):
            u, l, rows, cols = upper, lower, firsts + phase, pair_cols
            reaching = int(torch.count_nonzero(counts > phase))
            if reaching < len(counts) // 2:
                # Few rectangle rows are this tall (the first, at the
                # border): their pairs are gathered.
                taken = torch.nonzero(counts > phase)[:, 0]
                u, l = _gather_columns(upper, taken), _gather_columns(lower, taken)
                rows, cols = rows.index_select(0, taken), cols.index_select(0, taken)
            elif reaching < len(counts):
                # A shorter rectangle row's pairs take their last row again:
                # the same pixels, the same values.
                torch.minimum(rows, lasts, out=rows)
            pixels = rows * width + cols
            rows += start
            coeffs = u.mul(row_taps[2].index_select(0, rows)).add_(l.mul(row_taps[3].index_select(0, rows)))
            # Gathered as planes, which the model reads through their transpose.
            value = linear_model(coeffs, colours_at(pixels_of_strip, pixels).T).clamp_(0, 1)
            block.view(-1).index_copy_(0, pixels, value)

    # Strip by strip, the temporaries stay small; two strips at once (this
    # thread and a kept one), as much of a strip's work is too small for
    # torch's own threads.
    strip = max(1, _STRIP_PIXELS // width)
    starts = range(0, height, strip)
    odd = kept_threads().submit(lambda: [evaluate(start) for start in starts[1::2]]) if len(starts) > 1 else None
    try:
        for start in starts[::2]:
            evaluate(start)
    finally:
        # Also when this thread's strips failed: the kept thread writes into
        # `alpha` until it is done, and its own error must not be lost.
        if odd is not None:
            odd.result()
    return alpha.numpy()


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
        :func:`bilinear_taps` of the output's columns.
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


def _unsure_pairs(rect_alpha, col_counts, col_firsts):
    """The (rectangle row, output column) pairs whose alpha must be computed, in that order.

    Found among the rectangles, a few times fewer than the pairs, and each
    spread over the output columns of its rectangle column.

    Parameters
    ----------
    rect_alpha : ndarray
        (R, C) float32 :func:`_sure_alpha` of the rectangles.
    col_counts, col_firsts : ndarray
        (C,) int64 output columns of each rectangle column, and its first.

    Returns
    -------
    rows, cols : Tensor
        (P,) int64 rectangle row and output column of every pair.
    """
    rows, rect_cols = np.divmod(np.flatnonzero(np.isnan(rect_alpha)), rect_alpha.shape[1])
    widths = col_counts[rect_cols]
    # A pair's column: its place among all pairs, shifted to its rectangle's first.
    shift = col_firsts[rect_cols] - (np.cumsum(widths) - widths)
    cols = np.arange(widths.sum()) + np.repeat(shift, widths)
    return torch.from_numpy(np.repeat(rows, widths)), torch.from_numpy(cols)


def _sure_alpha(zero, one, top, left):
    """The alpha of pixels whose four bilinear cells are all zero or all one.

    Parameters
    ----------
    zero, one : ndarray
        (h, w) bool cells where the alpha is surely 0, surely 1.
    top, left : ndarray
        (R,), (C,) int64 the first cell row and column that the rectangles
        of output pixels read; each reads the next one too, or the same one
        at the last.

    Returns
    -------
    ndarray
        (R, C) float32 per rectangle: 0 or 1, NaN where it must be computed.
    """
    window = np.ones((2, 2), np.uint8)

    def all_four(cells):
        # A cell and the ones right of and below it, the border repeated:
        # the erosion by a 2x2 window anchored at its first.
        alike = cv2.erode(cells.view(np.uint8), window, anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)
        # An output at least as large as the cells reads every one of them.
        if len(top) < len(alike):
            alike = np.take(alike, top, axis=0)
        if len(left) < alike.shape[1]:
            alike = np.take(alike, left, axis=1)
        return alike.view(bool)

    alpha = np.full((len(top), len(left)), np.nan, np.float32)
    alpha[all_four(zero)] = 0
    alpha[all_four(one)] = 1
    return alpha
