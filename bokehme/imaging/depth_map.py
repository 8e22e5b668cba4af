"""Depth maps for the lens model: upsampled to the photo, focus, circle of confusion.

Disparity maps here are float32 in [0, 1] with near = 1, as phones store
them; they are relative (no metres), so the blur is scaled to the scene's
own depth.  A thin lens images a point at disparity ``d`` as a disc whose
radius is proportional to ``|d - f|``, ``f`` the disparity in focus
(docs/depth.md).
"""

import numpy as np
from scipy import ndimage

from .guided_filter import fast_guided_filter
from .resample import resize_map, resized_block_mean

__all__ = [
    "DEFAULT_DEPTH_OF_FIELD",
    "FocusOutsideImage",
    "upsample_disparity",
    "focus_disparity",
    "blur_radius_map",
    "snap_depth_steps",
]

#: Width, in disparity (0..1), of the band around the focus plane that stays
#: sharp; about the depth of a face when the subject fills a portrait.
DEFAULT_DEPTH_OF_FIELD = 0.1

#: Side, as a fraction of the long side, of the window in which the focus
#: point's disparity is taken (a median, so one noisy pixel cannot decide).
FOCUS_WINDOW_FRACTION = 0.02

# Reach (a fraction of the long side, at least a few pixels) within which a
# depth step's two sides are looked for: the guided filter of
# upsample_disparity spreads a phone map's step over about four map pixels
# each way.
_STEP_REACH_FRACTION = 0.006
_STEP_MIN_REACH = 4

# Pixels handled at once by a full-resolution pass of several steps.
_STRIP_PIXELS = 1 << 18


class FocusOutsideImage(ValueError):
    """A focus point lies outside the image.

    Attributes
    ----------
    point : (int, int)
        The point's column and row.
    size : (int, int)
        The image's width and height.
    """

    def __init__(self, point, size):
        self.point, self.size = tuple(point), tuple(size)
        super().__init__(f"focus point {point[0]},{point[1]} lies outside the {size[0]}x{size[1]} image")


def upsample_disparity(image, disparity, *, eps=1e-3):
    """Bring a low-resolution disparity map to the photo's resolution.

    Depth sensors and depth networks give a map a few times smaller than the
    photo, with edges that are blocky and slightly misplaced.  A guided
    filter with the photo as guide makes the upsampled map follow the
    photo's edges, so the blur boundary sits on the subject's outline.

    Parameters
    ----------
    image : (H, W, 3) float32 ndarray
        sRGB photo in [0, 1], the guide.
    disparity : (h, w) float32 ndarray
        Disparity in [0, 1] (near = 1) with the photo's aspect ratio.
    eps : float, optional
        Guided-filter regularization; smaller values follow weaker edges.

    Returns
    -------
    (H, W) float32 ndarray
        Disparity in [0, 1] at the photo's resolution.
    """
    image = np.asarray(image, dtype=np.float32)
    disparity = np.asarray(disparity, dtype=np.float32)
    height, width = image.shape[:2]
    factor = max(1, round(max(height / disparity.shape[0], width / disparity.shape[1])))
    if factor == 1:
        return np.clip(resize_map(disparity, (height, width)), 0, 1)
    # A window of four map pixels spans the map's blocky edge; the
    # coefficients are fitted at the map's own resolution, where they live,
    # so the map is only ever enlarged to the block grid they are fitted on.
    small = resized_block_mean(disparity, (height, width), factor)
    out = fast_guided_filter(image, small, 4 * factor, eps, factor, src_reduced=True)
    return np.clip(out, 0, 1, out=out)


def focus_disparity(disparity, alpha=None, focus_xy=None):
    """Disparity of the plane in focus.

    Parameters
    ----------
    disparity : (H, W) float32 ndarray
        Disparity in [0, 1], near = 1.
    alpha : (H, W) float32 ndarray, optional
        Subject matte in [0, 1]; the focus is the median disparity where
        ``alpha > 0.5``.
    focus_xy : (int, int), optional
        Column and row of the point to focus on (``--focus X,Y``), taking
        precedence over `alpha`: the median of a small window around it.

    Returns
    -------
    float
        The focus disparity.  Without `alpha` or `focus_xy` (or with an empty
        subject) the median disparity of the image's central ninth.

    Raises
    ------
    FocusOutsideImage
        If `focus_xy` lies outside the image.
    """
    disparity = np.asarray(disparity, dtype=np.float32)
    height, width = disparity.shape
    if focus_xy is not None:
        x, y = (int(round(v)) for v in focus_xy)
        if not (0 <= x < width and 0 <= y < height):
            raise FocusOutsideImage((x, y), (width, height))
        half = max(1, round(FOCUS_WINDOW_FRACTION * max(height, width) / 2))
        window = disparity[max(0, y - half):y + half + 1, max(0, x - half):x + half + 1]
        return float(np.median(window))
    if alpha is not None:
        inside = np.asarray(alpha) > 0.5
        if inside.any():
            return float(np.median(disparity[inside]))
    return float(np.median(disparity[height // 3:2 * height // 3 or 1, width // 3:2 * width // 3 or 1]))


def blur_radius_map(disparity, focus, max_radius, depth_of_field=DEFAULT_DEPTH_OF_FIELD):
    """Circle-of-confusion radius of every pixel.

    The radius grows linearly with the distance ``|d - focus|`` from the
    focus plane, the same slope in front and behind (a thin lens), beginning
    at the edge of the depth-of-field band::

        radius = max_radius * clip((|d - focus| - dof / 2) / ramp, 0, 1)
        ramp = max(extent - dof / 2, dof)

    where ``extent = focus - d.min()``, the depth span behind the focus
    plane, or, when nothing lies beyond the band behind it, the span in
    front, ``d.max() - focus``.  The farthest background gets exactly
    `max_radius` whatever lies in front (docs/depth.md, "The lens model").

    Parameters
    ----------
    disparity : (H, W) float32 ndarray
        Disparity in [0, 1], near = 1.
    focus : float
        Disparity of the focus plane.
    max_radius : float
        Radius in pixels of the farthest background, and the largest.
    depth_of_field : float, optional
        Width, in disparity, of the band around `focus` that stays sharp.

    Returns
    -------
    (H, W) float32 ndarray
        Radius in pixels, in [0, max_radius]; exactly 0 within the band.
    """
    disparity = np.asarray(disparity, dtype=np.float32)
    half = np.float32(depth_of_field / 2)
    extent = focus - float(disparity.min())
    if extent <= half:
        extent = float(disparity.max()) - focus
    if extent <= half or max_radius <= 0:
        return np.zeros_like(disparity)
    slope = np.float32(max_radius / max(extent - half, depth_of_field))
    radius = np.empty_like(disparity)
    # Strip by strip, so that the several passes run in cache.
    rows = max(1, _STRIP_PIXELS // max(1, disparity.shape[-1]))
    for top in range(0, disparity.shape[0], rows):
        distance = radius[top:top + rows]
        np.subtract(disparity[top:top + rows], np.float32(focus), out=distance)
        np.abs(distance, out=distance)
        distance -= half
        distance *= slope
        np.clip(distance, 0, np.float32(max_radius), out=distance)
    return radius


def snap_depth_steps(disparity, focus, depth_of_field=DEFAULT_DEPTH_OF_FIELD):
    """Give every pixel on a depth step across the focus plane to one of its sides.

    Where the surfaces within a small window lie a whole depth of field or
    more from the focus plane on both sides of it, and no in-focus surface
    is among them, each pixel takes the nearer of the window's two extremes,
    so that no sliver of a smooth map's ramp stays sharp between two blurred
    surfaces.  Steps with a side in or near the band (the subject's own
    outline) are left as they are (docs/depth.md, "Depth steps across the
    focus plane").

    Parameters
    ----------
    disparity : (H, W) float32 ndarray
        Disparity in [0, 1], near = 1.
    focus : float
        Disparity of the focus plane.
    depth_of_field : float, optional
        Width, in disparity, of the sharp band, see :func:`blur_radius_map`.

    Returns
    -------
    (H, W) float32 ndarray
        The disparity with such steps made hard; `disparity` itself (not a
        copy) where there are none.
    """
    disparity = np.asarray(disparity, dtype=np.float32)
    height, width = disparity.shape
    reach = max(_STEP_MIN_REACH, round(_STEP_REACH_FRACTION * max(height, width)))
    # The window's extremes are taken on a grid of cells, one sample each:
    # the two sides are smooth surfaces, and a full-size min/max filter
    # would cost more than all the rest.
    cell = max(1, reach // 3)
    rows = np.minimum(np.arange(-(-height // cell)) * cell + cell // 2, height - 1)
    columns = np.minimum(np.arange(-(-width // cell)) * cell + cell // 2, width - 1)
    sample = disparity[rows[:, None], columns]
    size = 2 * -(-reach // cell) + 1
    # A side is a surface some cells across: the guided filter leaves
    # single-sample spikes in fine texture (fur) that are no side of a step.
    highest = ndimage.maximum_filter(sample, 3, mode="nearest")
    lowest = ndimage.minimum_filter(sample, 3, mode="nearest")
    far = ndimage.minimum_filter(highest, size, mode="nearest")
    near = ndimage.maximum_filter(lowest, size, mode="nearest")
    # Both sides a whole depth of field from the focus plane, half of it
    # beyond the band: blurred enough for a sharp sliver between them to
    # show, where a side just off the band is nearly sharp itself.
    across = (far < np.float32(focus - depth_of_field)) & (near > np.float32(focus + depth_of_field))
    if not across.any():
        return disparity
    # A patch of cells all in the band is an in-focus surface, not a ramp's
    # sliver: a step beside it has a side in focus, and the subject's own
    # outline there (a nose just nearer than the band) is kept as it is.
    half = np.float32(depth_of_field / 2)
    sharp = (highest <= np.float32(focus) + half) & (lowest >= np.float32(focus) - half)
    across &= ~ndimage.maximum_filter(sharp, size, mode="nearest")
    across = np.nonzero(across)
    if not across[0].size:
        return disparity
    far, near = far[across][:, None, None], near[across][:, None, None]
    offsets = np.arange(cell)
    block_rows = np.minimum(across[0][:, None] * cell + offsets, height - 1)[:, :, None]
    block_columns = np.minimum(across[1][:, None] * cell + offsets, width - 1)[:, None, :]
    block = disparity[block_rows, block_columns]
    out = disparity.copy()
    out[block_rows, block_columns] = np.where(block + block > far + near, near, far)
    return out
