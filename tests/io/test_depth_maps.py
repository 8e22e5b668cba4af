"""Depth maps stored in photo files, and depth or disparity images given on their own."""

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bokehme.io.depth_maps import read_depth
from bokehme.io.read import read_depth_file

SAMPLE_IMAGES = Path(__file__).resolve().parents[2] / "sample_images"


def test_read_depth_file_reads_disparity_and_inverts_depth(three_planes, tmp_path):
    levels = three_planes.levels
    Image.fromarray(255 - levels).save(tmp_path / "depth.png")
    Image.fromarray(levels.astype(np.uint16) * 257).save(tmp_path / "disparity16.png")
    disparity = read_depth_file(tmp_path / "depth.png", far_bright=True)
    assert disparity.dtype == np.float32 and disparity.shape == levels.shape
    np.testing.assert_allclose(disparity, levels / 255, atol=1e-6)
    np.testing.assert_allclose(read_depth_file(tmp_path / "disparity16.png"), levels / 255, atol=1e-6)


# ---------------------------------------------------------------------------
# Depth maps stored inside JPEGs


def _png_bytes(levels):
    buffer = io.BytesIO()
    Image.fromarray(levels).save(buffer, format="PNG")
    return buffer.getvalue()


def _jpeg_with_xmp(xmp, extended=b""):
    """A small JPEG whose APP1 segments carry `xmp` and extended XMP chunks."""
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (90, 120, 150)).save(buffer, format="JPEG")
    jpeg = buffer.getvalue()

    def app1(body):
        return b"\xff\xe1" + (len(body) + 2).to_bytes(2, "big") + body

    segments = app1(b"http://ns.adobe.com/xap/1.0/\x00" + xmp)
    guid = b"0" * 32
    chunk = 60000
    for offset in range(0, len(extended), chunk):
        segments += app1(b"http://ns.adobe.com/xmp/extension/\x00" + guid + len(extended).to_bytes(4, "big")
                         + offset.to_bytes(4, "big") + extended[offset:offset + chunk])
    return jpeg[:2] + segments + jpeg[2:]


def test_read_depth_gdepth_range_inverse(tmp_path):
    rng = np.random.default_rng(2)
    # Noise does not compress, so the data spans several extended-XMP chunks.
    levels = rng.integers(0, 256, (200, 400), dtype=np.uint8)
    data = base64.b64encode(_png_bytes(levels))
    assert len(data) > 60000
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description GDepth:Format="RangeInverse"'
           b' GDepth:Near="0.5" GDepth:Far="4.0" GDepth:Mime="image/png"/></rdf:RDF></x:xmpmeta>')
    extended = b'<x:xmpmeta><rdf:RDF><rdf:Description GDepth:Data="' + data + b'"/></rdf:RDF></x:xmpmeta>'
    path = tmp_path / "gdepth.jpg"
    path.write_bytes(_jpeg_with_xmp(xmp, extended))
    disparity = read_depth(path)
    # RangeInverse is linear in 1 / distance with near = 0: disparity is 1 - value.
    np.testing.assert_allclose(disparity, 1 - levels / 255, atol=1e-6)


def test_read_depth_dynamic_depth_range_linear(tmp_path):
    levels = np.tile(np.array([0, 255], np.uint8), (8, 8))
    png = _png_bytes(levels)
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description>'
           b'<Container:Directory><rdf:Seq>'
           b'<rdf:li><Container:Item Item:Semantic="Primary" Item:Mime="image/jpeg"/></rdf:li>'
           b'<rdf:li><Container:Item Item:Semantic="Depth" Item:Mime="image/png" Item:Length="%d"/></rdf:li>'
           b'</rdf:Seq></Container:Directory>'
           b'<Depth:DepthMap Depth:Format="RangeLinear" Depth:Near="1.0" Depth:Far="3.0"/>'
           b'</rdf:Description></rdf:RDF></x:xmpmeta>') % len(png)
    path = tmp_path / "dynamic.jpg"
    path.write_bytes(_jpeg_with_xmp(xmp) + png)
    disparity = read_depth(path)
    # Value 0 is the near limit (disparity 1), 255 the far one (0).
    np.testing.assert_allclose(disparity, np.where(levels == 0, 1.0, 0.0), atol=1e-6)


def test_read_depth_none_without_depth(tmp_path):
    path = tmp_path / "plain.jpg"
    Image.new("RGB", (16, 16)).save(path)
    assert read_depth(path) is None


def test_sample_depth_scene_carries_its_depth_map():
    # The README's first command shows the depth path only if this sample's
    # GDepth map (made by benchmarks/depth_demo.py) is found and read.
    path = SAMPLE_IMAGES / "depth_scene.jpg"
    disparity = read_depth(path)
    assert disparity is not None and disparity.dtype == np.float32
    assert disparity.shape == (300, 400)  # a third of the 1200x900 photo, as the demo stores it
    # Near and Far are the scene's own extremes: the map spans [0, 1].
    assert disparity.min() == 0 and disparity.max() > 0.95
    # The wall at the top is far, the ground at the bottom near.
    assert np.median(disparity[:20]) < 0.05 < 0.5 < np.median(disparity[-10:])


# ---------------------------------------------------------------------------
# A real iPhone Portrait photo


def test_pug_depth_map(pug, pug_regions):
    photo, disparity = pug
    assert disparity.dtype == np.float32
    assert 500 <= disparity.shape[0] <= 800 and 500 <= disparity.shape[1] <= 1000
    # Oriented like the photo: same aspect ratio.
    assert disparity.shape[1] / disparity.shape[0] == pytest.approx(
        photo.pixels.shape[1] / photo.pixels.shape[0], rel=0.02)
    head, wall, bed, beside = pug_regions(disparity)
    assert beside.sum() > 2000
    assert head.sum() > 1000 and wall.sum() > 10000 and bed.sum() > 5000
    assert np.median(disparity[head]) == pytest.approx(0.43, abs=0.05)
    assert np.median(disparity[wall]) < 0.25
    assert 0.6 < np.median(disparity[bed]) < 0.95
