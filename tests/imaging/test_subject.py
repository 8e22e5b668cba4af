"""Choosing the subject from class probabilities: named classes, the salient object, the main person."""

import numpy as np
import pytest
from scipy import ndimage

from bokehme.imaging.classes import UnknownClassError, check_classes
from bokehme.imaging.regions import grown, within
from bokehme.imaging.subject import (anchored, companions, fills, main_person_region, main_subject, portrait_people,
                                    select_subject, with_class, with_own_outline)
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


def test_a_map_with_nothing_confident_anywhere_keeps_nothing_at_its_border_either():
    # Doubt everywhere and no anchor: the frame's border is no anchor (the
    # distance to an empty set of kept pixels is no distance at all).
    assert not anchored(np.full((100, 200), 0.6, np.float32)).any()


@pytest.mark.parametrize("margin", [0, 1, 3, 12])
def test_a_grown_mask_reaches_margin_pixels_in_every_direction_a_square_at_a_time(margin):
    mask = np.zeros((40, 50), bool)
    mask[20, 25] = mask[0, 49] = True
    reach = max(1, margin)
    expected = np.zeros_like(mask)
    expected[20 - reach:21 + reach, 25 - reach:26 + reach] = True
    expected[:1 + reach, 49 - reach:] = True
    assert np.array_equal(grown(mask, margin), expected)


def test_within_a_distance_is_straight_line_and_nowhere_of_nothing():
    mask = np.zeros((41, 41), bool)
    mask[20, 20] = True
    rows, cols = np.mgrid[:41, :41]
    assert np.array_equal(within(mask, 10), (rows - 20) ** 2 + (cols - 20) ** 2 <= 100)
    assert not within(np.zeros_like(mask), 10).any()


def blobs(rng, shape):
    """A smooth random map in [0, 1]: blobs of every size, as a segmenter's probability has."""
    noise = ndimage.gaussian_filter(rng.random(shape), rng.uniform(1, 6))
    return ((noise - noise.min()) / (noise.max() - noise.min() + 1e-9)).astype(np.float32)


def test_grown_masks_and_the_anchoring_rim_are_scipys():
    """OpenCV does the work; scipy's maximum filter and exact distance are the reference."""
    rng = np.random.default_rng(3)
    for _ in range(40):
        shape = tuple(rng.integers(3, 120, 2))
        probability = blobs(rng, shape)
        mask = probability > rng.uniform(0.3, 0.8)
        margin = int(rng.integers(0, 9))
        expected = ndimage.maximum_filter(mask.astype(np.uint8), size=2 * max(1, margin) + 1) > 0
        assert np.array_equal(grown(mask, margin), expected)
        regions, count = ndimage.label(probability > 0.5)
        kept = np.isin(regions, np.unique(regions[probability >= 0.8]))
        if count and kept.any():
            near = ndimage.distance_transform_edt(~kept) <= 0.03 * max(shape)
            assert np.array_equal(anchored(probability), np.where(near, probability, 0).astype(np.float32))


def test_people_are_scipys_regions_numbered_as_scipy_numbers_them():
    """OpenCV labels the regions; scipy's labels, boxes and sums are the reference, ties and order included."""
    rng = np.random.default_rng(5)
    for _ in range(40):
        shape = tuple(rng.integers(3, 120, 2))
        person = blobs(rng, shape)
        regions, count = ndimage.label(person > 0.5)
        if count == 0:
            assert main_person_region(person) is None
            continue
        boxes = ndimage.find_objects(regions)
        framed = [label for label, (rows, _) in enumerate(boxes, start=1)
                  if rows.stop >= 0.98 * shape[0] and rows.stop - rows.start >= 0.4 * shape[0]]
        assert np.array_equal(portrait_people(person), np.isin(regions, framed))
        h, w = shape
        weight = np.outer(np.exp(-((np.arange(h) - (h - 1) / 2) ** 2) / (2 * 0.35**2 * (h * h + w * w))),
                          np.exp(-((np.arange(w) - (w - 1) / 2) ** 2) / (2 * 0.35**2 * (h * h + w * w))))
        scores = ndimage.sum(person * weight, regions, index=np.arange(1, count + 1))
        main = main_person_region(person)
        assert np.array_equal(main, regions == 1 + np.argmax(scores))
        heights = np.array([rows.stop - rows.start for rows, _ in boxes])
        areas = np.bincount(regions.ravel())[1:]
        main_label = regions[main].max()
        expected = [regions == label for label in np.argsort(-areas, kind="stable") + 1
                    if label != main_label and heights[label - 1] >= 0.5 * heights[main_label - 1]][:2]
        found = companions(person, main)
        assert len(found) == len(expected) and all(np.array_equal(a, b) for a, b in zip(found, expected))


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


def _people_scene():
    """Class probabilities of a street: a person in front with a friend beside them, a
    cyclist on a bicycle, and two small people behind; a parked car behind the group."""
    labels = ("background", "bicycle", "car", "person")
    h, w = 120, 200
    p = np.zeros((4, h, w), np.float32)
    p[0] = 1.0

    def paint(cls, rows, cols):
        p[:, rows, cols] = 0.0
        p[labels.index(cls), rows, cols] = 1.0

    paint("car", slice(30, 70), slice(120, 190))      # ends at row 70, behind the people's feet
    paint("person", slice(20, 110), slice(90, 110))   # the main person, centred, 90 rows tall
    paint("person", slice(25, 110), slice(60, 78))    # a friend beside, as tall
    paint("person", slice(40, 90), slice(150, 165))   # the cyclist, 50 rows tall, in front of the car
    paint("bicycle", slice(90, 112), slice(140, 175))  # under the cyclist, down to the ground
    paint("person", slice(40, 70), slice(10, 18))     # two small people behind, 30 rows tall
    paint("person", slice(42, 70), slice(25, 32))
    return labels, p


def test_people_in_focus_keeps_the_people_as_near_and_blurs_the_smaller_ones_behind():
    labels, p = _people_scene()
    near = select_subject(p, labels, "person") > 0.5
    assert near[20:110, 90:110].all() and near[25:110, 60:78].all()
    assert not near[40:70, 10:18].any() and not near[42:70, 25:32].any()
    # The cyclist is more than half the main person's height: kept, with the bicycle ridden.
    assert near[40:90, 150:165].all() and near[90:112, 140:175].all()
    # The car touches the cyclist but ends higher in the frame: it stands behind.
    assert not near[30:40, 120:150].any()


def test_all_people_keeps_everyone_and_main_keeps_one():
    labels, p = _people_scene()
    everyone = select_subject(p, labels, "person", people="all") > 0.5
    assert everyone[40:70, 10:18].all() and everyone[42:70, 25:32].all() and everyone[20:110, 90:110].all()
    one = select_subject(p, labels, "person", people="main") > 0.5
    assert one[20:110, 90:110].all()
    assert not one[25:110, 60:78].any() and not one[40:90, 150:165].any() and not one[40:70, 10:18].any()


def test_companions_are_the_people_kept_beside_the_main_person_largest_first():
    labels, p = _people_scene()
    person = p[labels.index("person")]
    main = main_person_region(person)
    assert main[20:110, 90:110].all()
    near = companions(person, main)
    # The friend (85 rows) before the cyclist (50 rows); the two small people behind are not kept.
    assert len(near) == 2 and near[0][25:110, 60:78].all() and near[1][40:90, 150:165].all()
    assert not any(region[main].any() for region in near)
    assert len(companions(person, main, most=1)) == 1 and not near[0][40:90, 150:165].any()
    assert len(companions(person, main, "all", most=10)) == 4
    assert companions(person, main, "main") == []


def test_an_own_mask_fills_a_region_of_one_person_but_not_of_two_touching():
    region = np.zeros((50, 50), bool)
    region[5:45, 10:20] = True
    own = region.copy()
    assert fills(own, region)
    region[5:45, 20:30] = True  # a second person touching them
    assert not fills(own, region)


def test_the_main_persons_own_mask_parts_them_from_an_audience_touching_them():
    labels = ("background", "person")
    h, w = 100, 160
    p = np.zeros((2, h, w), np.float32)
    p[0] = 1.0
    # A performer (rows 10-95) and a row of smaller spectators behind, touching
    # the performer's shoulders: one region of "person".
    p[:, 10:95, 70:90] = [[[0.0]], [[1.0]]]
    p[:, 30:55, 20:140] = [[[0.0]], [[1.0]]]
    merged = select_subject(p, labels, "person") > 0.5
    assert merged[30:55, 20:60].all()  # without the performer's own mask, all one subject
    performer = np.zeros((h, w), np.float32)
    performer[10:95, 70:90] = 1.0
    parted = select_subject(p, labels, "person", main=performer) > 0.5
    assert parted[10:95, 70:90].all()
    assert not parted[30:55, 20:60].any() and not parted[30:55, 100:140].any()
    everyone = select_subject(p, labels, "person", people="all", main=performer) > 0.5
    assert everyone[30:55, 20:140].all()


def test_portrait_people_are_cut_by_the_bottom_of_the_frame_and_tall():
    person = np.zeros((100, 150), np.float32)
    person[30:100, 10:60] = 0.9   # head and shoulders, cut by the bottom edge
    person[10:90, 80:95] = 0.9    # a full-body person inside the frame, as tall
    person[85:100, 120:140] = 0.9  # a small head peeking in at the bottom
    framed = portrait_people(person)
    assert framed[30:100, 10:60].all()
    assert not framed[10:90, 80:95].any() and not framed[85:100, 120:140].any()
    assert not portrait_people(np.zeros((20, 30), np.float32)).any()


def test_the_main_persons_own_mask_draws_their_outline_near_them_only():
    # A class model's coarse person: a fat block that also fills the gap
    # between the legs; a friend standing apart; the person's own mask: a
    # body and two legs.
    h, w = 200, 200
    person = np.zeros((h, w), np.float32)
    person[20:190, 40:110] = 0.9
    person[20:190, 160:190] = 0.9
    own = np.zeros((h, w), np.float32)
    own[20:120, 50:100] = 1.0
    own[120:190, 50:70] = 1.0
    own[120:190, 80:100] = 1.0
    outlined = with_own_outline(person, own, margin=0.03)
    assert (outlined[own > 0.5] == 1.0).all()
    assert (outlined[130:190, 72:78] == 0).all()  # the gap between the legs
    assert (outlined[20:190, 45:50] == 0).all()   # the class model's bloat beside them
    np.testing.assert_array_equal(outlined[:, 150:], person[:, 150:])  # the friend is untouched
    # A mask of someone or something the class model did not find as a person changes nothing.
    elsewhere = np.zeros((h, w), np.float32)
    elsewhere[5:15, 120:150] = 1.0
    np.testing.assert_array_equal(with_own_outline(person, elsewhere, margin=0.03), person)


def test_a_class_lowered_where_the_model_was_sure_gives_its_share_to_the_background():
    # DeepLabV3 sure of a person (logit 17 above the rest), the pose model's
    # outline taking the pixel away: the other classes held next to nothing.
    logits = np.zeros((21, 2, 2), np.float32)
    logits[15] = 17.0
    logits[12, :, 1] = 19.0  # beside it, a dog the model is surer of still
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=0)
    lowered = np.array([[0.0, 0.05], [1.0, 0.5]], np.float32)
    result = with_class(probabilities.astype(np.float32), 15, lowered)
    assert np.allclose(result.sum(axis=0), 1.0, atol=1e-5)
    assert np.array_equal(result[15], lowered)
    assert result[0, 0, 0] > 0.99 and result[1:15, 0, 0].max() < 1e-6  # freed: background, no phantom
    assert result[12, 0, 1] == np.float32(probabilities[12, 0, 1])  # lowered: the dog keeps its share
    # Raised, the person takes its gain from the other classes in proportion.
    assert result[12, 1, 0] < 1e-6 and result[0, 1, 0] < 1e-6
    assert result[12, 1, 1] / result[0, 1, 1] == pytest.approx(probabilities[12, 1, 1] / probabilities[0, 1, 1])


def test_a_class_replaced_in_place_is_the_class_replaced_in_a_copy():
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 4, (21, 30, 40)).astype(np.float32)
    probabilities = (np.exp(logits) / np.exp(logits).sum(axis=0)).astype(np.float32)
    person = rng.uniform(0, 1, (30, 40)).astype(np.float32)
    kept = probabilities.copy()
    copied = with_class(probabilities, 15, person)
    np.testing.assert_array_equal(probabilities, kept)  # without `out`, the input is left as it was
    in_place = with_class(probabilities, 15, person, out=probabilities)
    assert in_place is probabilities
    np.testing.assert_array_equal(in_place, copied)
    assert np.allclose(copied.sum(axis=0), 1.0, atol=1e-5)
    # A map laid out channels-last (as torchvision's softmax may leave it) is written where it lies.
    strided = np.ascontiguousarray(kept.transpose(1, 2, 0)).transpose(2, 0, 1)
    np.testing.assert_array_equal(with_class(strided, 15, person, out=strided), copied)
    np.testing.assert_array_equal(strided, copied)
