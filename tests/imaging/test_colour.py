import numpy as np
import pytest
import torch

from bokehme.imaging.colour import (boost_highlights, colours_at, light_from_8bit, linear_to_srgb, srgb_to_linear,
                                    to_light)
from bokehme.imaging.lens import lens_blur


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


def test_light_for_the_blur_is_exact_for_8_bit_values_and_close_for_finer_ones():
    levels = np.arange(256, dtype=np.float32) / 255
    assert np.array_equal(to_light(torch.from_numpy(levels)).numpy(), srgb_to_linear(levels))
    fine = np.random.default_rng(0).random((1000, 3), dtype=np.float32)
    exact = srgb_to_linear(fine)
    # Half a table step in sRGB, at the curve's steepest (slope 2.4 at white).
    assert np.abs(to_light(torch.from_numpy(fine)).numpy() - exact).max() <= 2.4 * 0.5 / (16 * 255)
    ends = np.float32([0.0, 1.0])
    assert np.array_equal(to_light(torch.tensor([-0.5, 1.5])).numpy(), srgb_to_linear(ends))


def test_8_bit_pixels_decode_to_the_light_of_their_float_values():
    pixels = np.random.default_rng(1).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    pixels[0, :3] = [[0, 1, 2], [253, 254, 255], [10, 11, 12]]
    as_float = torch.from_numpy(pixels.astype(np.float32) / 255)
    light = light_from_8bit(torch.from_numpy(pixels))
    assert light.dtype == torch.float32 and light.shape == pixels.shape
    assert torch.equal(light, to_light(as_float))
    # to_light takes 8-bit tensors too, highlights boosted as for floats.
    assert torch.equal(to_light(torch.from_numpy(pixels), 0.5), to_light(as_float, 0.5))


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_colours_at_flat_indices_come_as_planes_of_unit_floats(dtype):
    rng = np.random.default_rng(7)
    samples = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    image = samples if dtype == np.uint8 else samples.astype(np.float32) / np.float32(255)
    # Unsorted and repeated, as any gather may be asked.
    rows, cols = np.array([4, 0, 2, 2, 4]), np.array([6, 0, 3, 3, 1])
    planes = colours_at(image, torch.from_numpy(rows * 7 + cols))
    assert planes.dtype == torch.float32 and planes.shape == (3, 5)
    expected = samples[rows, cols].T.astype(np.float32) * np.float32(1 / 255)
    np.testing.assert_allclose(planes.numpy(), expected, rtol=0, atol=1e-7)
    assert colours_at(image, torch.zeros(0, dtype=torch.int64)).shape == (3, 0)
