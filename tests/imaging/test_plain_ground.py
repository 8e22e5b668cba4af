import numpy as np
import pytest
from skimage import data, draw, transform

from bokehme.imaging.matte import refine_alpha
from bokehme.imaging.plain_ground import grown_over_plain_ground


def _walker(size=(300, 400)):
    """A figure of a real photo's colours: a body (0) and two legs (1, 2) as bool masks."""
    body = np.zeros(size, bool)
    body[draw.ellipse(110, 200, 70, 35, shape=size)] = True
    legs = [np.zeros(size, bool), np.zeros(size, bool)]
    legs[0][draw.polygon([160, 160, 280, 280], [180, 200, 176, 160], shape=size)] = True
    legs[1][draw.polygon([160, 160, 280, 280], [205, 225, 256, 240], shape=size)] = True
    return body, legs[0] | legs[1]


def _laid(ground, figure):
    """A cat's fur (a real photo's colours) on `figure`, `ground` (an (H, W, 3) image) elsewhere."""
    texture = transform.resize(data.chelsea(), ground.shape[:2], anti_aliasing=True)
    return np.where(figure[..., None], texture, ground).astype(np.float32)


def _segmenter_missed_the_legs(body):
    """The probability a segmenter gives that sees the body and not the legs: a soft rim around the body."""
    from scipy import ndimage
    distance = ndimage.distance_transform_edt(~body)
    return np.clip(1 - distance / 6, 0, 1).astype(np.float32)


@pytest.mark.parametrize("plate", [0.0, 1.0])
def test_legs_against_a_plain_plate_join_the_subject(plate):
    body, legs = _walker()
    image = _laid(np.full((*body.shape, 3), plate, np.float32), body | legs)
    grown = grown_over_plain_ground(image, _segmenter_missed_the_legs(body))
    # The legs, where the fur stands out of the plate.
    unlike = legs & (np.abs(image - plate).max(axis=-1) > 0.3)
    assert unlike.sum() > 1000
    assert (grown[unlike] == 1).mean() > 0.9
    # Nothing of the plate itself.
    plate_far = ~(body | legs)
    assert (grown[plate_far] == 1).sum() == 0


def test_the_alpha_holds_the_legs_the_segmenter_missed_on_black():
    body, legs = _walker()
    image = _laid(np.zeros((*body.shape, 3), np.float32), body | legs)
    probability = transform.resize(_segmenter_missed_the_legs(body), (75, 100), anti_aliasing=True)
    alpha = refine_alpha(image, probability.astype(np.float32))
    lit = legs & (image.max(axis=-1) > 0.3)
    assert (alpha[lit] > 0.9).mean() > 0.9


def test_nothing_wanders_into_a_busy_photo():
    # The same figure over a real photo: its ground is no plate, and only
    # what clearly stands out of it may join; never a pixel of the photo.
    body, legs = _walker()
    ground = transform.resize(data.coffee(), body.shape, anti_aliasing=True)
    image = _laid(ground, body | legs)
    grown = grown_over_plain_ground(image, _segmenter_missed_the_legs(body))
    assert (grown[~(body | legs)] == 1).sum() == 0


def test_a_shadow_and_a_painted_line_on_plain_ground_stay_ground():
    body, _ = _walker()
    ground = np.full((*body.shape, 3), 0.55, np.float32) + np.float32([0.05, 0.02, -0.03])
    image = _laid(ground, body)
    # A shadow cast to the right of the figure's foot, and a thin red line leaving it.
    shadow = np.zeros(body.shape, bool)
    shadow[163:177, 200:300] = True
    shadow &= ~body
    image[shadow] *= 0.45
    line = np.zeros(body.shape, bool)
    line[120:123, 230:400] = True
    line &= ~body
    image[line] = [0.8, 0.1, 0.1]
    probability = _segmenter_missed_the_legs(body)
    grown = grown_over_plain_ground(image, probability)
    assert (grown[shadow] == 1).sum() == 0
    # Only where it meets the figure, within the figure's soft rim.
    assert (grown[line & (probability < 0.5)] == 1).sum() == 0


def test_without_a_sure_subject_nothing_changes():
    image = np.zeros((64, 64, 3), np.float32)
    image[20:40, 20:40] = 0.8
    probability = np.full((64, 64), 0.3, np.float32)
    assert grown_over_plain_ground(image, probability) is probability


def test_over_busy_ground_the_segmenters_word_stands():
    # A grainy ground (colours spreading about 18 levels) with a patch that
    # stands out of it beside the figure: a thing behind the subject as
    # likely as a part of it, so it is left to the segmenter.
    body, _ = _walker()
    rng = np.random.default_rng(0)
    ground = np.clip(0.5 + rng.normal(0, 0.04, (*body.shape, 3)), 0, 1).astype(np.float32)
    image = _laid(ground, body)
    patch = np.zeros(body.shape, bool)
    patch[70:90, 225:258] = True
    patch &= ~body
    image[patch] = [0.85, 0.3, 0.2]
    grown = grown_over_plain_ground(image, _segmenter_missed_the_legs(body))
    assert (grown[patch] == 1).sum() == 0


@pytest.mark.parametrize("shape", [(1, 2000), (2000, 1), (2, 3000), (5, 7), (12, 12)])
def test_slivers_and_tiny_photos_are_grown_without_error(shape):
    # A thin strip of a photo, or a thumbnail: the working view is at least a pixel each way.
    image = np.zeros(shape + (3,), np.float32)
    probability = np.zeros(shape, np.float32)
    probability[: max(1, shape[0] // 2), : max(1, shape[1] // 2)] = 1
    image[: max(1, shape[0] // 2), :] = 0.8
    grown = grown_over_plain_ground(image, probability)
    assert grown.shape == shape and grown.dtype == np.float32
    assert (grown >= probability).all()
    assert refine_alpha((image * 255).astype(np.uint8), probability).shape == shape


def test_a_scrub_keeps_only_what_the_segmenter_chose():
    # The "legs" are someone else's arm touching the subject against a plain wall: the render grows over
    # them, the PII scrub must not, or a bystander would stay sharp.
    from bokehme.imaging.scrub import scrub

    body, legs = _walker()
    image = _laid(np.full((*body.shape, 3), 0.92, np.float32), body | legs)
    subject = _segmenter_missed_the_legs(body)
    unlike = legs & (np.abs(image - 0.92).max(axis=-1) > 0.3)
    assert (refine_alpha(image, subject)[unlike] > 0.5).mean() > 0.9
    _, alpha = scrub(image, subject, 10, subject_probability=subject)[:2]
    # Only where the guided fit follows the photo just beside the body.
    assert (alpha[unlike] > 0.5).mean() < 0.3
