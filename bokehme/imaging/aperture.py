"""Aperture kernels: the shape a lens gives an out-of-focus point of light."""

import math

import numpy as np

__all__ = ["aperture_kernel"]


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
