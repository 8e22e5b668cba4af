"""The layered depth-of-field render, on synthetic scenes and a real iPhone Portrait photo."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from scipy import ndimage

from bokehme.imaging.colour import srgb_to_linear
from bokehme.imaging.depth_map import blur_radius_map, focus_disparity, upsample_disparity
from bokehme.imaging.depth_render import render_depth

MAX_RADIUS = 12.0


@pytest.fixture(scope="module")
def rendered(depth_scene):
    image, disparity, focus = depth_scene
    return render_depth(image, disparity, focus, MAX_RADIUS)


def measured_radius(out, columns, height):
    """Blur radius across the step at the middle row, from its line spread.

    A disc of radius R spreads a straight edge with a line-spread function of
    variance R^2 / 4; averaging along the edge removes the dependence on
    where the step falls in the reduced grids.
    """
    light = srgb_to_linear(out[height // 4:3 * height // 4, columns]).sum(axis=2).mean(axis=1)
    spread = np.diff(light.astype(np.float64))
    spread /= spread.sum()
    x = np.arange(spread.size)
    mean = (x * spread).sum()
    return 2 * np.sqrt(((x - mean) ** 2 * spread).sum())


def luminance(image):
    """Rec. 709 luminance of an (H, W, 3) sRGB image."""
    return image @ np.array([0.2126, 0.7152, 0.0722], np.float32)


def detail_energy(image, region):
    """Mean squared Laplacian of the luminance inside a boolean region."""
    return float(np.mean(ndimage.laplace(luminance(image))[region] ** 2))


def test_each_plane_is_blurred_by_its_radius(three_planes, depth_scene, rendered):
    third = three_planes.third
    _, disparity, focus = depth_scene
    radius = blur_radius_map(disparity, focus, MAX_RADIUS)
    for i in (0, 2):
        expected = radius[0, i * third + third // 2]
        assert expected > 4
        # Columns far enough from the plane's sides not to see its neighbours.
        columns = slice(i * third + 25, (i + 1) * third - 25)
        assert measured_radius(rendered, columns, three_planes.height) == pytest.approx(expected, rel=0.2)
    assert radius[0, third + third // 2] == 0


def test_in_focus_plane_is_untouched_and_far_plane_does_not_bleed_in(three_planes, depth_scene, rendered):
    third, colours, far = three_planes.third, three_planes.colours, three_planes.far
    image, disparity, focus = depth_scene
    near_reach = int(np.ceil(blur_radius_map(disparity, focus, MAX_RADIUS).max())) + 3
    # From the far plane's edge up to where the near plane's blur reaches.
    sharp = slice(third, 2 * third - near_reach)
    np.testing.assert_array_equal(rendered[:, sharp], image[:, sharp])
    # And the in-focus colour does not leak backward into the blurred far plane.
    far_edge = rendered[:, third - 4:third]
    assert np.all(far_edge[..., 1] < colours[far][1] + 0.02)


def test_near_plane_spills_over_the_in_focus_plane(three_planes, depth_scene, rendered):
    third = three_planes.third
    image, _, _ = depth_scene
    # Just left of the near plane's edge the sharp plane is veiled by it:
    # more of its blue, less of the sharp plane's green.
    veiled = rendered[:, 2 * third - 3:2 * third]
    below = image[:, 2 * third - 3:2 * third]
    assert veiled[..., 2].mean() > below[..., 2].mean() + 0.1
    assert veiled[..., 1].mean() < below[..., 1].mean() - 0.1


def test_near_plane_is_see_through_inside_its_outline(three_planes):
    colours, focus, near = three_planes.colours, three_planes.focus, three_planes.near
    # A flat blue card far in front of a textured green plane in focus.  A
    # lens blurs the card's outline both ways: just inside it the card's
    # blurred coverage is well below 1, so the plane behind shows through.
    rng = np.random.default_rng(2)
    image = np.empty((120, 160, 3), np.float32)
    image[:] = colours[focus]
    image += rng.uniform(-0.1, 0.1, image.shape).astype(np.float32)
    disparity = np.full((120, 160), 0.4, np.float32)
    card = (slice(30, 90), slice(60, 130))
    image[card] = colours[near]
    disparity[card] = 1.0
    out = render_depth(np.clip(image, 0, 1), disparity, 0.4, MAX_RADIUS)
    rows = slice(30 + 15, 90 - 15)  # away from the corners
    green = out[rows, :, 1].mean(axis=0)
    # Share of the plane's green three pixels inside the card's left edge;
    # a disc of radius 12 leaves about a third there (0 would be opaque).
    seen = (green[60 + 3] - colours[near][1]) / (colours[focus][1] - colours[near][1])
    assert 0.15 < seen < 0.5
    # Deep inside, the card is opaque.
    assert green[95] == pytest.approx(colours[near][1], abs=0.02)


def test_subject_alpha_stays_sharp_off_the_focus_plane(depth_scene, rendered):
    image, disparity, focus = depth_scene
    alpha = np.zeros_like(disparity)
    patch = (slice(100, 140), slice(40, 80))  # inside the far plane, across its step
    alpha[patch] = 1
    out = render_depth(image, disparity, focus, MAX_RADIUS, alpha=alpha)
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
        np.testing.assert_allclose(render_depth(image, disparity, 0.5, radius), image, atol=1e-5)


def test_everything_in_focus_returns_the_photo(depth_scene):
    image, disparity, focus = depth_scene
    out = render_depth(image, disparity, focus, MAX_RADIUS, depth_of_field=2.0)
    np.testing.assert_array_equal(out, image)


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
    out = render_depth(image, disparity, 0.5, 8.0)

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


def test_pug_render_keeps_the_head_and_blurs_wall_and_bed(pug, pug_regions):
    photo, disparity = pug
    # Work at a quarter of the pixels (1008x756) to stay fast.
    pixels = torch.from_numpy(photo.pixels).permute(2, 0, 1)[None]
    image = F.interpolate(pixels, size=(756, 1008), mode="area")[0].permute(1, 2, 0).numpy().copy()
    head, wall, bed, beside = pug_regions(disparity)
    rows, columns = np.nonzero(head)
    centre = (columns.mean() * 1008 / disparity.shape[1], rows.mean() * 756 / disparity.shape[0])
    fine = upsample_disparity(image, disparity)
    focus = focus_disparity(fine, focus_xy=centre)
    out = render_depth(image, fine, focus, max_radius=20)

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
