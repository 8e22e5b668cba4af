import numpy as np
import pytest

from bokehme.imaging.colour import boost_highlights, linear_to_srgb, srgb_to_linear
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
