"""The bokeh rendering: a lens-blurred background behind a sharp subject.

The background is blurred in linear light (where a lens works) with the
subject's pixels left out, so no halo of subject colour spreads into it.
The subject is then laid over it in sRGB: the alpha matte and the
foreground colours are estimated on the sRGB photo, so compositing in the
same space gives back the photo exactly where the background is unchanged
(and a pixel with alpha 1 bit for bit), and it saves two full-resolution
passes of the transfer curve.
"""

from typing import NamedTuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .colour import boost_highlights, channel_views, colours_at, linear_to_srgb, srgb_array, to_light
from .foreground import EDGE_PIXELS, foreground_planes
from .lens import blur_block_sums, continue_behind, reduction_for
from .resample import block_counts, block_sums, upsample
from .samples import to_samples
from .threads import kept_threads

__all__ = ["blur_background", "render_bokeh", "replace_background"]

# Pixels per strip of the 8-bit light sums: the strip's light stays small.
_STRIP_PIXELS = 1 << 20


class _Band(NamedTuple):
    """The soft edge: pixels with 0 < alpha < 1, and what is known at them."""

    index: torch.Tensor  #: (N,) int64 flat (row-major) indices
    alpha: torch.Tensor  #: (N,) float32
    photo: torch.Tensor  #: (3, N) float32 sRGB colours of the photo, as planes
    fg: torch.Tensor     #: (3, N) float32 foreground and background colours,
    bg: torch.Tensor     #: with ``photo = alpha * fg + (1 - alpha) * bg``


def _split_band(image, alpha, edge_pixels=EDGE_PIXELS):
    """The soft edge of a matte, its pixels split into foreground and background colours."""
    a = torch.from_numpy(alpha).view(-1)
    # numpy finds them several times faster than torch.nonzero.
    index = torch.from_numpy(np.flatnonzero((alpha > 0) & (alpha < 1)))
    a_band = a.index_select(0, index)
    photo = colours_at(image, index)
    fg = foreground_planes(image, alpha, index, photo, a_band, pixels=edge_pixels)
    bg = torch.addcmul(photo, a_band, fg, value=-1).div_((1 - a_band).clamp_(min=1e-6)).clamp_(0, 1)
    # Where no background colour in range explains the photo, the estimate
    # gave the foreground more light than the photo holds (subject colour
    # spread over a plain dark wall by a matte a few pixels too wide): the
    # foreground is solved back from the clamped background, so that
    # ``photo = alpha * fg + (1 - alpha) * bg`` holds and no glow is laid on.
    fg = torch.addcmul(photo, 1 - a_band, bg, value=-1).div_(a_band).clamp_(0, 1)
    return _Band(index, a_band, photo, fg, bg)


def _background(image, alpha, radius, soft_edge, blades, blade_rotation, highlights, maybe_subject,
                dtype=np.float32):
    """Blurred background, soft-edge pixels taken at their background colour; and the soft edge.

    ``soft_edge()`` gives the soft edge (:func:`_split_band`).  It runs in a
    second (kept) thread while the background's light is summed: both only
    read the photo and the alpha, and much of either is single-threaded.  The
    background is float32 sRGB, or rounded to 8 bits with `dtype` np.uint8.
    """
    x = torch.from_numpy(image)
    scale = reduction_for(radius)
    band = kept_threads().submit(soft_edge)
    eight_bit = image.dtype == np.uint8
    if eight_bit:
        sums = _clear_light_sums(image, alpha, scale, highlights)
    else:
        sums = block_sums(x, 1 - torch.from_numpy(alpha), scale,
                          lambda strip, top: to_light(strip, highlights))
    band = band.result()
    # A sparse pass over the soft edge gives its pixels their background
    # colour, cheaper than patching every strip of the full-resolution
    # pass: an 8-bit frame's sums left them out, and they come in at weight
    # 1 - alpha; a float photo's took them in at their photo colour, the
    # subject's mixed in, which is swapped out.
    rows, cols = np.divmod(band.index.numpy(), image.shape[1])
    blocks = torch.from_numpy(rows // scale * sums.shape[-1] + cols // scale)
    change = _light_of_planes(band.bg, highlights)
    if not eight_bit:
        change -= _light_of_planes(band.photo, highlights)
    weight = 1 - band.alpha
    change.mul_(weight)
    # A float photo's weight sums, the last plane, are already right.
    change = torch.cat([change, weight[None]]) if eight_bit else F.pad(change, (0, 0, 0, 1))
    for sums_of, plane in zip(channel_views(sums[0].permute(1, 2, 0), len(change)), change):
        sums_of.index_add_(0, blocks, plane)
    # The soft edge's photo and background colours are spent: they go before
    # the full-size background is made (a wide soft edge holds millions).
    band = band._replace(photo=None, bg=None)
    del change, blocks
    sums = continue_behind(sums, block_counts(*image.shape[:2], scale), maybe_subject)
    small = blur_block_sums(sums, radius, blades=blades, blade_rotation=blade_rotation)
    # Encoding the small result and upsampling in sRGB spares a full-size
    # transfer curve; the blurred background is smooth, so little changes.
    return upsample(linear_to_srgb(small), x.shape[:2], scale, dtype), band


def _light_of_planes(planes, highlights):
    """:func:`~bokehme.imaging.colour.to_light` of (3, N) colour planes, highlights judged on each pixel's brightest."""
    light = to_light(planes)
    return boost_highlights(light.T[None], highlights)[0].T if highlights else light


def _put_colours(pixels, index, planes):
    """Write (3, N) colour planes into contiguous (H, W, 3) `pixels` (a Tensor) at flat indices."""
    for colour, plane in zip(channel_views(pixels, 3), planes):
        colour.index_copy_(0, index, plane)


def _clear_light_sums(image, alpha, scale, highlights):
    """:func:`~bokehme.imaging.resample.block_sums` of an 8-bit photo's light where alpha is 0, and their weights.

    The pixels of the soft edge and of the subject are left out: the
    subject's weigh nothing, and the soft edge's come in later at their
    background colour.  What remains weighs 1 each, so the light is one
    table look-up of the photo with the rest zeroed (the light of 0 is 0),
    summed by OpenCV's area reduction, several times faster than weighting
    and summing pixel by pixel; the sums differ from those only by float
    rounding.  It works through strips of whole blocks, so that a large
    photo's light never exists at full size.

    Returns
    -------
    Tensor
        (1, 4, ceil(H / scale), ceil(W / scale)) float32 sums of the light
        and of the weights, laid out as ``block_sums`` lays them.
    """
    height, width = alpha.shape
    small_h, small_w = -(-height // scale), -(-width // scale)
    reduced = torch.empty((1, 4, small_h, small_w), memory_format=torch.channels_last)
    sums = reduced[0].permute(1, 2, 0).numpy()
    rows = max(1, _STRIP_PIXELS // (small_w * scale * scale)) * scale
    for top in range(0, height, rows):
        bottom = min(top + rows, height)
        blocks = slice(top // scale, -(-bottom // scale))
        # Zero margins make every block whole, as OpenCV's whole-factor
        # area reduction wants.
        clear = np.zeros(((blocks.stop - blocks.start) * scale, small_w * scale), np.uint8)
        np.equal(alpha[top:bottom], 0, out=clear[:bottom - top, :width].view(bool))
        pixels = np.zeros(clear.shape + (3,), np.uint8)
        cv2.copyTo(image[top:bottom], clear[:bottom - top, :width], pixels[:bottom - top, :width])
        light = to_light(torch.from_numpy(pixels), highlights).numpy()
        size = (small_w, blocks.stop - blocks.start)
        # Means of blocks of whole pixels, times their size below: the sums.
        sums[blocks, :, :3] = cv2.resize(light, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], 3)
        sums[blocks, :, 3] = cv2.resize(clear.astype(np.float32), size, interpolation=cv2.INTER_AREA
                                        ).reshape(size[1], size[0])
    sums *= float(scale * scale)
    return reduced


def blur_background(image, alpha, radius, *, blades=0, blade_rotation=0.0,
                    highlights=0.0, maybe_subject=None):
    """The lens-blurred background alone, with the subject left out.

    Parameters
    ----------
    image : ndarray
        (H, W, 3) float32 sRGB photo in [0, 1], or uint8 in [0, 255] (a
        video frame) read as ``v / 255``.
    alpha : ndarray
        (H, W) float32 in [0, 1], 1 = subject.  Each pixel contributes to the
        blur with weight ``1 - alpha`` and, at soft edges, with its
        background colour only (the subject's colour estimated out).  Behind
        the subject the background is continued from around it
        (:func:`bokehme.imaging.lens.continue_behind`).
    radius : float
        Aperture radius in pixels.
    blades, blade_rotation
        Aperture shape, see :func:`bokehme.imaging.aperture.aperture_kernel`.
    highlights : float, optional
        Highlight boost, see :func:`bokehme.imaging.colour.boost_highlights`.
    maybe_subject : ndarray, optional
        (h, w) float32 the segmenter's subject probability at any
        resolution: where the subject is at all likely, and a margin around,
        the background is continued from around instead of taken as seen.

    Returns
    -------
    ndarray
        (H, W, 3) float32 sRGB in [0, 1].
    """
    image = srgb_array(image)
    alpha = np.ascontiguousarray(alpha, dtype=np.float32)
    return _background(image, alpha, radius, lambda: _split_band(image, alpha), blades,
                       blade_rotation, highlights, maybe_subject)[0]


def render_bokeh(image, alpha, radius, *, blades=0, blade_rotation=0.0,
                 highlights=0.0, maybe_subject=None, edge_pixels=EDGE_PIXELS):
    """Render a photo with a lens-blurred background behind a sharp subject.

    Parameters
    ----------
    image : ndarray
        (H, W, 3) float32 sRGB photo in [0, 1], or uint8 in [0, 255] (a
        video frame) read as ``v / 255``.
    alpha : ndarray
        (H, W) float32 subject matte in [0, 1], 1 = subject.
    radius : float
        Aperture radius in pixels.
    blades : int, optional
        Aperture blades, 0 for round bokeh.
    blade_rotation : float, optional
        Rotation of the aperture polygon in degrees.
    highlights : float, optional
        How much near-clipped highlights bloom; 0 for none.
    maybe_subject : ndarray, optional
        The segmenter's subject probability, see :func:`blur_background`.
    edge_pixels : float, optional
        Working size of the soft edge's colour estimate, see
        :func:`bokehme.imaging.foreground.foreground_in_band`.

    Returns
    -------
    ndarray
        (H, W, 3) float32 sRGB in [0, 1]; for a uint8 image, uint8 in
        [0, 255]: the float result rounded.  Pixels with alpha 1 equal the
        input exactly; with alpha all 0 the result is exactly
        :func:`blur_background`, the plain lens blur of the whole photo.
    """
    image = srgb_array(image)
    alpha = np.ascontiguousarray(alpha, dtype=np.float32)
    # An 8-bit photo's background is rounded as it is upsampled: no
    # full-size float copy of it is made.
    out, band = _background(image, alpha, radius, lambda: _split_band(image, alpha, edge_pixels), blades,
                            blade_rotation, highlights, maybe_subject, image.dtype.type)
    return _lay_subject(image, alpha, band, out)


def replace_background(image, alpha, background, *, edge_pixels=EDGE_PIXELS):
    """Lay the subject of a photo over another background.

    The subject's soft edge carries its own colours only, cleaned of the old
    background (the same foreground estimation as :func:`render_bokeh`), so
    no fringe of the old scene shows against the new one.

    Parameters
    ----------
    image : ndarray
        (H, W, 3) float32 sRGB photo in [0, 1], or uint8 in [0, 255] (a
        video frame) read as ``v / 255``.
    alpha : ndarray
        (H, W) float32 subject matte in [0, 1], 1 = subject.
    background : ndarray
        (H, W, 3) float32 sRGB in [0, 1]: the new background (see
        :func:`bokehme.imaging.resample.cover` to fit a picture of another size).
    edge_pixels : float, optional
        As for :func:`render_bokeh`.

    Returns
    -------
    ndarray
        (H, W, 3) float32 sRGB in [0, 1], or uint8 rounded for a uint8
        image; pixels with alpha 1 equal `image` exactly, pixels with alpha 0 equal `background`.
    """
    image = srgb_array(image)
    alpha = np.ascontiguousarray(alpha, dtype=np.float32)
    return _lay_subject(image, alpha, _split_band(image, alpha, edge_pixels),
                        np.array(background, dtype=np.float32, copy=image.dtype != np.uint8))


def _lay_subject(image, alpha, band, background):
    """Composite the subject over `background` (H, W, 3) float32.

    For a float32 image the result is made in place in `background`, which
    is returned; for a uint8 image it is a new uint8 array, rounded.
    """
    if image.dtype == np.uint8:
        return _lay_subject_8bit(image, alpha, band, background)
    result = torch.from_numpy(background)
    background_band = colours_at(background, band.index)
    # lerp(b, f, 1) is exactly f and lerp(b, f, 0) exactly b.
    torch.lerp(result, torch.from_numpy(image), torch.from_numpy(alpha)[..., None], out=result)
    # Soft edges get foreground colours cleaned of the old background.
    _put_colours(result, band.index, torch.lerp(background_band, band.fg, band.alpha))
    return background


def _lay_subject_8bit(image, alpha, band, background):
    """:func:`_lay_subject` of an 8-bit image: what the float image gives, rounded to 8 bits.

    Off the soft edge the alpha is exactly 0 or 1, so a pixel is either
    the rounded background or the frame's own; only the soft edge is
    blended, in float.  An 8-bit `background` (already rounded) is laid
    over in place, its soft edge read back as ``v / 255``: within a level
    of blending the unrounded one.
    """
    if background.dtype == np.uint8:
        result = background
    else:
        result = to_samples(background, np.uint8)
    background_band = colours_at(background, band.index)
    cv2.copyTo(image, (alpha == 1).view(np.uint8), result)
    if len(band.index):
        edge = to_samples(torch.lerp(background_band, band.fg, band.alpha).numpy(), np.uint8)
        _put_colours(torch.from_numpy(result), band.index, torch.from_numpy(edge))
    return result

