import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.signal import fftconvolve
from skimage import data, transform

from bokehme.lens import (aperture_kernel, boost_highlights, lens_blur,
                          linear_to_srgb, srgb_to_linear, upsample, upsample_rows)


def natural_linear(size=256):
    img = transform.resize(data.astronaut(), (size, size), anti_aliasing=True)
    return srgb_to_linear(img.astype(np.float32))


def psnr(a, b):
    return 10 * np.log10(1 / np.mean((a - b) ** 2))


def test_srgb_round_trip_and_reference_points():
    x = np.linspace(0, 1, 1001, dtype=np.float32)
    lin = srgb_to_linear(x)
    assert lin.dtype == np.float32
    # Reference values of the sRGB standard: 0.5 -> 0.2140, the linear
    # segment below 0.04045.
    assert lin[500] == pytest.approx(0.21404, abs=1e-4)
    assert lin[20] == pytest.approx(0.02 / 12.92, rel=1e-5)
    assert np.all(np.diff(lin) > 0)
    np.testing.assert_allclose(linear_to_srgb(lin), x, atol=2e-6)
    assert linear_to_srgb(np.float32([-0.5, 2.0])).tolist() == [0.0, 1.0]


@pytest.mark.parametrize("radius", [3.0, 7.5, 25.0])
@pytest.mark.parametrize("blades", [0, 5, 6])
def test_kernel_unit_sum(radius, blades):
    kernel = aperture_kernel(radius, blades)
    assert kernel.dtype == np.float32
    assert kernel.sum() == pytest.approx(1, abs=1e-5)
    assert kernel.min() >= 0


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


def test_hexagon_has_six_fold_symmetry_and_lies_in_the_disc():
    kernel = aperture_kernel(20, blades=6)
    disc = aperture_kernel(20)
    assert np.all(kernel[disc == 0] == 0)
    # Smaller than the disc it is inscribed in: 3 sqrt(3) / (2 pi) of it.
    ratio = (kernel > 0).sum() / (disc > 0).sum()
    assert ratio == pytest.approx(3 * np.sqrt(3) / (2 * np.pi), abs=0.03)
    rotated = transform.rotate(kernel, 60, order=1)
    off_axis = transform.rotate(kernel, 30, order=1)
    err_60 = np.abs(rotated - kernel).sum()
    err_30 = np.abs(off_axis - kernel).sum()
    assert err_60 < 0.1 * kernel.sum()
    assert err_30 > 3 * err_60


def test_blade_rotation_turns_the_polygon():
    base = aperture_kernel(15, blades=5)
    turned = aperture_kernel(15, blades=5, blade_rotation=36)
    assert not np.allclose(base, turned)
    np.testing.assert_allclose(turned, base[:, ::-1], atol=1e-6)


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


def test_highlights_off_at_zero_and_brighter_bokeh_when_on():
    linear = np.full((81, 81, 3), 0.05, np.float32)
    linear[40, 40] = 1.0
    assert boost_highlights(linear, 0.0) is linear
    plain = lens_blur(linear, 15)
    boosted = lens_blur(boost_highlights(linear, 1.0), 15)
    assert boosted[40, 40].mean() - 0.05 > 2 * (plain[40, 40].mean() - 0.05)
    # Only near-clipped values are touched.
    dim = boost_highlights(np.full((4, 4, 3), 0.3, np.float32), 1.0)
    assert np.all(dim == 0.3)


@pytest.mark.parametrize("height, width, scale", [(1, 5, 2), (37, 41, 2), (64, 50, 4), (101, 77, 3), (90, 45, 5)])
def test_upsampling_strip_by_strip_matches_torch_bilinear(height, width, scale):
    rng = np.random.default_rng(height)
    small = torch.from_numpy(rng.random((1, 3, -(-height // scale), -(-width // scale)), dtype=np.float32))
    whole = upsample(small, (height, width), scale)
    # Torch's own resampling of the whole map, cropped where the photo's size
    # is not a multiple of the scale (pixel centres do not depend on it).
    reference = F.interpolate(small, scale_factor=scale, mode="bilinear", align_corners=False)
    reference = reference[0, :, :height, :width].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(whole, reference, atol=1e-5)
    for rows in (1, 3, 16):
        strips = [upsample_rows(small, (height, width), scale, top, min(height, top + rows)).numpy()
                  for top in range(0, height, rows)]
        np.testing.assert_allclose(np.concatenate(strips), whole, atol=1e-5)
