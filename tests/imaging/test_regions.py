"""Connected regions and reach: OpenCV does the work, scipy.ndimage's results are the reference."""

import numpy as np
import pytest
from scipy import ndimage

from bokehme.imaging.regions import in_regions, label_regions, label_regions_with_rows, region_rows, within


def masks(seed, count=30):
    """Random masks of blobs of every size, a segmenter's probability thresholded, some empty or full."""
    rng = np.random.default_rng(seed)
    yield np.zeros((17, 23), bool)
    yield np.ones((9, 31), bool)
    for _ in range(count):
        shape = tuple(rng.integers(1, 150, 2))
        noise = ndimage.gaussian_filter(rng.random(shape), rng.uniform(0.5, 6))
        yield noise > np.quantile(noise, rng.uniform(0.2, 0.95))


def test_regions_are_scipys_labels_in_scipys_order_with_their_rows():
    for mask in masks(1):
        expected, count = ndimage.label(mask)
        regions, found = label_regions(mask)
        assert found == count and np.array_equal(regions, expected)
        regions, found, tops, bottoms = label_regions_with_rows(mask)
        assert found == count and np.array_equal(regions, expected)
        rows = [box[0] for box in ndimage.find_objects(expected)]
        assert np.array_equal(tops, [r.start for r in rows]) and np.array_equal(bottoms, [r.stop for r in rows])
        if count:
            assert all(np.array_equal(a, b) for a, b in zip(region_rows(expected), (tops, bottoms)))
            labels = np.arange(1, count + 1)[::2]
            assert np.array_equal(in_regions(regions, count, labels), np.isin(expected, labels))


@pytest.mark.parametrize("distance", [0, 0.5, 1, 1.5, 2.9, 5, 7.0, 7.68, 12.3, 13.0, 14.0, 15.0, 15.36, 26.0,
                                      30.7, np.sqrt(65), np.sqrt(200)])
def test_within_is_the_exact_euclidean_distance_short_or_long(distance):
    """A short distance dilates by the disc's rectangles, a long one takes the distance transform."""
    for mask in masks(2, count=12):
        expected = ndimage.distance_transform_edt(~mask) <= distance if mask.any() else np.zeros_like(mask)
        assert np.array_equal(within(mask, distance), expected)
