"""The PII scrub's pieces, on arrays: no model runs here (tests/test_pii.py runs them)."""

import numpy as np
import pytest
from scipy import ndimage

from bokehme.imaging.composite import render_bokeh
from bokehme.imaging.scrub import MIN_RADIUS_FRACTION, scrub, scrub_background, scrub_faces, scrub_radius


@pytest.fixture(scope="module")
def scene(street_scene):
    return street_scene.image


def test_bystanders_are_scrubbed_like_background(blob):
    # Two people: the bystander's probability must not keep anything sharp.
    rng = np.random.default_rng(1)
    image = rng.random((120, 160, 3), dtype=np.float32)
    person = np.maximum(blob((60, 80), (35, 40), 16), blob((60, 80), (15, 8), 6))
    scrubbed, alpha, report = scrub(image, person)
    assert alpha[30:40, 16:20].max() == 0
    assert report.bystander_area > 0
    # White noise has no detail larger than a pixel: what is left is grain.
    assert np.abs(scrubbed[20:40, 6:26] - image[20:40, 6:26]).mean() > 0.2
    assert scrubbed[20:40, 6:26].std() < 0.03


def test_scrub_faces_fills_bystanders_and_spares_the_subject():
    rng = np.random.default_rng(2)
    image = rng.random((100, 150, 3), dtype=np.float32)
    alpha = np.zeros((100, 150), np.float32)
    alpha[40:100, 90:150] = 1
    subject_face, bystander_face = (95, 45, 135, 85), (10, 10, 50, 60)
    partly_hidden = (70, 60, 110, 100)  # mostly background, partly behind the subject
    out = scrub_faces(image, [subject_face, bystander_face, partly_hidden], alpha)
    np.testing.assert_array_equal(out[alpha == 1], image[alpha == 1])
    core = out[20:50, 20:40]
    assert core.std(axis=(0, 1)).max() < 1e-5  # a solid fill: nothing of the face
    np.testing.assert_allclose(core[0, 0], image.reshape(-1, 3).mean(axis=0), atol=0.05)
    assert out[67:93, 77:88].std(axis=(0, 1)).max() < 1e-5
    assert out is not image and np.array_equal(out[0:5, 60:85], image[0:5, 60:85])


def test_scrub_background_radius_has_a_floor(scene):
    alpha = np.zeros(scene.shape[:2], np.float32)
    floor = MIN_RADIUS_FRACTION * np.hypot(*scene.shape[:2])
    assert scrub_radius(scene.shape, 1.0) == pytest.approx(floor)
    assert scrub_radius(scene.shape, 2 * floor) == pytest.approx(2 * floor)
    np.testing.assert_array_equal(scrub_background(scene, alpha, 1.0), scrub_background(scene, alpha, floor))


def test_scrub_background_is_seeded_and_looks_like_bokeh(scene):
    alpha = np.zeros(scene.shape[:2], np.float32)
    alpha[200:, 300:500] = 1
    first = scrub_background(scene, alpha, None, seed=3)
    np.testing.assert_array_equal(first, scrub_background(scene, alpha, None, seed=3))
    assert not np.array_equal(first, scrub_background(scene, alpha, None, seed=4))
    np.testing.assert_array_equal(first[alpha == 1], scene[alpha == 1])
    # As smooth as an ordinary lens blur of the same radius: the cells melt away.
    radius = scrub_radius(scene.shape)
    plain = render_bokeh(scene, alpha, radius)
    background = alpha == 0

    def roughness(image):
        smooth = ndimage.gaussian_filter(image.mean(axis=2), 2)
        return np.hypot(*np.gradient(smooth))[background].mean()

    assert roughness(first) < 1.5 * roughness(plain)
    assert np.abs(first - plain)[background].mean() < 0.03


def test_a_face_against_the_main_person_is_cut_out_and_theirs_kept():
    # One region of "subject": the main person (a large face at the top of a
    # body) with a smaller person standing against their shoulder.
    rng = np.random.default_rng(0)
    image = rng.uniform(0.2, 0.8, (200, 240, 3)).astype(np.float32)
    person = np.zeros((200, 240), np.float32)
    person[20:200, 60:160] = 1   # the main person
    person[40:200, 160:200] = 1  # someone touching them
    main, other, print_on_shirt = (80, 20, 140, 90), (165, 45, 195, 80), (90, 120, 130, 160)

    def faces(image):
        return [main, other, print_on_shirt]

    scrubbed, alpha, report = scrub(image, person, 20, faces=faces, subject_probability=person)
    assert report.subject_faces == 1 and report.faces_cut_from_subject == 1 and report.faces_scrubbed == 1
    assert report.face_boxes == [list(other)]
    np.testing.assert_array_equal(scrubbed[35:75, 95:125], image[35:75, 95:125])  # their face, untouched
    np.testing.assert_array_equal(scrubbed[130:150, 100:120], image[130:150, 100:120])  # their shirt
    assert alpha[55:70, 172:188].max() == 0  # the other face is no subject any more
    assert np.abs(scrubbed[55:70, 172:188] - image[55:70, 172:188]).mean() > 0.1


def _scrub_one_region(seed, left, right, boxes):
    """A noise photo whose subject is one region of people, scrubbed with `boxes` as its faces."""
    image = np.random.default_rng(seed).uniform(0.2, 0.8, (200, 240, 3)).astype(np.float32)
    person = np.zeros((200, 240), np.float32)
    person[20:200, left:right] = 1
    return (image, *scrub(image, person, 20, faces=lambda image: boxes, subject_probability=person))


def test_a_face_shoulder_to_shoulder_with_the_main_person_is_scrubbed_up_to_their_face():
    # Two people walking side by side, one region of "subject": the other's
    # face box overlaps the padding of the main person's face box.
    main, other = (70, 20, 140, 100), (128, 30, 178, 90)
    image, scrubbed, alpha, report = _scrub_one_region(1, 60, 200, [main, other])
    assert report.subject_faces == 1 and report.face_boxes == [list(other)]
    assert report.faces_cut_from_subject == 1
    # The main person's face (the core of their box) is untouched...
    np.testing.assert_array_equal(scrubbed[40:80, 87:123], image[40:80, 87:123])
    # ...and none of the other face is left, also where it overlaps the main face's padding.
    assert alpha[45:75, 136:170].max() == 0
    assert np.abs(scrubbed[45:75, 136:140] - image[45:75, 136:140]).mean(axis=-1).min() > 0.01


def test_a_face_mostly_beside_the_subject_is_cut_where_it_overlaps_and_counted():
    # The other person mostly outside the subject's region, their face box
    # reaching into it and into the main face's padding.
    main, other = (70, 20, 140, 100), (128, 30, 178, 90)
    image, scrubbed, alpha, report = _scrub_one_region(1, 60, 150, [main, other])
    assert report.faces_cut_from_subject == 1
    assert alpha[45:75, 136:150].max() == 0
    np.testing.assert_array_equal(scrubbed[40:80, 87:123], image[40:80, 87:123])


def test_a_face_like_print_just_below_the_main_face_is_theirs():
    # A badge on the main person's chest, taken for a face: its box overlaps
    # the padding below their face box, and it is neither cut nor painted.
    main, badge = (70, 20, 150, 120), (75, 95, 115, 135)
    image, scrubbed, alpha, report = _scrub_one_region(2, 60, 180, [main, badge])
    assert report.subject_faces == 1 and report.faces_scrubbed == 0
    np.testing.assert_array_equal(scrubbed[95:135, 75:115], image[95:135, 75:115])
