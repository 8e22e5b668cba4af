"""Normalized convolution's holes, filled by push-pull from coarser scales."""

import torch
import torch.nn.functional as F

__all__ = ["fill_holes"]


def fill_holes(num, den, least):
    """Normalized values ``num / den``, holes filled from coarser scales.

    Where ``den`` (the blurred weight) is below ``least`` there is almost no
    weighted content nearby; such pixels take a push-pull estimate built
    only from weighted content further away, never from unweighted pixels.

    Parameters
    ----------
    num : Tensor
        (N, C, h, w) float32 weighted sums.
    den : Tensor
        (N, 1, h, w) float32 sums of the weights.
    least : float
        Weight below which a pixel is partly or wholly a hole.

    Returns
    -------
    Tensor
        (N, C, h, w) float32.

    Notes
    -----
    Push-pull (Gortler et al., "The Lumigraph", 1996): the sums are halved
    in resolution until every pixel has weight, and each level's estimate is
    blended into the finer one by its confidence ``min(den / least, 1)``.
    """
    if bool(den.min() >= least):
        return num / den
    if min(den.shape[-2:]) <= 1:
        return num / den.clamp(min=1e-12) * (den > 0)
    confidence = (den / least).clamp_(max=1)
    estimate = num / den.clamp(min=1e-12)
    # Block sums, so ``least`` keeps its meaning one level coarser.
    coarse = fill_holes(F.avg_pool2d(num, 2, ceil_mode=True, divisor_override=1),
                        F.avg_pool2d(den, 2, ceil_mode=True, divisor_override=1),
                        least)
    coarse = F.interpolate(coarse, size=den.shape[-2:], mode="bilinear",
                           align_corners=False)
    return torch.lerp(coarse, estimate, confidence)
