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


def test_background_is_continued_behind_the_subject_not_shifted_away_from_it():
    import torch

    from bokehme.imaging.lens import blur_block_sums, continue_behind, reduction_for
    from bokehme.imaging.resample import block_counts, block_sums, upsample

    # A plate that brightens from left to right, hidden behind a subject in
    # the middle third: the lens shows the plate's own blur right beside the
    # subject, which normalized convolution shifts towards the far side.
    h, w, radius = 96, 192, 24
    plate = np.repeat(np.linspace(0.1, 0.9, w, dtype=np.float32)[None, :, None], h, 0).repeat(3, 2)
    alpha = np.zeros((h, w), np.float32)
    alpha[:, 64:128] = 1
    lens = lens_blur(plate, radius)
    scale = reduction_for(radius)
    sums = block_sums(torch.from_numpy(plate), torch.from_numpy(1 - alpha), scale)
    continued = upsample(blur_block_sums(continue_behind(sums, block_counts(h, w, scale)), radius),
                         (h, w), scale)
    normalized = lens_blur(plate, radius, weight=1 - alpha)
    beside = (slice(None), slice(128, 140))
    assert np.abs(continued[beside] - lens[beside]).mean() < 0.7 * np.abs(normalized[beside] - lens[beside]).mean()
