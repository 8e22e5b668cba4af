"""The bokeh rendering: a lens-blurred background behind a sharp subject.

The background is blurred in linear light (where a lens works) with the
subject's pixels left out, so no halo of subject colour spreads into it.
The subject is then laid over it in sRGB: the alpha matte and the
foreground colours are estimated on the sRGB photo, so compositing in the
same space gives back the photo exactly where the background is unchanged
(and a pixel with alpha 1 bit for bit), and it saves two full-resolution
passes of the transfer curve.
"""

import numpy as np
import torch

from .lens import _decode, _linear_to_srgb_t, blur_reduced, reduction_for, upsample
from .matte import foreground_in_band

__all__ = ["blur_background", "render_bokeh"]


def _split_band(image, alpha):
    """Soft-edge pixels and their foreground and background colours.

    Returns
    -------
    band : tuple of ndarray
        Row and column indices (row-major order) of pixels with 0 < alpha < 1.
    fg, bg : ndarray
        (N, 3) float32 sRGB colours at ``band``, with
        ``image = alpha * fg + (1 - alpha) * bg`` there.
    """
    band = np.nonzero((alpha > 0) & (alpha < 1))
    fg = foreground_in_band(image, alpha, band)
    a = alpha[band][:, None]
    bg = (image[band] - a * fg) / np.maximum(1 - a, 1e-6)
    return band, fg, np.clip(bg, 0, 1, out=bg)


def _background(image, alpha, radius, band, band_bg, blades, blade_rotation,
                highlights):
    """Blurred background, soft-edge pixels taken at their background colour."""
    rows, cols = band
    band_linear = _decode(torch.from_numpy(band_bg), highlights)

    def decode(strip, top):
        linear = _decode(strip, highlights)
        lo, hi = np.searchsorted(rows, [top, top + strip.shape[0]])
        if hi > lo:
            linear[rows[lo:hi] - top, cols[lo:hi]] = band_linear[lo:hi]
        return linear

    x = torch.from_numpy(image)
    weight = torch.from_numpy(1 - alpha)
    small = blur_reduced(x, radius, blades=blades, blade_rotation=blade_rotation,
                         weight=weight, transform=decode)
    # Encoding the small result and upsampling in sRGB spares a full-size
    # transfer curve; the blurred background is smooth, so little changes.
    return upsample(_linear_to_srgb_t(small), x.shape[:2], reduction_for(radius))


def blur_background(image, alpha, radius, *, blades=0, blade_rotation=0.0,
                    highlights=0.0):
    """The lens-blurred background alone, with the subject left out.

    Parameters
    ----------
    image : ndarray
        (H, W, 3) float32 sRGB photo in [0, 1].
    alpha : ndarray
        (H, W) float32 in [0, 1], 1 = subject.  Each pixel contributes to the
        blur with weight ``1 - alpha`` and, at soft edges, with its
        background colour only (the subject's colour estimated out).  Behind
        the subject, farther than the aperture reaches, the background is
        filled from around it.
    radius : float
        Aperture radius in pixels.
    blades, blade_rotation
        Aperture shape, see :func:`bokehme.lens.aperture_kernel`.
    highlights : float, optional
        Highlight boost, see :func:`bokehme.lens.boost_highlights`.

    Returns
    -------
    ndarray
        (H, W, 3) float32 sRGB in [0, 1].
    """
    image = np.asarray(image, dtype=np.float32)
    alpha = np.asarray(alpha, dtype=np.float32)
    band, _, band_bg = _split_band(image, alpha)
    return _background(image, alpha, radius, band, band_bg, blades,
                       blade_rotation, highlights)


def render_bokeh(image, alpha, radius, *, blades=0, blade_rotation=0.0,
                 highlights=0.0):
    """Render a photo with a lens-blurred background behind a sharp subject.

    Parameters
    ----------
    image : ndarray
        (H, W, 3) float32 sRGB photo in [0, 1].
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

    Returns
    -------
    ndarray
        (H, W, 3) float32 sRGB in [0, 1].  Pixels with alpha 1 equal the
        input exactly; with alpha all 0 the result is exactly
        :func:`blur_background`, the plain lens blur of the whole photo.
    """
    image = np.asarray(image, dtype=np.float32)
    alpha = np.asarray(alpha, dtype=np.float32)
    band, band_fg, band_bg = _split_band(image, alpha)
    out = _background(image, alpha, radius, band, band_bg, blades,
                      blade_rotation, highlights)
    background_band = torch.from_numpy(out[band])
    result = torch.from_numpy(out)
    # lerp(b, f, 1) is exactly f and lerp(b, f, 0) exactly b.
    torch.lerp(result, torch.from_numpy(image), torch.from_numpy(alpha)[..., None],
               out=result)
    # Soft edges get foreground colours cleaned of the old background.
    out[band] = torch.lerp(background_band, torch.from_numpy(band_fg),
                           torch.from_numpy(alpha[band])[:, None]).numpy()
    return out
