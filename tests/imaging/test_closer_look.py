"""A closer look's probabilities laid over the whole photo's, on a finer map."""

import numpy as np
import torch
import torch.nn.functional as F

from bokehme.imaging.closer_look import LOOK_GAIN, paste_looks


def _probabilities(rng, shape):
    logits = rng.normal(0, 3, (21, *shape)).astype(np.float32)
    return (np.exp(logits) / np.exp(logits).sum(axis=0)).astype(np.float32)


def test_a_closer_look_decides_inside_its_box_and_the_whole_view_elsewhere():
    rng = np.random.default_rng(5)
    whole = _probabilities(rng, (30, 40))
    crop = _probabilities(rng, (50, 50))
    # A box over the middle of a 300 x 400 photo: rows 90-210, columns 100-300.
    fine = paste_looks(whole, [((0.3, 0.7, 0.25, 0.75), crop)], (300, 400))
    assert fine.shape == (21, LOOK_GAIN * 30, LOOK_GAIN * 40)
    # Outside the box: the whole view enlarged as torch's bilinear (pixel centres aligned) does.
    enlarged = F.interpolate(torch.from_numpy(whole)[None], size=fine.shape[1:], mode="bilinear",
                             align_corners=False)[0].numpy()
    outside = np.ones(fine.shape[1:], bool)
    outside[18:42, 20:60] = False
    np.testing.assert_allclose(fine[:, outside], enlarged[:, outside], atol=1e-6)
    # Inside: the crop stretched over the box.
    stretched = F.interpolate(torch.from_numpy(crop)[None], size=(24, 40), mode="bilinear",
                              align_corners=False)[0].numpy()
    np.testing.assert_allclose(fine[:, 18:42, 20:60], stretched, atol=1e-5)
    assert np.allclose(fine.sum(axis=0), 1.0, atol=1e-5)


def test_without_a_closer_look_the_whole_view_is_kept_as_it_is():
    whole = _probabilities(np.random.default_rng(6), (30, 40))
    assert paste_looks(whole, [], (300, 400)) is whole
