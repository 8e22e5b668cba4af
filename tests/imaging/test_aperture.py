import numpy as np
import pytest
from skimage import transform

from bokehme.imaging.aperture import aperture_kernel


@pytest.mark.parametrize("radius", [3.0, 7.5, 25.0])
@pytest.mark.parametrize("blades", [0, 5, 6])
def test_kernel_unit_sum(radius, blades):
    kernel = aperture_kernel(radius, blades)
    assert kernel.dtype == np.float32
    assert kernel.sum() == pytest.approx(1, abs=1e-5)
    assert kernel.min() >= 0


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
