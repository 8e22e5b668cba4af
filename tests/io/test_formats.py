"""Tests for bokehme.io.formats: the format each result is written in."""

import pytest

from bokehme.io.formats import output_format


def test_output_format_fallbacks():
    assert output_format("JPEG") == ("JPEG", ".jpg")
    assert output_format("HEIF") == ("JPEG", ".jpg")
    assert output_format("BMP") == ("PNG", ".png")
    assert output_format("JPEG", "tif") == ("TIFF", ".tif")
    with pytest.raises(ValueError):
        output_format("JPEG", "gif")
