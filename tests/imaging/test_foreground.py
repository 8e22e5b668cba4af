import numpy as np

from bokehme.imaging.foreground import estimate_foreground


def test_estimate_foreground_removes_background_colour_from_soft_edges(hairy_scene):
    image, alpha, fg, _ = hairy_scene
    estimated = estimate_foreground(image, alpha)
    assert estimated.dtype == np.float32
    sure = (alpha == 1) | (alpha == 0)
    np.testing.assert_array_equal(estimated[sure], image[sure])
    soft = (alpha > 0.05) & (alpha < 0.95)
    before = np.abs(image[soft] - fg[soft]).mean()
    after = np.abs(estimated[soft] - fg[soft]).mean()
    assert after < 0.5 * before
