"""render()'s three paths and the option rules, through the Python API alone."""

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from skimage import data, transform

import bokehme
from bokehme.imaging.depth_map import FocusOutsideImage
from bokehme.imaging.classes import UnknownClassError
from bokehme.options import Options, OptionsError


@pytest.fixture(scope="module")
def photo():
    return transform.resize(data.coffee(), (240, 320), anti_aliasing=True).astype(np.float32)


def laplacian(image, region):
    gray = image[region].mean(axis=-1)
    return 4 * gray[1:-1, 1:-1] - gray[:-2, 1:-1] - gray[2:, 1:-1] - gray[1:-1, :-2] - gray[1:-1, 2:]


def detail(image, region):
    """Mean squared Laplacian of a region: what a blur removes."""
    return float((laplacian(image, region) ** 2).mean())


CENTRE = (slice(100, 140), slice(140, 180))
CORNER = (slice(0, 40), slice(0, 40))


def test_two_planes_with_a_segmenter_keep_the_subject_and_blur_the_rest(photo, disc_segmenter):
    result = bokehme.render(photo, Options(radius=8), disc_segmenter())
    assert np.array_equal(result.image[result.alpha == 1], photo[result.alpha == 1])
    assert (result.alpha[CENTRE] == 1).all() and (result.alpha[CORNER] == 0).all()
    assert detail(result.image, CORNER) < 0.2 * detail(photo, CORNER)
    assert result.scrub is None


def test_16_bit_samples_render_as_their_floats_do(disc_segmenter):
    samples = data.coffee()[::2, ::2].astype(np.uint16) * 257
    floats = samples.astype(np.float32) * np.float32(1 / 65535)
    from_samples = bokehme.render(samples, Options(radius=8), disc_segmenter())
    from_floats = bokehme.render(floats, Options(radius=8), disc_segmenter())
    assert from_samples.image.dtype == np.float32
    np.testing.assert_array_equal(from_samples.image, from_floats.image)
    np.testing.assert_array_equal(from_samples.alpha, from_floats.alpha)


@pytest.mark.parametrize("options", [Options(radius=8), Options(radius=8, pii=True)])
def test_an_8_bit_image_renders_to_8_bits_as_its_floats_would_round(disc_segmenter, options):
    samples = data.coffee()[::2, ::2]
    samples.flags.writeable = False  # as Pillow hands them over
    floats = samples.astype(np.float32) * np.float32(1 / 255)
    from_samples = bokehme.render(samples, options, disc_segmenter())
    rounded = np.round(bokehme.render(floats, options, disc_segmenter()).image * 255)
    assert from_samples.image.dtype == np.uint8
    # The 8-bit path sums its bytes rather than their floats: the last bits differ, not the picture.
    assert np.abs(from_samples.image - rounded).max() <= 1
    subject = from_samples.alpha == 1
    assert subject.any() and np.array_equal(from_samples.image[subject], samples[subject])


def test_a_users_mask_is_the_alpha(photo):
    mask = np.zeros(photo.shape[:2], np.float32)
    mask[60:180, 80:240] = 1
    result = bokehme.render(photo, Options(radius=8), mask=mask)
    assert np.array_equal(result.alpha, mask)
    assert np.array_equal(result.image[60:180, 80:240], photo[60:180, 80:240])


def test_nobody_found_is_an_error_that_names_the_subject(photo, disc_segmenter):
    with pytest.raises(bokehme.NoSubjectError) as caught:
        bokehme.render(photo, Options(), disc_segmenter(present=False))
    assert caught.value.subject == ("person",) and str(caught.value) == "no person found"


def test_a_class_the_model_does_not_know_is_refused(photo, disc_segmenter):
    with pytest.raises(UnknownClassError) as caught:
        bokehme.render(photo, Options(subject="cat"), disc_segmenter())
    assert caught.value.unknown == ("cat",)


def test_render_needs_a_segmenter_or_a_mask_of_the_photos_size(photo):
    with pytest.raises(ValueError, match="a segmenter, a mask or a subject probability"):
        bokehme.render(photo, Options())
    with pytest.raises(ValueError, match="mask is 10x10"):
        bokehme.render(photo, Options(), mask=np.zeros((10, 10), np.float32))


def test_depth_path_blurs_with_distance_from_the_focus_plane(photo):
    # Left third far, middle third in focus, right third near.
    disparity = np.zeros(photo.shape[:2], np.float32)
    disparity[:, 107:213] = 0.5
    disparity[:, 213:] = 1.0
    mask = np.zeros(photo.shape[:2], np.float32)
    result = bokehme.render(photo, Options(radius=10, focus=(160, 120)), mask=mask, disparity=disparity)
    middle, far = (slice(20, 220), slice(130, 190)), (slice(20, 220), slice(10, 70))
    assert detail(result.image, middle) > 0.9 * detail(photo, middle)
    assert detail(result.image, far) < 0.2 * detail(photo, far)
    two_planes = bokehme.render(photo, Options(radius=10), mask=mask)
    assert detail(two_planes.image, middle) < 0.2 * detail(photo, middle)


def test_a_focus_point_outside_the_photo_is_an_error_with_its_data(photo):
    disparity = np.zeros((4, 4), np.float32)
    with pytest.raises(FocusOutsideImage) as caught:
        bokehme.render(photo, Options(focus=(400, 10)), mask=np.zeros(photo.shape[:2], np.float32),
                       disparity=disparity)
    assert caught.value.point == (400, 10) and caught.value.size == (320, 240)


def test_pii_path_scrubs_and_reports(photo, disc_segmenter):
    result = bokehme.render(photo, Options(pii=True), disc_segmenter())
    assert result.scrub is not None and result.scrub.cell >= 2
    assert np.array_equal(result.image[result.alpha == 1], photo[result.alpha == 1])
    # Nothing of the photo's own detail is left there, only the scrub's grain.
    before, after = laplacian(photo, CORNER).ravel(), laplacian(result.image, CORNER).ravel()
    assert abs(np.corrcoef(before, after)[0, 1]) < 0.1
    kept = bokehme.render(photo, Options(radius=1), disc_segmenter())
    assert np.corrcoef(before, laplacian(kept.image, CORNER).ravel())[0, 1] > 0.1
    with pytest.raises(ValueError, match="depth map"):
        bokehme.render(photo, Options(pii=True), disc_segmenter(), disparity=np.zeros((4, 4), np.float32))


@pytest.mark.parametrize("kwargs, fields", [
    (dict(pii=True, blades=6), ("pii", "blades")),
    (dict(pii=True, highlights=1.0), ("pii", "highlights")),
    (dict(pii=True, focus=(3, 4)), ("pii", "focus")),
    (dict(pii=True, all_people=True), ("pii", "all_people")),
    (dict(blades=2), ("blades",)),
    (dict(blades=-1), ("blades",)),
    (dict(radius=0), ("radius",)),
    (dict(radius=float("nan")), ("radius",)),
    (dict(highlights=-0.5), ("highlights",)),
    (dict(subject=" , "), ("subject",)),
    (dict(subject="auto,person"), ("subject",)),
    (dict(focus=(1, 2, 3)), ("focus",)),
])
def test_options_refuse_what_render_would_not_honour(kwargs, fields):
    with pytest.raises(OptionsError) as caught:
        Options(**kwargs)
    assert caught.value.fields == fields


def test_options_take_a_subject_as_names_or_one_comma_string():
    assert Options(subject=" Person, dog ").subject == ("person", "dog")
    assert Options(subject=["cat"]).subject == ("cat",)
    assert Options().subject == ("person",)
    assert Options(blades=6, highlights=1, radius=3.5).blades == 6


@pytest.fixture(scope="module")
def auto_segmenter(mobilenetv2_tflite):
    return bokehme.load_segmenter("auto", weights=mobilenetv2_tflite, device="cpu")


def test_people_behind_the_subject_are_blurred_unless_all_people_are_kept(devset_dir, auto_segmenter):
    # A real street photo: a woman walking in front, smaller cyclists and walkers behind her
    # (the human mask holds her alone).
    image = np.asarray(Image.open(devset_dir / "images" / "pennfudan_FudanPed00015.png").convert("RGB"),
                       np.float32) / 255
    her = np.asarray(Image.open(devset_dir / "masks" / "pennfudan_FudanPed00015.png")) > 127
    options = bokehme.Options(radius=8)
    near = bokehme.render(image, options, auto_segmenter)
    everyone = bokehme.render(image, bokehme.Options(radius=8, all_people=True), auto_segmenter)
    behind = (everyone.alpha > 0.5) & ~ndimage.binary_dilation(her, iterations=10)
    assert behind.sum() > 2000  # the people behind are found
    assert (near.alpha[her] > 0.5).mean() > 0.85 and (everyone.alpha[her] > 0.5).mean() > 0.85
    assert (near.alpha[behind] > 0.5).mean() < 0.4
    changed = np.abs(near.image - image).max(axis=-1) > 2 / 255
    assert changed[behind].mean() > 0.5
    assert np.array_equal(everyone.image[everyone.alpha == 1], image[everyone.alpha == 1])
