import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bokehme.imaging.resample import upsample, upsample_rows


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
