"""What a person holds, told from scenery, on drawn scenes."""

import numpy as np

from bokehme.imaging.held import background_leads, held_objects, may_hold


def _scene():
    """A standing person in a 100x100 crop with room around them; nothing else."""
    own = np.zeros((100, 100), bool)
    own[20:90, 30:45] = True
    salient = np.where(own, 0.95, 0.0).astype(np.float32)
    background = np.where(own, 0.05, 0.99).astype(np.float32)
    return salient, own, background, np.zeros_like(own)


def _with_object(salient, background, rows, cols, sure):
    """The scene with a salient object at rows, cols on which the class model's background is `sure`."""
    salient, background = salient.copy(), background.copy()
    salient[rows, cols] = 0.9
    background[rows, cols] = sure
    return salient, background


def test_a_pushed_object_the_class_model_is_unsure_of_is_held():
    salient, own, background, others = _scene()
    # A stroller in front of the hands, down to the ground.
    salient, background = _with_object(salient, background, slice(50, 88), slice(45, 75), 0.7)
    held = held_objects(salient, own, background, ~own, others)
    assert (held[50:88, 45:75] > 0.5).all()
    assert not (held[own] > 0).any()  # the person is the subject's already
    assert not (held[:, 80:] > 0).any()


def test_scenery_the_class_model_is_sure_of_is_not_held():
    salient, own, background, others = _scene()
    # A tree trunk that stands out, behind the hand.
    salient, background = _with_object(salient, background, slice(25, 60), slice(45, 52), 0.98)
    assert not held_objects(salient, own, background, ~own, others).any()


def test_what_reaches_beyond_the_crop_where_the_person_does_not_is_scenery():
    salient, own, background, others = _scene()
    # A pole from the top of the crop down to the ground, touching the person.
    pole = _with_object(salient, background, slice(0, 90), slice(45, 49), 0.7)
    assert not held_objects(pole[0], own, pole[1], ~own, others).any()
    # A flag's staff stopping short of the top is held.
    staff = _with_object(salient, background, slice(10, 90), slice(45, 49), 0.7)
    assert (held_objects(staff[0], own, staff[1], ~own, others)[10:90, 45:49] > 0.5).all()


def test_a_gap_between_two_people_is_no_object():
    salient, own, background, others = _scene()
    others[20:90, 60:75] = True
    salient, background = _with_object(salient, background, slice(40, 70), slice(45, 60), 0.7)
    assert not held_objects(salient, own, background, ~own & ~others, others).any()
    # Without the other person it would be held.
    assert held_objects(salient, own, background, ~own, np.zeros_like(own)).any()


def test_slivers_along_the_person_and_objects_apart_are_not_held():
    salient, own, background, others = _scene()
    # A sliver along the outline, less than a twentieth of the person.
    salient, background = _with_object(salient, background, slice(30, 60), slice(45, 46), 0.7)
    # A box on the ground a little way off.
    salient, background = _with_object(salient, background, slice(70, 90), slice(60, 80), 0.7)
    assert not held_objects(salient, own, background, ~own, others).any()


def test_what_a_class_is_named_for_is_not_the_salient_models_to_add():
    salient, own, background, others = _scene()
    salient, background = _with_object(salient, background, slice(50, 88), slice(45, 75), 0.7)
    free = ~own
    free[50:88, 45:75] = False  # a car the user did not ask for
    assert not held_objects(salient, own, background, free, others).any()


def test_the_salient_model_is_worth_running_only_beside_something_the_class_model_sees():
    _, own, _, _ = _scene()
    objects = np.zeros(own.shape, np.float32)
    objects[own] = 0.01  # the rounding a person's sure pixels leave to other classes
    assert not may_hold(objects, own)
    # A stroller the class model gives a tenth to chairs and bicycles, in front of the hands.
    stroller = objects.copy()
    stroller[50:88, 45:75] = 0.1
    assert may_hold(stroller, own)
    # The same a little way off, or a sliver along the person, or all but sure background: nothing to hold.
    apart, sliver, faint = objects.copy(), objects.copy(), objects.copy()
    apart[50:88, 55:85] = 0.1
    sliver[30:60, 45:46] = 0.1
    faint[50:88, 45:75] = 0.04
    assert not any(may_hold(found, own) for found in (apart, sliver, faint))


def test_the_background_leads_where_no_other_class_holds_more():
    probabilities = np.zeros((3, 2, 3), np.float32)
    probabilities[:, 0] = [[0.9, 0.4, 0.3], [0.05, 0.35, 0.3], [0.05, 0.25, 0.4]]
    probabilities[:, 1] = [[0.2, 0.5, 0.34], [0.7, 0.5, 0.33], [0.1, 0.0, 0.33]]
    leads = background_leads(probabilities)
    np.testing.assert_array_equal(leads, probabilities.argmax(axis=0) == 0)
