"""Choosing the subject from class probabilities: named classes, the salient object, the main person."""

import numpy as np
import pytest

from bokehme.imaging.classes import UnknownClassError, check_classes
from bokehme.imaging.subject import anchored, main_subject, select_subject
from bokehme.models.base import VOC_CLASSES


def test_unknown_subject_is_one_clear_line():
    with pytest.raises(UnknownClassError) as error:
        check_classes("person,unicorn", VOC_CLASSES)
    assert "unicorn" in str(error.value) and "\n" not in str(error.value)
    assert error.value.unknown == ("unicorn",)


def test_select_subject_sums_the_named_classes():
    labels = ("background", "cat", "dog", "person")
    probabilities = np.zeros((4, 4, 4), np.float32)
    probabilities[0] = 0.1
    probabilities[1, :2] = 0.9
    probabilities[2, 2:] = 0.6
    probabilities[3, 2:] = 0.3
    probabilities[3, :2] = 0.0
    cat = select_subject(probabilities, labels, "cat")
    both = select_subject(probabilities, labels, "dog, cat")
    assert np.allclose(cat[:2], 0.9) and np.allclose(cat[2:], 0.0)
    assert np.allclose(both[:2], 0.9) and np.allclose(both[2:], 0.6)


def test_doubtful_regions_without_a_confident_core_are_dropped():
    probability = np.zeros((100, 100), np.float32)
    probability[20:60, 20:50] = 0.95  # the subject
    probability[18:20, 20:50] = 0.3  # its soft rim
    probability[70:90, 70:95] = 0.6  # a doubtful ghost far away
    kept = anchored(probability)
    assert np.array_equal(kept[15:65, 15:55], probability[15:65, 15:55])
    assert not kept[70:90, 70:95].any()


def test_auto_subject_prefers_the_large_central_object_and_pools_touching_classes():
    labels = ("background", "motorbike", "person", "cat")
    h, w = 60, 80
    probabilities = np.zeros((4, h, w), np.float32)
    probabilities[0] = 1.0
    # A rider (person) on a motorbike in the middle, a cat in a corner.
    probabilities[:, 20:35, 30:50] = np.array([0.05, 0.0, 0.95, 0.0])[:, None, None]
    probabilities[:, 35:50, 25:55] = np.array([0.1, 0.9, 0.0, 0.0])[:, None, None]
    probabilities[:, 2:12, 2:14] = np.array([0.0, 0.0, 0.0, 1.0])[:, None, None]
    subject = select_subject(probabilities, labels, "auto") > 0.5
    assert subject[20:35, 30:50].all() and subject[35:50, 25:55].all()
    assert not subject[2:12, 2:14].any()
    assert not select_subject(np.stack([np.ones((h, w), np.float32)] + [np.zeros((h, w), np.float32)] * 3),
                              labels, "auto").any()


def test_main_subject_is_the_large_central_person(blob):
    shape = (96, 128)
    central, side = blob(shape, (55, 64), 25), blob(shape, (30, 12), 8)
    main, bystanders = main_subject(np.maximum(central, side))
    assert main[55, 64] == pytest.approx(1) and main[30, 12] == 0
    assert bystanders[30, 12] == pytest.approx(1) and bystanders[55, 64] == 0
    # The soft rim of the subject stays with it.
    rim = (central > 0) & (central < 0.5)
    np.testing.assert_allclose(main[rim], central[rim], atol=1e-6)


def test_main_subject_of_nobody_is_empty():
    main, bystanders = main_subject(np.zeros((20, 30), np.float32))
    assert not main.any() and not bystanders.any()
