"""Depth maps: the circle of confusion, the focus plane, upsampling to the photo."""

import numpy as np
import pytest

from bokehme.imaging.depth_map import FocusOutsideImage, blur_radius_map, focus_disparity, upsample_disparity


def test_blur_radius_map_is_a_thin_lens_with_a_sharp_band():
    disparity = np.linspace(0, 1, 101, dtype=np.float32)[None]
    radius = blur_radius_map(disparity, 0.4, 30, depth_of_field=0.2)
    assert radius.dtype == np.float32
    assert np.all(radius[np.abs(disparity - 0.4) <= 0.1 - 1e-6] == 0)
    # The farthest background (d = 0) gets the full radius, and nothing more.
    assert radius[0, 0] == pytest.approx(30, rel=1e-5)
    assert radius.max() == pytest.approx(30, rel=1e-5)
    # Same slope in front and behind, linear in disparity, up to the full radius.
    np.testing.assert_allclose(radius[0, 40 - 20], radius[0, 40 + 20], rtol=1e-5)
    slope = np.diff(radius[0, 50:81])
    np.testing.assert_allclose(slope, slope[0], rtol=1e-3)
    assert np.all(radius[0, 80:] == radius[0, 0])


def test_a_near_object_does_not_change_the_background_blur():
    scene = np.full((10, 10), 0.1, np.float32)
    scene[5:] = 0.5
    with_near = scene.copy()
    with_near[:2, :2] = 1.0
    alone = blur_radius_map(scene, 0.5, 30)
    assert alone[0, 5] == pytest.approx(30)
    np.testing.assert_array_equal(blur_radius_map(with_near, 0.5, 30)[2:], alone[2:])
    # A background just beyond the sharp band is blurred a little, not fully.
    barely = blur_radius_map(np.float32([[0.449, 0.5, 1.0]]), 0.5, 10)
    assert 0 < barely[0, 0] < 0.5 and barely[0, 2] == pytest.approx(10)
    # With nothing behind the focus plane, the near side sets the scale.
    front_only = blur_radius_map(with_near, 0.1, 30)
    assert front_only[0, 0] == pytest.approx(30) and front_only[5, 5] < 30


def test_focus_disparity_from_subject_or_point(three_planes, depth_scene):
    planes = three_planes
    _, disparity, _ = depth_scene
    alpha = np.zeros_like(disparity)
    alpha[:, 2 * planes.third + 10:] = 1
    assert focus_disparity(disparity, alpha=alpha) == pytest.approx(planes.near / 255)
    assert focus_disparity(disparity, focus_xy=(10, 10)) == pytest.approx(planes.far / 255)
    with pytest.raises(FocusOutsideImage):
        focus_disparity(disparity, focus_xy=(planes.width, 0))


def test_upsample_disparity_follows_the_photo_edges():
    # The photo's edge is at column 100; the coarse map puts it at 104.
    image = np.zeros((120, 240, 3), np.float32)
    image[:, 100:] = 0.8
    coarse = np.zeros((30, 60), np.float32)
    coarse[:, 26:] = 1
    fine = upsample_disparity(image, coarse)
    assert fine.shape == (120, 240) and fine.dtype == np.float32
    # Plain bilinear upsampling would give about 0.1 at column 102.
    assert fine[:, 96].mean() < 0.1 and fine[:, 102].mean() > 0.5
