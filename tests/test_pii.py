"""PII scrub: nothing identifiable survives behind the subject.

The scene is a real person (the astronaut) in front of a wall with large
words and a bystander's face.  Independent oracles judge the scrub:
Tesseract must read the words before and none after, also after a Wiener
deconvolution attack; OpenCV's Haar cascade must find the bystander's face
before and no background face after, while still finding the subject's.
"""

import dataclasses
import json
import os
import shutil
import subprocess

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage
from skimage import data

from bokehme import pii
from bokehme.composite import render_bokeh
from bokehme.segment import load_segmenter

WORDS = ("PRIVATE", "GARDEN", "HOUSE", "STREET")
WORD_PLACES = ((20, 30), (570, 30), (590, 220), (570, 420))
HEIGHT, WIDTH = 520, 800
#: Where the subject (a 270x346 upper body) and the bystander (a 100x120 head) are pasted.
SUBJECT_BOX = (280, HEIGHT - 346, 550, HEIGHT)
BYSTANDER_BOX = (60, 250, 160, 370)


def make_scene():
    """A street-like scene: subject in the middle, words and a bystander behind."""
    canvas = Image.new("RGB", (WIDTH, HEIGHT), (214, 206, 190))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=44)
    for word, place in zip(WORDS, WORD_PLACES):
        draw.text(place, word, fill=(30, 30, 40), font=font)
    astronaut = Image.fromarray(data.astronaut())
    x0, y0, x1, y1 = SUBJECT_BOX
    canvas.paste(astronaut.crop((60, 0, 460, 512)).resize((x1 - x0, y1 - y0), Image.LANCZOS), (x0, y0))
    x0, y0, x1, y1 = BYSTANDER_BOX
    canvas.paste(astronaut.crop((140, 20, 340, 260)).resize((x1 - x0, y1 - y0), Image.LANCZOS), (x0, y0))
    return np.asarray(canvas, dtype=np.float32) / 255


def to_uint8(image):
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


@pytest.fixture(scope="module")
def tesseract():
    path = shutil.which("tesseract")
    if path is None:
        message = "the tesseract binary is missing (apt-get install tesseract-ocr)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + "; required under CI=true")
        pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def read_words(tesseract, tmp_path_factory):
    """The scene's words Tesseract reads in an image (sparse-text mode, its most eager)."""
    folder = tmp_path_factory.mktemp("ocr")

    def read(image):
        path = folder / "page.png"
        Image.fromarray(to_uint8(image)).save(path)
        result = subprocess.run([tesseract, str(path), "-", "--psm", "11"], capture_output=True, text=True,
                                check=True)
        return {word for word in result.stdout.split() if word in WORDS}

    return read


@pytest.fixture(scope="module")
def haar_faces():
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    assert not cascade.empty()

    def detect(image):
        gray = cv2.cvtColor(to_uint8(image), cv2.COLOR_RGB2GRAY)
        return [(x, y, x + w, y + h) for x, y, w, h in cascade.detectMultiScale(gray, 1.1, 5)]

    return detect


def centre_in(box, region):
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return region[0] <= cx < region[2] and region[1] <= cy < region[3]


@pytest.fixture(scope="module")
def scene():
    return make_scene()


@pytest.fixture(scope="module")
def face_detector():
    return pii.FaceDetector()


@pytest.fixture(scope="module")
def scrubbed(scene, face_detector):
    """The whole scrub of the scene with the real selfie model and face detector."""
    person = load_segmenter("selfie").subject_probability(scene, "person")
    return pii.scrub(scene, person, faces=face_detector)


def disk_blur(image, radius):
    """Exact full-resolution disc blur (circular), the attacker's model of the lens."""
    return np.stack([np.fft.irfft2(np.fft.rfft2(image[..., c]) * _disk_spectrum(image.shape[:2], radius),
                                   s=image.shape[:2]) for c in range(3)], axis=-1).astype(np.float32)


def _disk_spectrum(shape, radius):
    rows, cols = np.ogrid[:shape[0], :shape[1]]
    rows, cols = np.minimum(rows, shape[0] - rows), np.minimum(cols, shape[1] - cols)
    disk = (rows * rows + cols * cols <= radius * radius).astype(np.float64)
    return np.fft.rfft2(disk / disk.sum())


def wiener_attack(image, radius, noise=1e-3):
    """Deconvolve a blur of known radius, as an attacker who knows the lens would."""
    spectrum = _disk_spectrum(image.shape[:2], radius)
    inverse = np.conj(spectrum) / (np.abs(spectrum) ** 2 + noise)
    return np.clip(np.stack([np.fft.irfft2(np.fft.rfft2(image[..., c]) * inverse, s=image.shape[:2])
                             for c in range(3)], axis=-1), 0, 1).astype(np.float32)


def quantized(image):
    """What a saved 8-bit file holds."""
    return to_uint8(image).astype(np.float32) / 255


# --------------------------------------------------------------------------
# The oracles, end to end


def test_words_are_read_before_and_none_after(scene, scrubbed, read_words):
    assert read_words(scene) == set(WORDS)
    image, _, report = scrubbed
    assert read_words(quantized(image)) == set()
    # The attack that reads a blurred document cannot read the scrub either.
    assert read_words(wiener_attack(quantized(image), report.radius)) == set()


def test_deconvolution_attack_reads_a_plain_lens_blur(scene, read_words):
    # The control for the test above: a disc blur Tesseract cannot read is
    # read again once deconvolved, so blurring alone is no scrub.
    blurred = quantized(disk_blur(scene, 16))
    assert read_words(blurred) == set()
    assert len(read_words(wiener_attack(blurred, 16))) >= 2


def test_bystander_face_is_found_before_and_gone_after(scene, scrubbed, haar_faces):
    before = haar_faces(scene)
    assert any(centre_in(box, BYSTANDER_BOX) for box in before)
    assert any(centre_in(box, SUBJECT_BOX) for box in before)
    image, alpha, _ = scrubbed
    after = haar_faces(quantized(image))
    background_faces = [box for box in after if alpha[round((box[1] + box[3]) / 2), round((box[0] + box[2]) / 2)] < 0.5]
    assert background_faces == []
    assert any(centre_in(box, SUBJECT_BOX) for box in after)


def test_subject_face_is_unchanged(scene, scrubbed, haar_faces):
    image, alpha, report = scrubbed
    subject_faces = [box for box in haar_faces(scene) if centre_in(box, SUBJECT_BOX)]
    assert subject_faces
    for x0, y0, x1, y1 in subject_faces:
        # A Haar box's corners take in the wall beside the jaw; the face is within.
        margin = (x1 - x0) // 6
        face = np.s_[y0 + margin:y1 - margin, x0 + margin:x1 - margin]
        assert (alpha[face] == 1).all()
        np.testing.assert_array_equal(image[face], scene[face])
    np.testing.assert_array_equal(image[alpha == 1], scene[alpha == 1])
    assert report.subject_faces >= 1


def test_face_detector_finds_the_small_background_face(scene, face_detector):
    boxes = face_detector(scene)
    assert any(centre_in(box, BYSTANDER_BOX) for box in boxes)
    assert any(centre_in(box, SUBJECT_BOX) for box in boxes)
    for x0, y0, x1, y1 in boxes:
        assert 0 <= x0 < x1 <= WIDTH and 0 <= y0 < y1 <= HEIGHT


def test_report_names_the_scrubbed_faces_and_serialises(scrubbed):
    _, _, report = scrubbed
    assert report.faces_scrubbed == len(report.face_boxes) >= 1
    assert any(centre_in(box, BYSTANDER_BOX) for box in report.face_boxes)
    assert not any(centre_in(box, SUBJECT_BOX) for box in report.face_boxes)
    loaded = json.loads(json.dumps(dataclasses.asdict(report)))
    assert loaded["faces_scrubbed"] == report.faces_scrubbed
    assert 0.05 < loaded["subject_area"] < 0.3


def test_bystander_is_left_as_smooth_background(scene, scrubbed):
    image, alpha, _ = scrubbed
    x0, y0, x1, y1 = BYSTANDER_BOX
    assert alpha[y0:y1, x0:x1].max() == 0
    # No edge of the bystander's face or body is left: only bokeh and grain.
    detail = np.abs(ndimage.gaussian_filter(image[y0:y1, x0:x1].mean(axis=2), 1.5) -
                    ndimage.gaussian_filter(image[y0:y1, x0:x1].mean(axis=2), 6))
    original = np.abs(ndimage.gaussian_filter(scene[y0:y1, x0:x1].mean(axis=2), 1.5) -
                      ndimage.gaussian_filter(scene[y0:y1, x0:x1].mean(axis=2), 6))
    assert detail.max() < 0.02 < original.max()


# --------------------------------------------------------------------------
# The pieces


def blob(shape, centre, radius):
    rows, cols = np.ogrid[:shape[0], :shape[1]]
    distance = np.hypot(rows - centre[0], cols - centre[1])
    return np.clip((radius + 2 - distance) / 4, 0, 1).astype(np.float32)


def test_main_subject_is_the_large_central_person():
    shape = (96, 128)
    central, side = blob(shape, (55, 64), 25), blob(shape, (30, 12), 8)
    main, bystanders = pii.main_subject(np.maximum(central, side))
    assert main[55, 64] == pytest.approx(1) and main[30, 12] == 0
    assert bystanders[30, 12] == pytest.approx(1) and bystanders[55, 64] == 0
    # The soft rim of the subject stays with it.
    rim = (central > 0) & (central < 0.5)
    np.testing.assert_allclose(main[rim], central[rim], atol=1e-6)


def test_main_subject_of_nobody_is_empty():
    main, bystanders = pii.main_subject(np.zeros((20, 30), np.float32))
    assert not main.any() and not bystanders.any()


def test_bystanders_are_scrubbed_like_background():
    # Two people: the bystander's probability must not keep anything sharp.
    rng = np.random.default_rng(1)
    image = rng.random((120, 160, 3), dtype=np.float32)
    person = np.maximum(blob((60, 80), (35, 40), 16), blob((60, 80), (15, 8), 6))
    scrubbed, alpha, report = pii.scrub(image, person)
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
    out = pii.scrub_faces(image, [subject_face, bystander_face, partly_hidden], alpha)
    np.testing.assert_array_equal(out[alpha == 1], image[alpha == 1])
    core = out[20:50, 20:40]
    assert core.std(axis=(0, 1)).max() < 1e-5  # a solid fill: nothing of the face
    np.testing.assert_allclose(core[0, 0], image.reshape(-1, 3).mean(axis=0), atol=0.05)
    assert out[67:93, 77:88].std(axis=(0, 1)).max() < 1e-5
    assert out is not image and np.array_equal(out[0:5, 60:85], image[0:5, 60:85])


def test_scrub_background_radius_has_a_floor(scene):
    alpha = np.zeros(scene.shape[:2], np.float32)
    floor = pii.MIN_RADIUS_FRACTION * np.hypot(*scene.shape[:2])
    assert pii.scrub_radius(scene.shape, 1.0) == pytest.approx(floor)
    assert pii.scrub_radius(scene.shape, 2 * floor) == pytest.approx(2 * floor)
    np.testing.assert_array_equal(pii.scrub_background(scene, alpha, 1.0), pii.scrub_background(scene, alpha, floor))


def test_scrub_background_is_seeded_and_looks_like_bokeh(scene):
    alpha = np.zeros(scene.shape[:2], np.float32)
    alpha[200:, 300:500] = 1
    first = pii.scrub_background(scene, alpha, None, seed=3)
    np.testing.assert_array_equal(first, pii.scrub_background(scene, alpha, None, seed=3))
    assert not np.array_equal(first, pii.scrub_background(scene, alpha, None, seed=4))
    np.testing.assert_array_equal(first[alpha == 1], scene[alpha == 1])
    # As smooth as an ordinary lens blur of the same radius: the cells melt away.
    radius = pii.scrub_radius(scene.shape)
    plain = render_bokeh(scene, alpha, radius)
    background = alpha == 0

    def roughness(image):
        smooth = ndimage.gaussian_filter(image.mean(axis=2), 2)
        return np.hypot(*np.gradient(smooth))[background].mean()

    assert roughness(first) < 1.5 * roughness(plain)
    assert np.abs(first - plain)[background].mean() < 0.03


def test_a_large_bystander_face_is_gone(face_detector, haar_faces):
    # A face several cells wide could survive the cells and the blur as a
    # shape a detector still knows; it is painted over first.
    canvas = Image.new("RGB", (WIDTH, HEIGHT), (214, 206, 190))
    head = Image.fromarray(data.astronaut()).crop((140, 20, 340, 260)).resize((400, 480), Image.LANCZOS)
    canvas.paste(head, (0, 0))
    image = np.asarray(canvas, dtype=np.float32) / 255
    background = np.zeros(image.shape[:2], np.float32)
    assert haar_faces(image)
    filled = pii.scrub_faces(image, face_detector(image), background)
    assert haar_faces(quantized(pii.scrub_background(filled, background, None))) == []
