"""One side of the focus plane, its depth layers blurred and composited.

:func:`render_side` takes the block means of one side's out-of-focus light
(:func:`bokehme.imaging.depth_render.render_depth` splits the photo into
the side behind the focus plane and the side in front), blurs each depth
layer at the coarsest block size its aperture kernel allows, only where the
layer lies, and lays the layers into one stack (docs/depth.md, "Layers" and
"Compositing the sides").
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

from .aperture import aperture_kernel
from .resample import upsample

__all__ = ["layer_scale", "halved", "layer_share", "covered_box", "render_side"]

# Blocks on a side of the cells on which it is looked up where a layer lies,
# cells in a band of rows blurred at once, and the gap in cells below which
# two runs of a band are blurred as one.
_CELL = 8
_BAND_CELLS = 4
_GAP_CELLS = 4


def layer_scale(radius):
    """Block size (a power of two, at least 2) at which a layer is blurred.

    The largest whose shrunk aperture kernel keeps a radius of at least two
    blocks, ``sqrt(radius ** 2 - scale ** 2) >= 2 * scale`` (docs/depth.md, "Layers").
    """
    return 2 ** max(1, math.floor(math.log2(max(radius, 1.0) / math.sqrt(5))))


def halved(planes):
    """Means of the 2 x 2 blocks of (C, h, w) planes, a lone last row or column on its own.

    What ``avg_pool2d(planes, 2, ceil_mode=True)`` gives, as two strided
    sums, which are faster on the CPU.
    """
    if planes.shape[-2] % 2:
        planes = torch.cat([planes, planes[..., -1:, :]], dim=-2)
    rows = planes[..., 0::2, :] + planes[..., 1::2, :]
    if rows.shape[-1] % 2:
        rows = torch.cat([rows, rows[..., -1:]], dim=-1)
    return rows[..., 0::2].add_(rows[..., 1::2]).mul_(0.25)


def layer_share(offset):
    """A pixel's share in a layer ``offset`` layers away: ``max(0, 1 - |offset|)``, a new tensor."""
    return offset.abs().neg_().add_(1).clamp_(min=0)


def _cells_to_blur(mean, layers, reach):
    """Cells of a level within `reach` blocks of a block of one of `layers`.

    Parameters
    ----------
    mean : Tensor
        (h, w) mean layer position of each block (0 where none is covered;
        a covered block's position is at least 1).
    layers : range
        Consecutive layer indices.
    reach : int
        In blocks.

    Returns
    -------
    (ceil(h / _CELL), ceil(w / _CELL)) bool Tensor
    """
    # A block lies in layer L when its position is within 1 of L; a cell's
    # least and greatest covered positions tell whether one of its blocks may.
    lowest = F.max_pool2d(torch.where(mean > 0, -mean, -math.inf)[None], _CELL, ceil_mode=True).neg_()
    highest = F.max_pool2d(mean[None], _CELL, ceil_mode=True)
    cells = ((lowest < layers[-1] + 1) & (highest > layers[0] - 1)).float()
    grow = -(-reach // _CELL)
    if grow:
        cells = F.max_pool2d(cells, 2 * grow + 1, stride=1, padding=grow)
    return cells[0] > 0


def _runs(cells, shape):
    """Rectangles of a level, in blocks, that hold every cell in `cells`.

    Bands of ``_BAND_CELLS`` rows of cells, each cut into runs of columns
    where cells are needed (gaps of a few cells are bridged: each run costs
    a few calls).

    Yields
    ------
    rows, columns : slice
    """
    height, width = shape
    bands = F.max_pool2d(cells[None].float(), (_BAND_CELLS, 1), ceil_mode=True)[0].numpy() > 0
    band = _BAND_CELLS * _CELL
    for index, needed in enumerate(bands):
        columns = np.flatnonzero(needed)
        if not columns.size:
            continue
        cuts = np.flatnonzero(np.diff(columns) > _GAP_CELLS) + 1
        rows = slice(index * band, min(height, (index + 1) * band))
        for first, last in zip(columns[np.r_[0, cuts]], columns[np.r_[cuts - 1, -1]]):
            yield rows, slice(int(first) * _CELL, min(width, (int(last) + 1) * _CELL))


def _grown(planes, rows, columns, margin):
    """(C, h, w) planes' window `rows`, `columns` grown by `margin`, the level's edges repeated beyond it.

    A view where the grown window lies inside the planes; repeating the edge
    is the replicated border that keeps a layer's coverage up to the frame's
    edge, as the lens's normalized blur does.
    """
    height, width = planes.shape[-2:]
    top, bottom = rows.start - margin, rows.stop + margin
    left, right = columns.start - margin, columns.stop + margin
    if top >= 0 and left >= 0 and bottom <= height and right <= width:
        return planes[:, top:bottom, left:right]
    down = torch.arange(top, bottom).clamp_(0, height - 1)
    across = torch.arange(left, right).clamp_(0, width - 1)
    return planes[:, down[:, None], across]


def _lay_level(stack, level, layers, radii, in_front, blades, blade_rotation):
    """Blur the layers of one block size, most blurred first, and lay each into the side's stack, in place.

    Each layer is blurred with its own coverage as weight, at block size
    `scale`, only in the rectangles of :func:`_runs` (most layers are thin
    bands along depth edges, whose bounding box would still span the frame).

    Parameters
    ----------
    stack : Tensor
        (4 or 5, h, w) float32 stack of the side at the level's block size
        (:func:`render_side`).
    level : Tensor
        (5, h, w) planes of the side (:func:`render_side`), reduced to the block size
        ``layer_scale(radii[layer])`` of every layer in `layers`.
    layers : range
        Layer indices (at least 1), descending.
    radii : ndarray
        Radii (pixels) of the layers, 0 first, increasing.
    in_front : bool
        Whether the layers lie in front of the focus plane (laid 'under').
    """
    scale = layer_scale(float(radii[layers[0]]))
    kernels = []
    for layer in layers:
        # Block averaging and upsampling add about a disc of radius `scale`.
        inner = math.sqrt(max(float(radii[layer]) ** 2 - scale * scale, 0.0)) / scale
        kernel = torch.from_numpy(aperture_kernel(inner, blades, blade_rotation))
        kernels.append(kernel.expand(4, 1, *kernel.shape).contiguous())
    margin = max(kernel.shape[-1] // 2 for kernel in kernels)
    mean = level[4] / level[3].clamp(min=1e-12)
    cells = _cells_to_blur(mean, layers[::-1], margin)
    for rows, columns in _runs(cells, mean.shape):
        colour = _grown(level[:4], rows, columns, margin)
        position = _grown(mean[None], rows, columns, margin)[0]
        part = stack[:, rows, columns]
        for layer, kernel in zip(layers, kernels):
            crop = slice(margin - kernel.shape[-1] // 2, position.shape[0] - margin + kernel.shape[-1] // 2)
            across = slice(crop.start, position.shape[1] - crop.start)
            share = layer_share(position[crop, across] - layer)
            # Channels-last: oneDNN's depth-wise convolution is much faster
            # on four interleaved channels.
            blurred = torch.empty((1, 4) + tuple(share.shape), memory_format=torch.channels_last)
            torch.mul(colour[:, crop, across], share, out=blurred[0])
            if kernel.shape[-1] > 1:
                blurred = F.conv2d(blurred, kernel, groups=4)
            blurred = blurred[0]
            blurred[3].clamp_(0, 1)
            if in_front:
                part[:4].add_(blurred * (1 - part[3:4]))
                part[4].add_(blurred[3])
            else:
                part.mul_(1 - blurred[3:4]).add_(blurred)


def render_side(side, radii, in_front, blades, blade_rotation):
    """Blur and composite one side's layers, from the most blurred inwards.

    Behind the focus plane back to front with 'over', in front front to back
    with 'under' (docs/depth.md, "Compositing the sides").

    Parameters
    ----------
    side : Tensor
        (5, h, w) float32 block means, at half size, of the side's linear
        colour times coverage (3), coverage, and coverage times the layer
        position's magnitude (at least 1).
    radii : ndarray
        Radii (pixels) of the layers, 0 first, increasing.
    in_front : bool
        Whether the side lies in front of the focus plane.
    blades, blade_rotation
        Aperture shape, see :func:`bokehme.imaging.aperture.aperture_kernel`.

    Returns
    -------
    stack : Tensor or None
        (4, h, w) float32 premultiplied linear colour and coverage inside
        `box`, and in front a fifth plane, the summed coverage; None when no
        pixel is on this side.
    box : tuple of slice
        Rows and columns of the half-size frame that `stack` covers.
    """
    # Only around what lies on this side is there anything to blur; the box
    # lies on the coarsest block grid so every level's blocks stay in place.
    box = covered_box(side[3], margin=math.ceil(radii[-1]))
    if box is None:
        return None, None
    grid = layer_scale(float(radii[-1])) // 2
    box = tuple(slice(span.start // grid * grid, min(size, -(-span.stop // grid) * grid))
                for span, size in zip(box, side.shape[1:]))
    side = side[:, box[0], box[1]]
    # Pyramid of block means: level k has blocks of 2 ** (k + 1) pixels.
    pyramid = [side]
    stack = None
    top = len(radii) - 1
    while top > 0:
        scale = layer_scale(float(radii[top]))
        bottom = top
        while bottom > 1 and layer_scale(float(radii[bottom - 1])) == scale:
            bottom -= 1
        while 2 ** len(pyramid) < scale:
            pyramid.append(halved(pyramid[-1]))
        level = pyramid[int(math.log2(scale)) - 1]
        if stack is None:
            # Pixel by pixel in memory, as the convolutions give the layers.
            stack = torch.zeros(tuple(level.shape[1:]) + (5 if in_front else 4,)).permute(2, 0, 1)
            stack_scale = scale
        stack, stack_scale = _enlarged(stack, stack_scale, scale, pyramid)
        _lay_level(stack, level, range(top, bottom - 1, -1), radii, in_front, blades, blade_rotation)
        top = bottom - 1
    return _enlarged(stack, stack_scale, 2, pyramid)[0], box


def _enlarged(stack, stack_scale, scale, pyramid):
    """The stack upsampled, a factor of 2 at a time, from block size `stack_scale` to `scale`.

    Returns
    -------
    stack : Tensor
        (C, h, w) at the size of the pyramid's level for `scale`.
    scale : int
    """
    while stack_scale > scale:
        height, width = pyramid[int(math.log2(stack_scale)) - 2].shape[-2:]
        stack = torch.from_numpy(upsample(stack[None], (height, width), 2)).permute(2, 0, 1)
        stack_scale //= 2
    return stack, stack_scale


def covered_box(coverage, margin=0):
    """Rows and columns where `coverage` (h, w) is nonzero, grown by `margin`; None if nowhere."""
    rows = torch.nonzero(coverage.any(dim=1))
    if not rows.numel():
        return None
    columns = torch.nonzero(coverage.any(dim=0))
    return tuple(slice(max(0, int(first) - margin), min(size, int(last) + 1 + margin))
                 for first, last, size in ((rows[0], rows[-1], coverage.shape[0]),
                                           (columns[0], columns[-1], coverage.shape[1])))
