"""Helpers shared by the tests of bokehme.io: small images and metadata made in tmp_path."""

import numpy as np
import pytest
from PIL import Image, ImageCms

from bokehme.io.read import read_photo

ORIENTATION = 0x0112
GPS_IFD = 0x8825


def _asymmetric_rgb(height=6, width=9, seed=0):
    """An image no flip or rotation maps onto itself."""
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _srgb_profile():
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _as_float(array):
    return np.asarray(array, dtype=np.float32) / np.float32(255)


def _exif_with(orientation=1, gps=False):
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "PhoneMaker"
    if gps:
        exif.get_ifd(GPS_IFD)[2] = (52.0, 31.0, 12.0)  # GPSLatitude
        exif.get_ifd(GPS_IFD)[1] = "N"
    return exif.tobytes()


def _make_source(tmp_path, name="src.jpg", **save_kwargs):
    path = tmp_path / name
    Image.fromarray(_asymmetric_rgb(16, 24)).save(path, **save_kwargs)
    return read_photo(path)


@pytest.fixture(scope="session")
def asymmetric_rgb():
    """``asymmetric_rgb(height=6, width=9, seed=0)``: uint8 RGB no flip or rotation maps onto itself."""
    return _asymmetric_rgb


@pytest.fixture(scope="session")
def srgb_profile():
    """``srgb_profile()``: the bytes of an sRGB ICC profile."""
    return _srgb_profile


@pytest.fixture(scope="session")
def as_float():
    """``as_float(array)``: 8-bit values as float32 in [0, 1]."""
    return _as_float


@pytest.fixture(scope="session")
def exif_with():
    """``exif_with(orientation=1, gps=False)``: EXIF bytes with a Make, an orientation and maybe GPS."""
    return _exif_with


@pytest.fixture(scope="session")
def make_source():
    """``make_source(folder, name="src.jpg", **save_kwargs)``: a 16x24 photo saved there and read back."""
    return _make_source
