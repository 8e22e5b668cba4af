"""Depth-aware lens blur: blur that grows with distance from the focus plane.

:func:`render_depth` renders the circle of confusion of
:func:`bokehme.imaging.depth_map.blur_radius_map` as a stack of depth
layers, each blurred with the aperture kernel and composited back to front,
so that a blurred object in front spills over what lies behind it while
nothing behind ever bleeds onto what is in front (docs/depth.md).
"""

import math

import numpy as np
import torch

from .colour import linear_to_srgb, to_light
from .depth_layers import covered_box, halved, layer_share, render_side
from .depth_map import DEFAULT_DEPTH_OF_FIELD, blur_radius_map, snap_depth_steps, upsample_disparity
from .fill import fill_holes
from .resample import upsample_rows

__all__ = ["render_depth"]

# Radii (pixels) of the depth layers a radius map is quantised into: a pixel
# between two layers is shared by both in proportion, so a 1.5 ratio keeps
# the mixture of two discs close to one disc of the true radius (its second
# moment within 5 %).
_FIRST_LAYER_RADIUS = 2.0
_LAYER_RATIO = 1.5

# Full-resolution pixels handled at once by a pass of several steps, so
# that the steps run in cache.
_STRIP_PIXELS = 1 << 18

def _layer_radii(max_radius):
    """Radii of the layers on each side of the focus plane: 0, then geometric."""
    radii = [0.0]
    while radii[-1] < max_radius:
        radii.append(max(_FIRST_LAYER_RADIUS, radii[-1] * _LAYER_RATIO))
    return np.array(radii, np.float32)


def _strip_rows(width):
    """Rows of a strip of about ``_STRIP_PIXELS`` pixels, an even number (whole blocks of 2 x 2)."""
    return max(2, _STRIP_PIXELS // width // 2 * 2)


def _layer_position(disparity, focus, radius, alpha):
    """Signed, fractional layer index of every pixel (negative = behind focus).

    A pixel with position ``q`` belongs to layer ``floor(|q|)`` with weight
    ``1 - frac(|q|)`` and to the next with weight ``frac(|q|)``.

    Parameters
    ----------
    disparity, focus
        As for :func:`render_depth`.
    radius : (H, W) float32 ndarray
        :func:`~bokehme.imaging.depth_map.blur_radius_map`; overwritten by
        the positions.
    alpha : (H, W) float32 ndarray or None
        Where it is 1 the radius is taken as 0.

    Returns
    -------
    position : Tensor
        (H, W) float32, sharing `radius`'s memory.
    largest : float
        The largest radius left where `alpha` is below 1.
    """
    position = torch.from_numpy(radius)
    disparity = torch.from_numpy(np.asarray(disparity, dtype=np.float32))
    alpha = None if alpha is None else torch.from_numpy(np.asarray(alpha, dtype=np.float32))
    largest = 0.0
    # Strip by strip, so that the several passes below run in cache.
    step = _strip_rows(position.shape[1])
    for top in range(0, position.shape[0], step):
        rows = slice(top, top + step)
        linear = position[rows]
        if alpha is not None:
            linear.masked_fill_(alpha[rows] >= 1, 0)
        largest = max(largest, float(linear.max()))
        linear.div_(_FIRST_LAYER_RADIUS)
        beyond = linear.clamp(min=1).log_().mul_(1 / math.log(_LAYER_RATIO))
        linear.clamp_(max=1).add_(beyond)
        linear.copysign_(disparity[rows] - focus)
    return position, largest


def _split_sides(image, position, highlights):
    """The out-of-focus light behind and in front of the focus plane, at half size.

    Every pixel gives its in-focus share ``max(0, 1 - |q|)`` to the sharp
    photo and the rest to its side (docs/depth.md, "Layers").

    Returns
    -------
    behind, front : Tensor
        (5, ceil(H / 2), ceil(W / 2)) float32 planes: colour * coverage (3),
        coverage, coverage * |position| (at least 1).
    """
    height, width = position.shape
    size = (5, -(-height // 2), -(-width // 2))
    behind, front = torch.empty(size), torch.empty(size)
    pixels = torch.from_numpy(image)
    step = _strip_rows(width)
    both = torch.empty((5, step, width))
    for top in range(0, height, step):
        pos = position[top:top + step]
        planes = both[:, :pos.shape[0]]
        distance = pos.abs()
        coverage = torch.clamp(distance, max=1, out=planes[3])
        colour = to_light(pixels[top:top + pos.shape[0]], highlights).permute(2, 0, 1)
        torch.mul(colour, coverage, out=planes[:3])
        torch.mul(distance.clamp_(min=1), coverage, out=planes[4])
        half = halved(planes)
        rows = slice(top // 2, top // 2 + half.shape[1])
        # Most strips hold one side only; only where both are does the
        # one behind need a sum of its own.
        is_behind = pos < 0
        if not bool(is_behind.any()):
            front[:, rows], behind[:, rows] = half, 0
        elif not bool((pos > 0).any()):
            behind[:, rows], front[:, rows] = half, 0
        else:
            behind[:, rows] = halved(planes.mul_(is_behind))
            torch.sub(half, behind[:, rows], out=front[:, rows]).clamp_(min=0)
    return behind, front


def _encoded(stack, box):
    """sRGB colour times coverage, and coverage, of a half-size linear stack, in its own memory.

    Premultiplied, so that upsampling never mixes the colour of uncovered
    pixels into a fading edge.

    Parameters
    ----------
    stack, box
        As :func:`render_side` returns them (None for no stack).

    Returns
    -------
    planes : (4, h, w) Tensor or None
        A view of `stack`, cropped to its covered blocks and one block
        more, so that it is zero at its edges wherever they lie inside the
        frame; None where nothing is covered.
    corner : (int, int)
        The first row and column of `planes` in the half-size frame.
    """
    covered = None if stack is None else covered_box(stack[3], margin=1)
    if covered is None:
        return None, (0, 0)
    # Only where the stack has coverage is there a colour to encode; a near
    # object's stack usually covers a small part of the frame.
    stack = stack[:, covered[0], covered[1]]
    # Strip by strip: the encoding's several passes then run in cache.
    step = _strip_rows(stack.shape[2])
    for top in range(0, stack.shape[1], step):
        part = stack[:, top:top + step]
        colour = linear_to_srgb(part[:3] / part[3:4].clamp(min=1e-12))
        torch.mul(colour, torch.clamp(part[-1], max=1, out=part[3]), out=part[:3])
    return stack[:4], (box[0].start + covered[0].start, box[1].start + covered[1].start)


def _in_frame(planes, corner, size):
    """Encoded planes (:func:`_encoded`) over the whole half-size frame `size`, zero where they are not."""
    if planes is not None and corner == (0, 0) and tuple(planes.shape[1:]) == tuple(size):
        return planes
    out = torch.zeros((4,) + tuple(size))
    if planes is not None:
        out[:, corner[0]:corner[0] + planes.shape[1], corner[1]:corner[1] + planes.shape[2]] = planes
    return out


def _in_focus_share(image, position, box):
    """Block means, at half size inside `box`, of the photo times its in-focus share, and the share.

    Only where a near object's blur reaches is this needed, usually a small
    part of the frame, so it is taken there rather than for every pixel.

    Returns
    -------
    Tensor
        (4, h, w) float32 for the half-size slices `box`: sRGB colour times
        share (3), share.
    """
    height, width = position.shape
    rows = slice(2 * box[0].start, min(height, 2 * box[0].stop))
    columns = slice(2 * box[1].start, min(width, 2 * box[1].stop))
    out = torch.empty((4, box[0].stop - box[0].start, box[1].stop - box[1].start))
    pixels = torch.from_numpy(image)
    step = _strip_rows(width)
    for top in range(rows.start, rows.stop, step):
        bottom = min(rows.stop, top + step)
        share = layer_share(position[top:bottom, columns])
        planes = torch.cat([pixels[top:bottom, columns].permute(2, 0, 1) * share, share[None]])
        half = halved(planes)
        first = (top - rows.start) // 2
        out[:, first:first + half.shape[1]] = half
    return out


def _fill_hidden(behind, front, image, position):
    """Lay under the behind plane what a blurred near object hides, in place.

    The hole in the middle plane is filled by push-pull from its covered
    content around it, never from the object (docs/depth.md, "What a near
    object hides"); ``(1 - share) * (1 - behind alpha)`` of the fill is
    exactly what the middle plane lacked.

    Parameters
    ----------
    behind : (4, h, w) float32 Tensor
        Premultiplied sRGB colour and coverage of the stack behind over
        the whole half-size frame (:func:`_in_frame`).
    front : (Tensor or None, (int, int))
        The stack in front, as :func:`_encoded` returns it.
    image, position
        As for :func:`_composite_planes`.
    """
    planes, corner = front
    if planes is None:
        return
    # Two blocks beyond the near stack, so the seam lies where nothing in
    # front is left to show it.
    box = tuple(slice(max(0, start + span.start - 2), min(size, start + span.stop + 2))
                for span, start, size in zip(covered_box(planes[3]), corner, behind.shape[1:]))
    focused = _in_focus_share(image, position, box)
    share = focused[3:4]
    below = behind[:, box[0], box[1]]
    visible = 1 - share
    colour = torch.addcmul(focused[:3], below[:3], visible)
    coverage = visible.mul_(below[3:4]).add_(share)
    # Where at least half the middle plane is there its own colour is the
    # estimate, as renormalizing it would give; only below that do
    # coarser blocks take part.
    filled = fill_holes(colour[None], coverage[None], 0.5)[0]
    below[:3].addcmul_(filled, 1 - below[3:4])
    below[3] = 1


def render_depth(image, disparity, focus, max_radius, *, blades=0, blade_rotation=0.0,
                 highlights=0.0, alpha=None, depth_of_field=DEFAULT_DEPTH_OF_FIELD):
    """Render a photo as a fast lens focused at one depth would have taken it.

    The radius map of :func:`~bokehme.imaging.depth_map.blur_radius_map` is
    quantised into depth layers; each out-of-focus layer is blurred in
    linear light with the aperture kernel at its radius and its own coverage
    as weight, and the layers are composited back to front: those behind
    the focus plane, the photo's own in-focus pixels, those in front.  What
    a near object hides is filled from what is visible around it
    (docs/depth.md).

    Parameters
    ----------
    image : (H, W, 3) float32 ndarray
        sRGB photo in [0, 1].
    disparity : (h, w) float32 ndarray
        Disparity in [0, 1], near = 1, at the photo's resolution or lower
        (then upsampled with :func:`~bokehme.imaging.depth_map.upsample_disparity`).
    focus : float
        Disparity of the focus plane, see :func:`bokehme.imaging.depth_map.focus_disparity`.
    max_radius : float
        Blur radius in pixels of the farthest background, and the largest.
    blades, blade_rotation
        Aperture shape, see :func:`bokehme.imaging.aperture.aperture_kernel`.
    highlights : float, optional
        Highlight boost, see :func:`bokehme.imaging.colour.boost_highlights`.
    alpha : (H, W) float32 ndarray, optional
        Subject matte; pixels with ``alpha == 1`` are kept in focus whatever
        their disparity says (depth maps are least reliable at fine hair).
    depth_of_field : float, optional
        See :func:`~bokehme.imaging.depth_map.blur_radius_map`.

    Returns
    -------
    (H, W, 3) float32 ndarray
        sRGB in [0, 1].  Pixels whose radius is 0 and that no blurred layer
        in front reaches equal the input bit for bit.
    """
    image = np.ascontiguousarray(image, dtype=np.float32)
    shape = image.shape[:2]
    disparity = np.asarray(disparity, dtype=np.float32)
    if disparity.shape != shape:
        disparity = upsample_disparity(image, disparity)
    disparity = snap_depth_steps(disparity, focus, depth_of_field)
    position, largest = _layer_position(disparity, focus, blur_radius_map(disparity, focus, max_radius,
                                                                          depth_of_field), alpha)
    # The positions carry the side; a snapped copy of the map is let go here.
    del disparity
    if not largest:
        return image.copy()
    radii = _layer_radii(largest)
    behind, front = _split_sides(image, position, highlights)
    half = behind.shape[1:]
    behind = _in_frame(*_encoded(*render_side(behind, radii, False, blades, blade_rotation)), half)
    front = _encoded(*render_side(front, radii, True, blades, blade_rotation))
    _fill_hidden(behind, front, image, position)
    return _composite_planes(image, position, behind, front)


def _composite_planes(image, position, behind, front):
    """Lay the in-focus pixels over what is behind, and what is in front over both.

    All in sRGB, as the two-plane path lays its subject, so that where
    nothing is blurred the photo comes back exactly: with an in-focus share
    of 1 and no front coverage every step below gives the photo's value or
    adds 0.  Where coverage falls short of 1 (what lies behind is hidden)
    the visible planes are renormalized over the gap.  Strip by strip and
    plane by plane, so the enlarged planes never exist at full size and
    every pass runs over whole rows in cache.

    Parameters
    ----------
    image : (H, W, 3) float32 ndarray
    position : (H, W) float32 Tensor
        Layer positions of :func:`_layer_position`; ``max(0, 1 - |q|)`` is
        a pixel's in-focus share.
    behind : (4, ceil(H / 2), ceil(W / 2)) float32 Tensor
        Premultiplied sRGB colour and coverage of the stack behind (:func:`_in_frame`).
    front : (Tensor or None, (int, int))
        The stack in front, as :func:`_encoded` returns it: zero at its
        edges inside the frame, so that it is enlarged on its own.

    Returns
    -------
    (H, W, 3) float32 ndarray
    """
    photo = torch.from_numpy(image)
    out = torch.empty_like(photo)
    height, width = photo.shape[:2]
    near, corner = front
    if near is not None:
        corner = (2 * corner[0], 2 * corner[1])
        near_size = (min(2 * near.shape[1], height - corner[0]), min(2 * near.shape[2], width - corner[1]))
        columns = slice(corner[1], corner[1] + near_size[1])
    one = torch.ones(())
    step = _strip_rows(width)
    for top in range(0, height, step):
        bottom = min(height, top + step)
        sharp = layer_share(position[top:bottom])
        far = [upsample_rows(behind[None, c:c + 1], (height, width), 2, top, bottom)[..., 0] for c in range(4)]
        colours = [torch.lerp(far[c], photo[top:bottom, :, c], sharp) for c in range(3)]
        colours.append(torch.lerp(far[3], one, sharp))
        first, last = max(top, corner[0]), min(bottom, corner[0] + near_size[0]) if near is not None else 0
        if first < last:
            cover = [upsample_rows(near[None, c:c + 1], near_size, 2, first - corner[0], last - corner[0])[..., 0]
                     for c in range(4)]
            rest = 1 - cover[3]
            for colour, plane in zip(colours, cover):
                colour[first - top:last - top, columns].mul_(rest).add_(plane)
        total = colours.pop().clamp_(min=1e-12)
        for c, colour in enumerate(colours):
            torch.div(colour, total, out=out[top:bottom, :, c])
    return out.clamp_(0, 1).numpy()
