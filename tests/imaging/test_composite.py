import numpy as np
import pytest
from scipy import ndimage
from scipy.signal import fftconvolve
from skimage import draw

from bokehme.imaging.aperture import aperture_kernel
from bokehme.imaging.colour import linear_to_srgb, srgb_to_linear
from bokehme.imaging.composite import blur_background, render_bokeh, replace_background
from bokehme.imaging.lens import lens_blur

SIZE = 192


@pytest.fixture()
def scene(photo):
    """A bright subject with a soft rim over a darker textured background."""
    size = SIZE
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    dist = np.hypot(yy - size / 2, xx - size / 2)
    alpha = np.clip(size * 0.3 - dist + 0.5, 0, 1).astype(np.float32)
    fg = np.empty((size, size, 3), np.float32)
    fg[:] = [0.95, 0.9, 0.2]
    bg = photo("coffee", size) * 0.5
    a3 = alpha[..., None]
    return fg * a3 + bg * (1 - a3), alpha, fg, bg


def yellow(rgb):
    return (rgb[..., 0] + rgb[..., 1]) / 2 - rgb[..., 2]


def psnr(a, b, mask):
    return 10 * np.log10(1 / np.mean((a - b)[mask] ** 2))


def test_halo_free_render_beats_naive_near_the_subject(scene):
    radius = 12
    image, alpha, fg, bg = scene
    kernel = aperture_kernel(radius)
    norm = fftconvolve(np.ones(alpha.shape, np.float32), kernel, mode="same")
    lin = srgb_to_linear(bg)
    true_bg = linear_to_srgb(np.stack(
        [fftconvolve(lin[..., c], kernel, mode="same") / norm for c in range(3)], -1)
        .astype(np.float32))
    a3 = alpha[..., None]
    truth = fg * a3 + true_bg * (1 - a3)
    subject = alpha > 0.5
    outline = np.where(subject, ndimage.distance_transform_edt(subject),
                       ndimage.distance_transform_edt(~subject))
    band = outline <= radius
    naive_bg = linear_to_srgb(lens_blur(srgb_to_linear(image), radius))
    naive = image * a3 + naive_bg * (1 - a3)
    ours = render_bokeh(image, alpha, radius)
    assert ours.dtype == np.float32 and ours.shape == image.shape
    assert ours.min() >= 0 and ours.max() <= 1
    assert psnr(ours, truth, band) >= psnr(naive, truth, band) + 6


def test_subject_pixels_are_returned_bit_identical(scene):
    image, alpha, _, _ = scene
    out = render_bokeh(image, alpha, 9, blades=6, highlights=1.0)
    inside = alpha == 1
    assert inside.sum() > 1000
    np.testing.assert_array_equal(out[inside], image[inside])


def test_all_zero_alpha_is_the_plain_background_blur(photo):
    image = photo("astronaut", SIZE)
    zero = np.zeros(image.shape[:2], np.float32)
    out = render_bokeh(image, zero, 10)
    np.testing.assert_array_equal(out, blur_background(image, zero, 10))
    # ... which is the lens blur of the whole photo in linear light (upsampled
    # from the reduced blur in sRGB rather than in linear light).
    plain = linear_to_srgb(lens_blur(srgb_to_linear(image), 10))
    assert psnr(out, plain, np.ones(out.shape[:2], bool)) > 38
    assert not np.allclose(out, image, atol=0.02)


def test_subject_colour_does_not_leak_into_the_background(scene):
    image, alpha, _, bg = scene
    out = render_bokeh(image, alpha, 15)
    # Just outside the subject the naive blur turns yellow; ours keeps the
    # background's blue-to-red balance.
    ring = (alpha == 0) & (ndimage.distance_transform_edt(alpha == 0) < 6)
    naive = linear_to_srgb(lens_blur(srgb_to_linear(image), 15))
    assert yellow(out[ring]).mean() < yellow(naive[ring]).mean() - 0.1
    assert abs(yellow(out[ring]).mean() - yellow(bg[ring]).mean()) < 0.05


def test_highlights_make_a_blurred_point_light_brighter():
    image = np.full((96, 96, 3), 0.2, np.float32)
    image[48, 70] = 1.0
    alpha = np.zeros((96, 96), np.float32)
    rr, cc = draw.disk((48, 20), 10)
    alpha[rr, cc] = 1
    plain = render_bokeh(image, alpha, 8)
    np.testing.assert_array_equal(render_bokeh(image, alpha, 8, highlights=0.0), plain)
    bright = render_bokeh(image, alpha, 8, highlights=1.0)
    assert bright[48, 70].mean() > plain[48, 70].mean() + 0.05
    # Away from the light nothing changes.
    np.testing.assert_allclose(bright[10:20, 40:60], plain[10:20, 40:60], atol=1e-6)


@pytest.mark.parametrize("blades", [0, 6])
def test_soft_edge_blends_subject_colour_with_the_new_background(scene, blades):
    image, alpha, fg, _ = scene
    out = render_bokeh(image, alpha, 10, blades=blades)
    background = blur_background(image, alpha, 10, blades=blades)
    soft = (alpha > 0.2) & (alpha < 0.8)
    assert soft.any()
    a = alpha[soft][:, None]
    ideal = fg[soft] * a + background[soft] * (1 - a)
    kept_old = image[soft]
    # The background continued behind the subject is close to the old one
    # near the outline, so keeping the old colour is not far off either.
    assert np.abs(out[soft] - ideal).mean() < 0.6 * np.abs(kept_old - ideal).mean()


def test_where_the_alpha_misses_part_of_the_subject_the_model_keeps_its_colour_out_of_the_blur():
    # A red subject on black whose alpha misses its top (a fuzzy hat the
    # matte left out); the segmenter still found the hat likely.
    h, w = 160, 160
    image = np.zeros((h, w, 3), np.float32)
    image[40:140, 50:110] = (0.9, 0.1, 0.1)
    alpha = np.zeros((h, w), np.float32)
    alpha[60:140, 50:110] = 1
    probability = np.zeros((40, 40), np.float32)
    probability[10:35, 12:28] = 0.9
    above = (slice(5, 30), slice(50, 110))  # black plate above the hat
    leaked = render_bokeh(image, alpha, 12)[above].max()
    kept_out = render_bokeh(image, alpha, 12, maybe_subject=probability)[above].max()
    assert leaked > 0.1 and kept_out < 0.01


@pytest.mark.parametrize("wall, subject", [(0.0, (0.95, 0.8, 0.7)), (1.0, (0.15, 0.1, 0.1))])
def test_a_soft_alpha_a_few_pixels_too_wide_lays_no_rim_on_a_plain_wall(wall, subject):
    # A light face on plain black (or dark hair on plain white) whose alpha
    # ramps from 1 to 0 over 8 px beyond the outline: the foreground
    # estimate gives those wall pixels the subject's colour, which must not
    # be laid over the wall as a glow (or a dark rim).
    h, w = 160, 160
    image = np.full((h, w, 3), wall, np.float32)
    rr, cc = draw.disk((80, 80), 40)
    image[rr, cc] = subject
    inside = np.zeros((h, w), bool)
    inside[rr, cc] = True
    alpha = np.clip(1 - ndimage.distance_transform_edt(~inside) / 8, 0, 1).astype(np.float32)
    ramp = (alpha > 0) & (alpha < 1)
    assert ramp.sum() > 1000
    out = render_bokeh(image, alpha, 12)
    assert np.abs(out[ramp] - wall).max() < 1 / 255


@pytest.mark.parametrize("size", [(SIZE, SIZE), (SIZE - 3, SIZE - 6)])  # whole blocks of the blur, or not
def test_an_8_bit_frame_renders_as_its_float_values_rounded(scene, size):
    image, alpha, _, _ = scene
    image, alpha = np.ascontiguousarray(image[:size[0], :size[1]]), np.ascontiguousarray(alpha[:size[0], :size[1]])
    pixels = np.round(image * 255).astype(np.uint8)
    as_float = pixels.astype(np.float32) * np.float32(1 / 255)

    def rounded(x):
        return np.round(x * 255).astype(np.uint8)

    out = render_bokeh(pixels, alpha, 10, highlights=0.5)
    assert out.dtype == np.uint8
    # Rounding the float result may land a value a hair from .5 either way;
    # the soft edge blends the background already rounded, within a level.
    expected = rounded(render_bokeh(as_float, alpha, 10, highlights=0.5))
    assert np.abs(out.astype(int) - expected).max() <= 1
    off_edge = (alpha == 0) | (alpha == 1)
    assert (out == expected)[off_edge].mean() > 0.999
    assert np.array_equal(out[alpha == 1], pixels[alpha == 1])
    new = np.random.default_rng(2).random(image.shape, dtype=np.float32)
    replaced = replace_background(pixels, alpha, new)
    assert np.array_equal(replaced[alpha == 0], rounded(new[alpha == 0]))
    assert np.abs(replaced.astype(int) - rounded(replace_background(as_float, alpha, new))).max() <= 1
    np.testing.assert_allclose(blur_background(pixels, alpha, 10), blur_background(as_float, alpha, 10),
                               atol=1e-5)


def test_an_8_bit_photo_too_large_for_one_strip_blurs_as_its_float_values():
    # The 8-bit light is summed strip by strip of whole blocks (a photo's
    # light never exists at full size): the strips' seams must not show.
    rng = np.random.default_rng(5)
    height, width = 1203, 2001  # several strips, neither side whole blocks
    pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    alpha = np.zeros((height, width), np.float32)
    alpha[300:900, 600:1400] = 1
    alpha[290:300, 600:1400] = 0.5
    as_float = pixels.astype(np.float32) * np.float32(1 / 255)
    np.testing.assert_allclose(blur_background(pixels, alpha, 10, highlights=0.5),
                               blur_background(as_float, alpha, 10, highlights=0.5), atol=1e-5)
