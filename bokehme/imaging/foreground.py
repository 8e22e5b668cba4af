"""Foreground colours at soft edges, without the old background mixed in.

Blur-fusion foreground estimation: local means of foreground and background
colours are solved against the compositing equation
``image = alpha * F + (1 - alpha) * B``.

References
----------
.. [1] T. Germer, T. Uelwer, S. Conrad and S. Harmeling, "Fast Multi-Level
   Foreground Estimation", ICPR 2020.
.. [2] M. Forte and F. Pitié, "Approximate Fast Foreground Colour
   Estimation", ICIP 2021.
"""

import numpy as np
import torch
import torch.nn.functional as F

from .colour import colours_at
from .guided_filter import box_mean
from .resample import block_mean

__all__ = ["estimate_foreground", "foreground_in_band", "foreground_planes"]

#: Working size, in pixels, of the foreground estimation's local means, by
#: default; fewer is faster and loses fine strands (video frames, see
#: :mod:`bokehme.video.renderer`).
EDGE_PIXELS = 5e5


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
    image = np.ascontiguousarray(image, dtype=np.float32)
    alpha = np.ascontiguousarray(alpha, dtype=np.float32)
    band = np.flatnonzero((alpha > 0) & (alpha < 1))
    fg = image.copy()
    fg.reshape(-1, 3)[band] = foreground_in_band(image, alpha, band, radii)
    return fg


def foreground_in_band(image, alpha, band, radii=(90, 6), pixels=EDGE_PIXELS):
    """Foreground colours at selected pixels, see :func:`estimate_foreground`.

    Parameters
    ----------
    image : ndarray
        (H, W, 3) float32 photo, or uint8 read as ``v / 255``.
    alpha : ndarray
        (H, W) float32 alpha.
    band : ndarray
        (N,) int64 flat (row-major) indices of the pixels wanted, usually the
        soft edge.
    radii : tuple of int
        Blur radii of the successive blur-fusion passes at 1 MP; scaled with
        the photo's size.
    pixels : float
        About how many pixels the local means are taken at: the photo is
        reduced by a whole factor to about this size.

    Returns
    -------
    ndarray
        (N, 3) float32 foreground colours at ``band``, a view of colour
        planes (see :func:`foreground_planes`).
    """
    band = torch.as_tensor(band)
    photo = colours_at(image, band)
    band_alpha = torch.from_numpy(alpha).view(-1).index_select(0, band)
    return foreground_planes(image, alpha, band, photo, band_alpha, radii, pixels).T.numpy()


def foreground_planes(image, alpha, band, photo, band_alpha, radii=(90, 6), pixels=EDGE_PIXELS):
    """:func:`foreground_in_band` given the band's colours and alpha, as colour planes.

    Parameters
    ----------
    image, alpha, band, radii, pixels
        As for :func:`foreground_in_band`, `band` a Tensor.
    photo : Tensor
        (3, N) float32 the photo's colours at `band` (:func:`~bokehme.imaging.colour.colours_at`).
    band_alpha : Tensor
        (N,) float32 the alpha at `band`.

    Returns
    -------
    Tensor
        (3, N) float32 foreground colours at `band`.
    """
    height, width = image.shape[:2]
    # The local means are smooth, so they are taken at about `pixels`
    # whatever the photo's size.
    factor = max(1, round(np.sqrt(height * width / pixels)))
    img_s = block_mean(image, factor)
    alpha_s = block_mean(alpha, factor)
    # Colour by colour, as contiguous planes: numpy and OpenCV are several
    # times slower on the strided channels of an (h, w, 3) array.
    img_s = [np.ascontiguousarray(img_s[..., c]) for c in range(img_s.shape[-1])]
    fg_s, bg_s = img_s, img_s
    megapixels = alpha_s.size / 1e6
    share_bg = 1 - alpha_s
    for r in radii:
        r = max(1, round(r * np.sqrt(megapixels)))
        mean_a = box_mean(alpha_s, r)
        fg_total, bg_total = mean_a + 1e-5, 1 - mean_a + 1e-5
        fg_mean = [box_mean(f * alpha_s, r) / fg_total for f in fg_s]
        bg_mean = [box_mean(b * share_bg, r) / bg_total for b in bg_s]
        fg_s = [np.clip(f + alpha_s * (i - alpha_s * f - share_bg * b), 0, 1)
                for f, b, i in zip(fg_mean, bg_mean, img_s)]
        bg_s = bg_mean
    # The last pass's local means, applied to the full-resolution pixels.
    f_b, b_b = _sample(np.stack(fg_mean + bg_mean), band, factor, (height, width)).split(3)
    # f + a (I - a f - (1 - a) b), term by term in place.
    residual = torch.sub(photo, b_b).addcmul_(band_alpha, b_b - f_b)
    return f_b.addcmul_(band_alpha, residual).clamp_(0, 1)


def _sample(small, band, factor, shape):
    """Bilinear samples of (C, h, w) planes reduced by ``factor`` at full-resolution pixels.

    Returns
    -------
    Tensor
        (C, N) float32 values at the flat indices ``band`` of an image of
        ``shape``, read as :func:`resize_map` would place them.
    """
    h_s, w_s = small.shape[1:]
    height, width = shape
    # numpy divides 64-bit integers faster than torch.
    rows, cols = (torch.from_numpy(i) for i in np.divmod(band.numpy(), width))
    # Pixel centres on the reduced grid, in grid_sample's [-1, 1] units:
    # one per row and column of the image, gathered.
    grid = torch.stack([_centres(width, factor * w_s).index_select(0, cols),
                        _centres(height, factor * h_s).index_select(0, rows)], -1)[None, None]
    t = torch.from_numpy(np.ascontiguousarray(small, dtype=np.float32))[None]
    out = F.grid_sample(t, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out[0, :, 0]


def _centres(n, span):
    """Centres of n pixels in grid_sample's [-1, 1] units, for a grid `span` pixels across."""
    return (torch.arange(n).float() + 0.5) / span * 2 - 1
