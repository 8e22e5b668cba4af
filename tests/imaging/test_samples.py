"""Tests for bokehme.imaging.samples: stored 8- and 16-bit values to [0, 1] floats and back."""

import numpy as np
import pytest

from bokehme.imaging.samples import to_samples, to_unit_float


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_every_sample_comes_back_after_a_round_trip(dtype):
    every = np.arange(np.iinfo(dtype).max + 1).astype(dtype).reshape(-1, 1, 1)
    values = to_unit_float(every)
    assert values.dtype == np.float32 and values.min() == 0 and abs(values.max() - 1) < 1e-7
    np.testing.assert_array_equal(to_samples(values, dtype), every)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_values_round_to_the_nearest_sample_and_saturate(dtype):
    top = np.iinfo(dtype).max
    values = np.array([[-0.5, 0.0, 0.3 / top, 0.7 / top, 10.2 / top, 1.0, 3.0]], np.float32)
    np.testing.assert_array_equal(to_samples(values, dtype)[0], [0, 0, 0, 1, 10, top, top])


def test_8bit_values_round_to_the_nearest_level_either_side_of_each_half_level_and_saturate_above_one():
    # No negative value, as a rendering gives: the fast path, which must
    # round and saturate as the one for negatives does.
    halves = (np.arange(255) + 0.5) / 255
    below = np.nextafter(np.float32(halves), np.float32(0))
    below = np.nextafter(below, np.float32(0))
    above = np.nextafter(np.nextafter(np.float32(halves), np.float32(1)), np.float32(1))
    values = np.concatenate([below, above, np.float32([1.0, 1.002, 3.0, 1e6])]).reshape(1, -1, 1)
    levels = np.arange(255)
    np.testing.assert_array_equal(to_samples(values, np.uint8).ravel(),
                                  np.concatenate([levels, levels + 1, [255, 255, 255, 255]]))


def test_floats_pass_as_float32_without_a_copy():
    values = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    assert to_unit_float(values) is values
    assert to_unit_float(values.astype(np.float64)).dtype == np.float32


def test_other_integers_are_refused():
    with pytest.raises(TypeError):
        to_unit_float(np.zeros((2, 2), np.int32))
    with pytest.raises(TypeError):
        to_samples(np.zeros((2, 2), np.float32), np.int16)
