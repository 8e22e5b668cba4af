import numpy as np
import pytest
from skimage import data, draw, transform

from bokehme import matte
from bokehme.matte import (_alpha_model, _alpha_where_unsure, _apply, estimate_foreground,
                           fast_guided_filter, guided_filter, refine_alpha)


def photo(name, size):
    img = transform.resize(getattr(data, name)()[..., :3], (size, size), anti_aliasing=True)
    return img.astype(np.float32)


def hairy_scene(size=256, seed=0):
    """A dark-haired blob with thin strands over a textured background."""
    rng = np.random.default_rng(seed)
    sup = 4
    canvas = np.zeros((size * sup, size * sup), bool)
    c = size * sup / 2
    rr, cc = draw.disk((c * 1.1, c), size * sup * 0.3, shape=canvas.shape)
    canvas[rr, cc] = True
    for _ in range(40):
        angle = rng.uniform(-np.pi, 0)
        y, x = c * 1.1 + 0.28 * size * sup * np.sin(angle), c + 0.28 * size * sup * np.cos(angle)
        heading = angle + rng.normal(0, 0.3)
        for _ in range(int(rng.uniform(15, 40) * sup / 2)):
            heading += rng.normal(0, 0.05)
            y, x = y + 2 * np.sin(heading), x + 2 * np.cos(heading)
            rr, cc = draw.disk((y, x), rng.uniform(0.4, 1.0) * sup, shape=canvas.shape)
            canvas[rr, cc] = True
    alpha = canvas.reshape(size, sup, size, sup).mean((1, 3), dtype=np.float32)
    fg = np.empty((size, size, 3), np.float32)
    fg[:] = [0.3, 0.18, 0.1]
    bg = photo("coffee", size)
    image = fg * alpha[..., None] + bg * (1 - alpha[..., None])
    return image, alpha, fg, bg


@pytest.mark.parametrize("gray", [False, True])
def test_fast_guided_filter_is_close_to_exact(gray):
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


def test_refine_alpha_beats_bilinear_upsampling_on_fine_strands():
    image, alpha, _, _ = hairy_scene()
    low = transform.resize(alpha, (64, 64), anti_aliasing=True).astype(np.float32)
    bilinear = transform.resize(low, alpha.shape, order=1)
    refined = refine_alpha(image, low)
    assert refined.shape == alpha.shape and refined.dtype == np.float32
    assert refined.min() >= 0 and refined.max() <= 1
    sad_bilinear = np.abs(bilinear - alpha).sum()
    sad_refined = np.abs(refined - alpha).sum()
    assert sad_refined < 0.75 * sad_bilinear


def test_refine_alpha_is_exactly_one_inside_and_zero_far_away():
    image, alpha, _, _ = hairy_scene()
    low = transform.resize(alpha, (64, 64), anti_aliasing=True).astype(np.float32)
    refined = refine_alpha(image, low)
    assert np.all(refined[120:180, 100:160] == 1)
    assert np.all(refined[:20, :20] == 0)


def test_estimate_foreground_removes_background_colour_from_soft_edges():
    image, alpha, fg, _ = hairy_scene()
    estimated = estimate_foreground(image, alpha)
    assert estimated.dtype == np.float32
    sure = (alpha == 1) | (alpha == 0)
    np.testing.assert_array_equal(estimated[sure], image[sure])
    soft = (alpha > 0.05) & (alpha < 0.95)
    before = np.abs(image[soft] - fg[soft]).mean()
    after = np.abs(estimated[soft] - fg[soft]).mean()
    assert after < 0.5 * before


@pytest.mark.parametrize("shape, cells", [((203, 317), (68, 106)),
                                          ((331, 149), (111, 50)),
                                          ((40, 1201), (14, 401)),
                                          ((9, 40), (9, 7))])
def test_sparse_alpha_matches_the_dense_upsampling(shape, cells, monkeypatch):
    # Strips of a few rows, so that rectangles straddle strips.
    monkeypatch.setattr(matte, "_STRIP_PIXELS", 2000)
    rng = np.random.default_rng(1)
    image = rng.random((*shape, 3), dtype=np.float32)
    a = rng.normal(0, 0.1, (*cells, 3)).astype(np.float32)
    b = rng.uniform(0.2, 0.6, cells).astype(np.float32)
    floor = rng.uniform(-0.5, 0.5, cells).clip(0).astype(np.float32)
    # Blocks of surely-0 and surely-1 cells among rough ones.
    y, x = np.mgrid[:cells[0], :cells[1]] / np.array(cells)[:, None, None]
    zero = (x < 0.35) & (rng.random(cells) < 0.95)
    a[zero], b[zero], floor[zero] = 0, 0, 0
    floor[(y > 0.6) & (x > 0.5)] = 1
    dense = np.clip(_apply(a, b, image, floor), 0, 1)
    sparse = _alpha_where_unsure(a, b, floor, image)
    assert (sparse == 0).mean() > 0.1 and (sparse == 1).mean() > 0.1
    # To float rounding: the sparse sampling is torch's, not just close to it.
    np.testing.assert_allclose(sparse, dense, rtol=0, atol=1e-6)


@pytest.mark.parametrize("shape", [(203, 317), (331, 149)])
def test_refine_alpha_equals_the_dense_linear_model(shape):
    # Sizes that are no multiple of the coefficients' subsampling.
    image = transform.resize(data.astronaut(), shape, anti_aliasing=True).astype(np.float32)
    low = (shape[0] // 5, shape[1] // 5)
    y, x = np.mgrid[:low[0], :low[1]]
    distance = np.hypot((y - low[0] / 2) / low[0], (x - low[1] / 2) / low[1])
    probability = np.clip((0.4 - distance) / 0.15, 0, 1).astype(np.float32)
    a, b, floor = _alpha_model(image, probability, None, 1e-4)
    dense = np.clip(_apply(a, b, image, floor), 0, 1)
    # The scene has surely-0, surely-1 and computed pixels.
    assert (dense == 0).mean() > 0.2 and (dense == 1).mean() > 0.05
    assert ((dense > 0.05) & (dense < 0.95)).mean() > 0.02
    np.testing.assert_allclose(refine_alpha(image, probability), dense, rtol=0, atol=1e-5)
