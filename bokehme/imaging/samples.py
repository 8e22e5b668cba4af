"""Stored samples and unit floats: 8- and 16-bit pixel values to [0, 1] and back.

Files hold pixels as 8- or 16-bit integers; bokehme's arithmetic works on
float32 in [0, 1].  A photo is kept as it was stored until it is rendered,
and a result is rounded to what its file will hold as soon as it is
rendered: a 48 MP photo is 144 MB as 8-bit samples and 576 MB as floats.
"""

import numpy as np

__all__ = ["to_unit_float", "to_samples"]

# Rows per band when rounding to 16 bits, so that no second full-size
# float32 copy is made.
_BAND_VALUES = 1 << 22


def to_unit_float(samples):
    """Stored samples as float32 in [0, 1].

    Parameters
    ----------
    samples : ndarray
        uint8 (0-255), uint16 (0-65535) or floating-point values already in
        [0, 1].

    Returns
    -------
    ndarray
        float32 of the same shape: a new array for integer samples, `samples`
        itself when it is float32 already.
    """
    if samples.dtype == np.uint8 or samples.dtype == np.uint16:
        values = samples.astype(np.float32)
        # Multiplying by the reciprocal, as every reader in bokehme does: the
        # same sample always gives the same float, bit for bit.
        values *= np.float32(1 / np.iinfo(samples.dtype).max)
        return values
    if samples.dtype.kind != "f":
        raise TypeError(f"samples must be uint8, uint16 or floating point, not {samples.dtype}")
    return samples.astype(np.float32, copy=False)


def to_samples(values, dtype):
    """Round [0, 1] values to the full range of uint8 or uint16 (saturating).

    Parameters
    ----------
    values : ndarray
        Floating-point values; those outside [0, 1] saturate.
    dtype : np.uint8 or np.uint16

    Returns
    -------
    ndarray
        `dtype`, the shape of `values`, each value ``round(v * max)``.
    """
    if dtype == np.uint8:
        # Imported here: reading a photo, which needs this module, must not
        # wait for OpenCV (a command that only answers --help never loads it).
        import cv2

        values = np.ascontiguousarray(values, dtype=np.float32)
        if values.size and values.min() >= 0:
            # One pass that scales, rounds and saturates, into the 8-bit
            # result; OpenCV's scaling of absolute values is several times
            # faster than its weighted sum below and rounds every value that
            # is not negative the same.
            return cv2.convertScaleAbs(values, alpha=255.0).reshape(values.shape)
        # Negative values (or NaN) saturate to 0 here; their absolute values would not.
        return cv2.addWeighted(values, 255.0, values, 0.0, 0.0, dtype=cv2.CV_8U).reshape(values.shape)
    if dtype != np.uint16:
        raise TypeError(f"dtype must be uint8 or uint16, not {np.dtype(dtype)}")
    top = np.float32(65535)
    out = np.empty(values.shape, np.uint16)
    rows = max(1, _BAND_VALUES // max(1, values[0].size))
    for start in range(0, len(values), rows):
        scaled = np.clip(values[start:start + rows], 0, 1, dtype=np.float32)
        scaled *= top
        scaled += np.float32(0.5)
        out[start:start + rows] = scaled  # the cast truncates: + 0.5 rounds
    return out
