"""The bokeh rendering: a lens-blurred background behind a sharp subject.

The background is blurred in linear light (where a lens works) with the
subject's pixels left out, so no halo of subject colour spreads into it.
The subject is then laid over it in sRGB: the alpha matte and the
foreground colours are estimated on the sRGB photo, so compositing in the
same space gives back the photo exactly where the background is unchanged
(and a pixel with alpha 1 bit for bit), and it saves two full-resolution
passes of the transfer curve.
"""

from functools import partial

import numpy as np
import torch

from .lens import (_apply_transfer, _linear_to_srgb_t, blur_reduced,
                   reduction_for, upsample)
from .matte import foreground_in_band

__all__ = ["blur_background", "render_bokeh"]


def blur_background(image, alpha, radius, *, blades=0, blade_rotation=0.0,
                    highlights=0.0):
    """The lens-blurred background alone, with the subject left out.

    Parameters
    ----------
    image : ndarray
        (H, W, 3) float32 sRGB photo in [0, 1].
    alpha : ndarray
        (H, W) float32 in [0, 1], 1 = subject.  Each pixel contributes to the
        blur with weight ``1 - alpha``; behind the subject, farther than the
        aperture reaches, the background is filled from around it.
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
    x = torch.from_numpy(np.asarray(image, dtype=np.float32))
    weight = torch.from_numpy(1 - np.asarray(alpha, dtype=np.float32))
    small = blur_reduced(x, radius, blades=blades, blade_rotation=blade_rotation,
                         weight=weight,
                         transform=partial(_apply_transfer, highlights=highlights))
    # Encoding the small result and upsampling in sRGB spares a full-size
    # transfer curve; the blurred background is smooth, so little changes.
    return upsample(_linear_to_srgb_t(small), x.shape[:2], reduction_for(radius))


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
        :func:`blur_background`.
    """
    image = np.asarray(image, dtype=np.float32)
    alpha = np.asarray(alpha, dtype=np.float32)
    out = blur_background(image, alpha, radius, blades=blades,
                          blade_rotation=blade_rotation, highlights=highlights)
    band = np.nonzero((alpha > 0) & (alpha < 1))
    background_band = out[band]
    result = torch.from_numpy(out)
    # lerp(b, f, 1) is exactly f and lerp(b, f, 0) exactly b.
    torch.lerp(result, torch.from_numpy(image), torch.from_numpy(alpha)[..., None],
               out=result)
    if band[0].size:
        # Soft edges get foreground colours cleaned of the old background.
        fg = foreground_in_band(image, alpha, band)
        out[band] = torch.lerp(torch.from_numpy(background_band), torch.from_numpy(fg),
                               torch.from_numpy(alpha[band])[:, None]).numpy()
    return out
