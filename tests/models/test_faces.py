"""The face detector, on the PII scrub's street scene (tests/test_pii.py uses it end to end)."""

import pytest

from bokehme.models.faces import FaceDetector


@pytest.fixture(scope="module")
def face_detector():
    return FaceDetector()


def test_face_detector_finds_the_small_background_face(street_scene, centre_in, face_detector):
    scene = street_scene.image
    boxes = face_detector(scene)
    assert any(centre_in(box, street_scene.bystander_box) for box in boxes)
    assert any(centre_in(box, street_scene.subject_box) for box in boxes)
    for x0, y0, x1, y1 in boxes:
        assert 0 <= x0 < x1 <= street_scene.width and 0 <= y0 < y1 <= street_scene.height
