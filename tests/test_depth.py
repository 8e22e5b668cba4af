"""Depth-aware lens blur: radius model, layered rendering, phone depth maps."""

import base64
import io
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from scipy import ndimage

from bokehme import depth, lens
from bokehme.photo_io import read_depth, read_depth_file, read_photo

# ---------------------------------------------------------------------------
# A synthetic scene: three planes side by side, far | in focus | near.

HEIGHT, WIDTH = 240, 360
THIRD = WIDTH // 3
# 8-bit levels, so the PNG round trip is exact.
FAR, FOCUS, NEAR = 26, 128, 200
MAX_RADIUS = 12.0
COLOURS = {FAR: (0.9, 0.2, 0.2), FOCUS: (0.2, 0.8, 0.2), NEAR: (0.2, 0.3, 0.9)}


def three_planes():
    """Photo and 8-bit disparity of the scene.

    Each plane has its own colour, darker above a horizontal step at the
    middle row (to measure the blur) and a fine random texture in the
    in-focus plane (to see that it stays sharp).
    """
    rng = np.random.default_rng(1)
    image = np.empty((HEIGHT, WIDTH, 3), np.float32)
    levels = np.empty((HEIGHT, WIDTH), np.uint8)
    for i, level in enumerate((FAR, FOCUS, NEAR)):
        columns = slice(i * THIRD, (i + 1) * THIRD)
        image[:, columns] = COLOURS[level]
        image[:HEIGHT // 2, columns] *= 0.3
        levels[:, columns] = level
    middle = image[:, THIRD:2 * THIRD]
    middle += rng.uniform(-0.1, 0.1, middle.shape).astype(np.float32)
    return np.clip(image, 0, 1), levels


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """The scene with its disparity read back through a depth PNG."""
    image, levels = three_planes()
    path = tmp_path_factory.mktemp("depth") / "disparity.png"
    Image.fromarray(levels).save(path)
    disparity = read_depth_file(path)
    focus = depth.focus_disparity(disparity, focus_xy=(WIDTH // 2, HEIGHT // 4))
    return image, disparity, focus


@pytest.fixture(scope="module")
def rendered(scene):
    image, disparity, focus = scene
    return depth.render_depth(image, disparity, focus, MAX_RADIUS)


def measured_radius(out, columns):
    """Blur radius across the step at the middle row, from its line spread.

    A disc of radius R spreads a straight edge with a line-spread function of
    variance R^2 / 4; averaging along the edge removes the dependence on
    where the step falls in the reduced grids.
    """
    light = lens.srgb_to_linear(out[HEIGHT // 4:3 * HEIGHT // 4, columns]).sum(axis=2).mean(axis=1)
    spread = np.diff(light.astype(np.float64))
    spread /= spread.sum()
    x = np.arange(spread.size)
    mean = (x * spread).sum()
    return 2 * np.sqrt(((x - mean) ** 2 * spread).sum())


def test_read_depth_file_reads_disparity_and_inverts_depth(tmp_path):
    _, levels = three_planes()
    Image.fromarray(255 - levels).save(tmp_path / "depth.png")
    Image.fromarray(levels.astype(np.uint16) * 257).save(tmp_path / "disparity16.png")
    disparity = read_depth_file(tmp_path / "depth.png", far_bright=True)
    assert disparity.dtype == np.float32 and disparity.shape == levels.shape
    np.testing.assert_allclose(disparity, levels / 255, atol=1e-6)
    np.testing.assert_allclose(read_depth_file(tmp_path / "disparity16.png"), levels / 255, atol=1e-6)


def test_blur_radius_map_is_a_thin_lens_with_a_sharp_band():
    disparity = np.linspace(0, 1, 101, dtype=np.float32)[None]
    radius = depth.blur_radius_map(disparity, 0.4, 30, depth_of_field=0.2)
    assert radius.dtype == np.float32
    assert np.all(radius[np.abs(disparity - 0.4) <= 0.1 - 1e-6] == 0)
    # The farthest background (d = 0) gets the full radius, and nothing more.
    assert radius[0, 0] == pytest.approx(30, rel=1e-5)
    assert radius.max() == pytest.approx(30, rel=1e-5)
    # Same slope in front and behind, linear in disparity, up to the full radius.
    np.testing.assert_allclose(radius[0, 40 - 20], radius[0, 40 + 20], rtol=1e-5)
    slope = np.diff(radius[0, 50:81])
    np.testing.assert_allclose(slope, slope[0], rtol=1e-3)
    assert np.all(radius[0, 80:] == radius[0, 0])


def test_a_near_object_does_not_change_the_background_blur():
    scene = np.full((10, 10), 0.1, np.float32)
    scene[5:] = 0.5
    with_near = scene.copy()
    with_near[:2, :2] = 1.0
    alone = depth.blur_radius_map(scene, 0.5, 30)
    assert alone[0, 5] == pytest.approx(30)
    np.testing.assert_array_equal(depth.blur_radius_map(with_near, 0.5, 30)[2:], alone[2:])
    # A background just beyond the sharp band is blurred a little, not fully.
    barely = depth.blur_radius_map(np.float32([[0.449, 0.5, 1.0]]), 0.5, 10)
    assert 0 < barely[0, 0] < 0.5 and barely[0, 2] == pytest.approx(10)
    # With nothing behind the focus plane, the near side sets the scale.
    front_only = depth.blur_radius_map(with_near, 0.1, 30)
    assert front_only[0, 0] == pytest.approx(30) and front_only[5, 5] < 30


def test_focus_disparity_from_subject_or_point(scene):
    _, disparity, _ = scene
    alpha = np.zeros_like(disparity)
    alpha[:, 2 * THIRD + 10:] = 1
    assert depth.focus_disparity(disparity, alpha=alpha) == pytest.approx(NEAR / 255)
    assert depth.focus_disparity(disparity, focus_xy=(10, 10)) == pytest.approx(FAR / 255)
    with pytest.raises(ValueError):
        depth.focus_disparity(disparity, focus_xy=(WIDTH, 0))


def test_each_plane_is_blurred_by_its_radius(scene, rendered):
    _, disparity, focus = scene
    radius = depth.blur_radius_map(disparity, focus, MAX_RADIUS)
    for i in (0, 2):
        expected = radius[0, i * THIRD + THIRD // 2]
        assert expected > 4
        # Columns far enough from the plane's sides not to see its neighbours.
        columns = slice(i * THIRD + 25, (i + 1) * THIRD - 25)
        assert measured_radius(rendered, columns) == pytest.approx(expected, rel=0.2)
    assert radius[0, THIRD + THIRD // 2] == 0


def test_in_focus_plane_is_untouched_and_far_plane_does_not_bleed_in(scene, rendered):
    image, disparity, focus = scene
    near_reach = int(np.ceil(depth.blur_radius_map(disparity, focus, MAX_RADIUS).max())) + 3
    # From the far plane's edge up to where the near plane's blur reaches.
    sharp = slice(THIRD, 2 * THIRD - near_reach)
    np.testing.assert_array_equal(rendered[:, sharp], image[:, sharp])
    # And the in-focus colour does not leak backward into the blurred far plane.
    far_edge = rendered[:, THIRD - 4:THIRD]
    assert np.all(far_edge[..., 1] < COLOURS[FAR][1] + 0.02)


def test_near_plane_spills_over_the_in_focus_plane(scene, rendered):
    image, _, _ = scene
    # Just left of the near plane's edge the sharp plane is veiled by it:
    # more of its blue, less of the sharp plane's green.
    veiled = rendered[:, 2 * THIRD - 3:2 * THIRD]
    below = image[:, 2 * THIRD - 3:2 * THIRD]
    assert veiled[..., 2].mean() > below[..., 2].mean() + 0.1
    assert veiled[..., 1].mean() < below[..., 1].mean() - 0.1


def test_near_plane_is_see_through_inside_its_outline():
    # A flat blue card far in front of a textured green plane in focus.  A
    # lens blurs the card's outline both ways: just inside it the card's
    # blurred coverage is well below 1, so the plane behind shows through.
    rng = np.random.default_rng(2)
    image = np.empty((120, 160, 3), np.float32)
    image[:] = COLOURS[FOCUS]
    image += rng.uniform(-0.1, 0.1, image.shape).astype(np.float32)
    disparity = np.full((120, 160), 0.4, np.float32)
    card = (slice(30, 90), slice(60, 130))
    image[card] = COLOURS[NEAR]
    disparity[card] = 1.0
    out = depth.render_depth(np.clip(image, 0, 1), disparity, 0.4, MAX_RADIUS)
    rows = slice(30 + 15, 90 - 15)  # away from the corners
    green = out[rows, :, 1].mean(axis=0)
    # Share of the plane's green three pixels inside the card's left edge;
    # a disc of radius 12 leaves about a third there (0 would be opaque).
    seen = (green[60 + 3] - COLOURS[NEAR][1]) / (COLOURS[FOCUS][1] - COLOURS[NEAR][1])
    assert 0.15 < seen < 0.5
    # Deep inside, the card is opaque.
    assert green[95] == pytest.approx(COLOURS[NEAR][1], abs=0.02)


def test_subject_alpha_stays_sharp_off_the_focus_plane(scene, rendered):
    image, disparity, focus = scene
    alpha = np.zeros_like(disparity)
    patch = (slice(100, 140), slice(40, 80))  # inside the far plane, across its step
    alpha[patch] = 1
    out = depth.render_depth(image, disparity, focus, MAX_RADIUS, alpha=alpha)
    assert not np.array_equal(rendered[patch], image[patch])
    np.testing.assert_array_equal(out[patch], image[patch])


def test_a_flat_photo_comes_back_flat_whatever_its_depth():
    # Blurring a flat colour changes nothing, also where a near object's
    # blur fades out over the focus plane (it once mixed in black there).
    image = np.full((40, 60, 3), 0.8, np.float32)
    disparity = np.full((40, 60), 0.1, np.float32)
    disparity[10:30, 20:40] = 1.0
    disparity[:, :5] = 0.5
    for radius in (2.2, 3.0, 6.0, 10.0):
        np.testing.assert_allclose(depth.render_depth(image, disparity, 0.5, radius), image, atol=1e-5)


def test_everything_in_focus_returns_the_photo(scene):
    image, disparity, focus = scene
    out = depth.render_depth(image, disparity, focus, MAX_RADIUS, depth_of_field=2.0)
    np.testing.assert_array_equal(out, image)


def test_upsample_disparity_follows_the_photo_edges():
    # The photo's edge is at column 100; the coarse map puts it at 104.
    image = np.zeros((120, 240, 3), np.float32)
    image[:, 100:] = 0.8
    coarse = np.zeros((30, 60), np.float32)
    coarse[:, 26:] = 1
    fine = depth.upsample_disparity(image, coarse)
    assert fine.shape == (120, 240) and fine.dtype == np.float32
    # Plain bilinear upsampling would give about 0.1 at column 102.
    assert fine[:, 96].mean() < 0.1 and fine[:, 102].mean() > 0.5


def test_step_across_the_focus_plane_leaves_no_sharp_sliver():
    # A far and a near textured plane side by side, both well out of focus,
    # their disparity ramped over six pixels as an upsampled map is; on the
    # way it passes the focus plane, but a lens has no surface in focus
    # there.  Above them lies a textured plane in focus (the subject), far
    # enough from the rows measured to be no side of the step there.
    rng = np.random.default_rng(3)
    height, width, step = 120, 200, 100
    image = np.clip(0.5 + rng.uniform(-0.2, 0.2, (height, width, 3)), 0, 1).astype(np.float32)
    across = np.clip((np.arange(width) - (step - 3)) / 6, 0, 1)
    below = np.clip((np.arange(height) - 37) / 6, 0, 1)[:, None]
    disparity = ((1 - below) * 0.5 + below * (0.1 + 0.8 * across)).astype(np.float32)
    out = depth.render_depth(image, disparity, 0.5, 8.0)

    def kept(columns):
        # Rows well below the subject, so only the two planes are seen.
        region = np.zeros((height, width), bool)
        region[70:110, columns] = True
        return detail_energy(out, region) / detail_energy(image, region)

    blurred = max(kept(slice(20, 60)), kept(slice(140, 180)))
    assert blurred < 1e-3
    # No column along the step keeps much more of the photo's detail than
    # the blurred planes do; one rendered in focus keeps thousands of times
    # more.
    assert max(kept(column) for column in range(step - 10, step + 10)) < 10 * blurred


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
    path = Path(__file__).resolve().parent.parent / "sample_images" / "depth_scene.jpg"
    disparity = read_depth(path)
    assert disparity is not None and disparity.dtype == np.float32
    assert disparity.shape == (300, 400)  # a third of the 1200x900 photo, as the demo stores it
    # Near and Far are the scene's own extremes: the map spans [0, 1].
    assert disparity.min() == 0 and disparity.max() > 0.95
    # The wall at the top is far, the ground at the bottom near.
    assert np.median(disparity[:20]) < 0.05 < 0.5 < np.median(disparity[-10:])


# ---------------------------------------------------------------------------
# A real iPhone Portrait photo


def luminance(image):
    """Rec. 709 luminance of an (H, W, 3) sRGB image."""
    return image @ np.array([0.2126, 0.7152, 0.0722], np.float32)


def detail_energy(image, region):
    """Mean squared Laplacian of the luminance inside a boolean region."""
    return float(np.mean(ndimage.laplace(luminance(image))[region] ** 2))


def pug_regions(disparity):
    """Head, wall, near bed and the wall beside the pug, found in the photo's depth map.

    The pug is the largest connected region of middle disparity (between
    the wall's and the bed's).  Its head is the highest part of the dog: the
    part of that region within a quarter of the dog's height of the point
    that far below the top of its head.  The wall is everything well above
    the pug's top, right of the door frame.  The near bed is the largest
    region of high disparity.  Beside the pug is the wall (low disparity)
    3 to 12 map pixels from its outline.
    """
    pug, count = ndimage.label((disparity > 0.3) & (disparity < 0.55))
    sizes = ndimage.sum(np.ones_like(disparity), pug, index=np.arange(1, count + 1))
    pug = pug == 1 + int(np.argmax(sizes))
    rows = np.nonzero(pug.any(axis=1))[0]
    top, bottom = rows[0], rows[-1]
    reach = (bottom - top) / 4
    crown = np.nonzero(pug[top])[0].mean()
    y, x = np.ogrid[:disparity.shape[0], :disparity.shape[1]]
    head = pug & ((y - top - reach) ** 2 + (x - crown) ** 2 < reach ** 2)
    wall = np.zeros_like(pug)
    wall[:int(top * 0.8), disparity.shape[1] // 5:] = True
    bed, count = ndimage.label(disparity > 0.6)
    sizes = ndimage.sum(np.ones_like(disparity), bed, index=np.arange(1, count + 1))
    bed = bed == 1 + int(np.argmax(sizes))
    beside = (ndimage.binary_dilation(pug, iterations=12) & ~ndimage.binary_dilation(pug, iterations=3)
              & (disparity < 0.25))
    return head, wall, bed, beside


@pytest.fixture(scope="module")
def pug(pug_heic):
    """The pug photo (full size) and its depth map."""
    return read_photo(pug_heic), read_depth(pug_heic)


def test_pug_depth_map(pug):
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


def test_pug_render_keeps_the_head_and_blurs_wall_and_bed(pug):
    photo, disparity = pug
    # Work at a quarter of the pixels (1008x756) to stay fast.
    pixels = torch.from_numpy(photo.pixels).permute(2, 0, 1)[None]
    image = F.interpolate(pixels, size=(756, 1008), mode="area")[0].permute(1, 2, 0).numpy().copy()
    head, wall, bed, beside = pug_regions(disparity)
    rows, columns = np.nonzero(head)
    centre = (columns.mean() * 1008 / disparity.shape[1], rows.mean() * 756 / disparity.shape[0])
    fine = depth.upsample_disparity(image, disparity)
    focus = depth.focus_disparity(fine, focus_xy=centre)
    out = depth.render_depth(image, fine, focus, max_radius=20)

    def at_photo_size(region):
        # Nearest-neighbour enlargement, then a margin against the depth edges.
        big = np.asarray(Image.fromarray(region).resize((1008, 756), Image.NEAREST))
        return ndimage.binary_erosion(big, iterations=8)

    kept = {name: detail_energy(out, at_photo_size(region)) / detail_energy(image, at_photo_size(region))
            for name, region in (("head", head), ("wall", wall), ("bed", bed))}
    assert kept["head"] >= 0.8, kept
    assert kept["wall"] <= 0.3, kept
    assert kept["bed"] <= 0.3, kept
    # No halo: the plain wall beside the dog keeps its brightness, where a
    # blur of the whole photo darkens it with the dog's grey (by 0.05).
    near_dog = np.asarray(Image.fromarray(beside).resize((1008, 756), Image.NEAREST))
    halo = luminance(out)[near_dog] - luminance(image)[near_dog]
    assert abs(float(halo.mean())) < 0.015
