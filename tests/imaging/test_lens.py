import numpy as np
import pytest
from scipy.signal import fftconvolve
from skimage import data, transform

from bokehme.imaging.aperture import aperture_kernel
from bokehme.imaging.colour import srgb_to_linear
from bokehme.imaging.lens import lens_blur


def natural_linear(size=256):
    img = transform.resize(data.astronaut(), (size, size), anti_aliasing=True)
    return srgb_to_linear(img.astype(np.float32))


def psnr(a, b):
    return 10 * np.log10(1 / np.mean((a - b) ** 2))


def test_point_light_blurs_into_disc_of_the_radius():
    image = np.full((101, 101), 0.1, np.float32)
    image[50, 50] = 100.0
    point = np.zeros_like(image)
    point[50, 50] = 1.0
    exact = fftconvolve(point, aperture_kernel(25), mode="same")
    # Area counting rim pixels by their coverage: the light over the plateau.
    area = exact.sum() / exact[50, 50]
    assert np.sqrt(area / np.pi) == pytest.approx(25, abs=0.5)
    disc = exact > 1e-4
    rows, cols = np.nonzero(disc)
    assert rows.max() - rows.min() + 1 == 51
    assert cols.max() - cols.min() + 1 == 51
    # The fast blur softens the disc's rim but keeps its half-height radius.
    fast = lens_blur(image, 25) - 0.1
    half = fast > 0.5 * fast[50, 50]
    assert np.sqrt(half.sum() / np.pi) == pytest.approx(25, abs=1)


@pytest.mark.parametrize("radius", [5, 12, 25, 40])
def test_fast_blur_matches_full_resolution_disc_convolution(radius):
    image = natural_linear()
    kernel = aperture_kernel(radius)
    ones = np.ones(image.shape[:2], np.float32)
    norm = fftconvolve(ones, kernel, mode="same")
    exact = np.stack([fftconvolve(image[..., c], kernel, mode="same") / norm
                      for c in range(3)], -1)
    fast = lens_blur(image, radius)
    assert fast.shape == image.shape and fast.dtype == np.float32
    assert psnr(fast, exact) >= 40


def test_weighted_blur_ignores_unweighted_pixels():
    image = natural_linear(128)
    weight = np.ones(image.shape[:2], np.float32)
    weight[32:96, 32:96] = 0
    poisoned = image.copy()
    poisoned[32:96, 32:96] = 50.0  # a subject that must not leak
    blurred = lens_blur(poisoned, 10, weight=weight)
    clean = lens_blur(image, 10, weight=weight)
    np.testing.assert_allclose(blurred, clean, atol=1e-5)
    # Deep inside the hole there is no weighted pixel within the aperture:
    # the fill comes from the surrounding weighted content.
    centre = blurred[60:68, 60:68]
    assert np.all(centre <= image.max()) and np.all(centre > 0)


def test_gray_image_blur_keeps_shape():
    image = natural_linear(64)[..., 1]
    out = lens_blur(image, 6)
    assert out.shape == image.shape
    assert abs(out.mean() - image.mean()) < 0.02
