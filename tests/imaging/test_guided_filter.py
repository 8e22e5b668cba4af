import numpy as np
import pytest

from bokehme.imaging.guided_filter import fast_guided_filter, guided_filter


@pytest.mark.parametrize("gray", [False, True])
def test_fast_guided_filter_is_close_to_exact(photo, gray):
    guide = photo("astronaut", 256)
    if gray:
        guide = guide.mean(-1)
    src = photo("coffee", 256).mean(-1)
    exact = guided_filter(guide, src, 8, 1e-2)
    fast = fast_guided_filter(guide, src, 8, 1e-2, 4)
    assert exact.dtype == fast.dtype == np.float32
    # He & Sun report the fast filter as visually identical; here: mean
    # absolute difference under 1% of the range, and no gross outliers.
    assert np.abs(exact - fast).mean() < 0.01
    assert np.percentile(np.abs(exact - fast), 99) < 0.05
    # And it is not simply returning its input.
    assert np.abs(exact - src).mean() > 0.01


def test_guided_filter_keeps_a_constant_and_follows_edges():
    guide = np.zeros((64, 64), np.float32)
    guide[:, 32:] = 1
    flat = np.full((64, 64), 0.4, np.float32)
    np.testing.assert_allclose(guided_filter(guide, flat, 5, 1e-3), 0.4, atol=1e-5)
    step = guided_filter(guide, guide, 5, 1e-4)
    assert step[:, 30].max() < 0.05 and step[:, 33].min() > 0.95


def test_a_colour_guide_reproduces_a_mix_of_its_own_colours():
    guide = np.random.default_rng(1).random((64, 96, 3), dtype=np.float32)
    mix = 0.2 * guide[..., 0] + 0.5 * guide[..., 1] - 0.3 * guide[..., 2] + 0.25
    # Every window's best linear model is the mix itself.
    np.testing.assert_allclose(guided_filter(guide, mix, 4, 1e-6), mix, atol=1e-3)
    # A source the colours do not explain is smoothed.
    noise = np.random.default_rng(0).random(mix.shape, dtype=np.float32)
    assert np.abs(guided_filter(guide, noise, 4, 1e-2) - noise).mean() > 0.1
