import numpy as np
import pytest
from skimage import data, transform

from bokehme.imaging import matte
from bokehme.imaging.guided_filter import apply_coefficients
from bokehme.imaging.matte import alpha_model, evaluate_alpha, refine_alpha


def test_refine_alpha_beats_bilinear_upsampling_on_fine_strands(hairy_scene):
    image, alpha, _, _ = hairy_scene
    low = transform.resize(alpha, (64, 64), anti_aliasing=True).astype(np.float32)
    bilinear = transform.resize(low, alpha.shape, order=1)
    refined = refine_alpha(image, low)
    assert refined.shape == alpha.shape and refined.dtype == np.float32
    assert refined.min() >= 0 and refined.max() <= 1
    sad_bilinear = np.abs(bilinear - alpha).sum()
    sad_refined = np.abs(refined - alpha).sum()
    assert sad_refined < 0.75 * sad_bilinear


def test_refine_alpha_is_exactly_one_inside_and_zero_far_away(hairy_scene):
    image, alpha, _, _ = hairy_scene
    low = transform.resize(alpha, (64, 64), anti_aliasing=True).astype(np.float32)
    refined = refine_alpha(image, low)
    assert np.all(refined[120:180, 100:160] == 1)
    assert np.all(refined[:20, :20] == 0)


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
    dense = np.clip(apply_coefficients(a, b, image, floor), 0, 1)
    sparse = evaluate_alpha(a, b, floor, image)
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
    a, b, floor = alpha_model(image, probability, None, 1e-4)
    dense = np.clip(apply_coefficients(a, b, image, floor), 0, 1)
    # The scene has surely-0, surely-1 and computed pixels.
    assert (dense == 0).mean() > 0.2 and (dense == 1).mean() > 0.05
    assert ((dense > 0.05) & (dense < 0.95)).mean() > 0.02
    np.testing.assert_allclose(refine_alpha(image, probability), dense, rtol=0, atol=1e-5)



def test_a_ramp_of_the_model_that_no_edge_of_the_photo_follows_is_no_half_sharp_band():
    # A plain grey wall (with sensor noise) and a model whose probability
    # falls from 1 to 0 over 43 of its pixels (170 px of the photo): where
    # the photo shows no edge, the alpha takes the model's decision instead
    # of a wide band of half-sharp wall.
    rng = np.random.default_rng(0)
    image = (0.5 + rng.normal(0, 1 / 255, (128, 512, 3))).astype(np.float32)
    cells = np.arange(128, dtype=np.float32)
    probability = np.repeat(np.clip(1.5 - cells / 42.7, 0, 1)[None], 32, 0).astype(np.float32)
    alpha = refine_alpha(image, probability)
    soft_columns = np.flatnonzero(((alpha > 0.05) & (alpha < 0.95)).any(axis=0))
    decision = 4 * 42.7  # the photo column where the probability crosses 0.5
    assert np.abs(soft_columns - decision).max() < 24
    assert alpha[:, :120].min() > 0.99 and alpha[:, 230:].max() < 0.01


def test_an_8_bit_frame_gives_the_alpha_of_its_float_values(hairy_scene):
    image, alpha, _, _ = hairy_scene
    pixels = np.round(image * 255).astype(np.uint8)
    low = transform.resize(alpha, (64, 64), anti_aliasing=True).astype(np.float32)
    from_bytes = refine_alpha(pixels, low)
    from_floats = refine_alpha(pixels.astype(np.float32) / 255, low)
    assert from_bytes.dtype == np.float32
    # Block means summed before or after scaling differ in the last bits.
    np.testing.assert_allclose(from_bytes, from_floats, atol=1e-4)
    assert np.array_equal(from_bytes == 1, from_floats == 1) and np.array_equal(from_bytes == 0, from_floats == 0)
