import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bokehme.imaging.resample import block_mean, resize_bilinear, resized_block_mean, upsample, upsample_rows


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


@pytest.mark.parametrize("size", [(96, 80), (240, 320), (37, 501)])
def test_bilinear_resize_is_torchs_and_the_same_on_any_number_of_threads(size):
    planes = torch.from_numpy(np.random.default_rng(3).random((3, 160, 120), dtype=np.float32))
    reference = F.interpolate(planes[None], size=size, mode="bilinear", align_corners=False)[0]
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        alone = resize_bilinear(planes, size)
        torch.set_num_threads(2)
        together = resize_bilinear(planes, size)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(alone, together)
    torch.testing.assert_close(alone, reference, rtol=0, atol=1e-6)


@pytest.mark.parametrize("small, shape, scale", [((6, 8), (60, 80), 10), ((576, 768), (3024, 4032), 5),
                                                 ((7, 5), (45, 31), 4), ((10, 10), (10, 10), 3)])
def test_block_means_of_a_resized_map_without_resizing_it(small, shape, scale):
    x = np.random.default_rng(small[0]).random(small, dtype=np.float32)
    # The full-resolution way: enlarge with torch, then average the blocks.
    big = F.interpolate(torch.from_numpy(x)[None, None], size=shape, mode="bilinear", align_corners=False)[0, 0]
    reference = F.avg_pool2d(big[None], scale, ceil_mode=True, divisor_override=None, count_include_pad=False)[0]
    np.testing.assert_allclose(resized_block_mean(x, shape, scale), reference.numpy(), atol=2e-6)


@pytest.mark.parametrize("shape, scale", [((720, 1280, 3), 3), ((719, 1277, 3), 6), ((37, 41), 8), ((5, 7, 3), 16),
                                          ((300, 301), 256), ((301, 602), 300)])
def test_an_8bit_block_mean_is_the_float_block_mean_of_its_samples_over_255(shape, scale):
    samples = np.random.default_rng(scale).integers(0, 256, shape, dtype=np.uint8)
    # The sums are exact either way; the float path multiplies by the reciprocal count.
    expected = block_mean(samples.astype(np.float32), scale) * np.float32(1 / 255)
    got = block_mean(samples, scale)
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_array_max_ulp(got, expected, maxulp=2)
    # White stays exactly white, partial blocks at the edges included.
    assert (block_mean(np.full(shape, 255, np.uint8), scale) == 1).all()


@pytest.mark.parametrize("shape, scale", [((3000, 4000, 3), 4), ((719, 1277, 3), 6), ((37, 41), 8), ((5, 7, 3), 16),
                                          ((3, 2, 3), 4)])
def test_a_float_block_mean_averages_each_block_edges_included(shape, scale):
    x = np.random.default_rng(scale).random(shape, dtype=np.float32)
    planes = torch.from_numpy(x[..., None] if x.ndim == 2 else x).permute(2, 0, 1)[None]
    # Windows cut by the right and bottom edges average the pixels they hold.
    reference = F.avg_pool2d(planes, scale, ceil_mode=True)[0].permute(1, 2, 0).numpy()
    got = block_mean(x, scale)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, reference.reshape(got.shape), rtol=1e-6, atol=1e-7)
    # Read where it lies: a crop of a larger photo averages as its copy does.
    crop = x[1:, 1:]
    np.testing.assert_array_equal(block_mean(crop, scale), block_mean(np.ascontiguousarray(crop), scale))
