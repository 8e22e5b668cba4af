import numpy as np
from skimage import data, draw, transform

from bokehme.imaging.half_sharp import without_half_sharp
from bokehme.imaging.matte import refine_alpha


def _subject(size=(120, 160)):
    """A sure subject (an ellipse of 1) on sure ground (0), with a soft 3-pixel rim."""
    from scipy import ndimage
    inside = np.zeros(size, bool)
    inside[draw.ellipse(60, 80, 45, 40, shape=size)] = True
    rim = np.clip(1 - ndimage.distance_transform_edt(~inside) / 3, 0, 1)
    return inside, rim.astype(np.float32)


def test_a_narrow_outline_is_left_as_it_is():
    _, probability = _subject()
    assert np.array_equal(without_half_sharp(probability), probability)


def test_a_hole_never_called_background_becomes_subject():
    inside, probability = _subject()
    hole = np.zeros_like(inside)
    hole[draw.disk((60, 80), 10, shape=inside.shape)] = True
    probability[hole] = np.linspace(0.35, 0.85, hole.sum())
    settled = without_half_sharp(probability)
    assert (settled[hole] == 1).all()
    # Unless the subject may not grow (a scrub): then, far from any ground,
    # the hole only leans further the way the segmenter leans...
    kept = without_half_sharp(probability, fill_holes=False)[hole]
    assert ((kept - probability[hole]) * (probability[hole] - 0.5) >= 0).all()
    assert (kept < 1).any()
    # ...or the segmenter saw background in it: a gap, not a hole.
    probability[60, 80] = 0.0
    assert (without_half_sharp(probability)[hole] < 1).any()


def test_a_wide_patch_of_doubt_takes_the_decision_the_segmenter_leans_to():
    inside, probability = _subject()
    # A quarter of the frame beside the subject where the segmenter leans
    # one way in its upper half and the other in its lower, joined to the
    # sure ground.
    probability[:, 120:] = np.where(np.arange(120)[:, None] < 60, 0.8, 0.2)
    settled = without_half_sharp(probability)
    deep = np.zeros_like(inside)
    deep[20:100, 135:150] = True
    assert (settled[deep] == (probability[deep] > 0.5)).all()


def test_a_wide_patch_at_one_half_is_no_decision():
    # Where the segmenter holds about one half over a wide patch, its 0.5
    # contour is noise: no hard step is drawn through the patch.
    _, probability = _subject()
    rng = np.random.default_rng(0)
    probability[:, 120:] = 0.5 + rng.uniform(-0.05, 0.05, (120, 40))
    settled = without_half_sharp(probability)
    patch = settled[20:100, 135:150]
    assert ((patch > 0.35) & (patch < 0.65)).all()


def test_the_astronauts_helmet_holds_no_half_sharp_hole():
    # The selfie model's probability over the helmet in the README's sample
    # dips to 0.4-0.6 in its reflections; here a probability with such
    # dips inside a sure subject, fitted against the real photo.
    image = data.astronaut().astype(np.float32) / 255
    small = transform.resize(image, (128, 128), anti_aliasing=True)
    probability = np.zeros((128, 128), np.float32)
    probability[draw.disk((108, 100), 26, shape=(128, 128))] = 1
    reflections = np.zeros((128, 128), bool)
    reflections[draw.ellipse(110, 108, 8, 4, shape=(128, 128))] = True
    probability[reflections] = 0.5 + 0.2 * small[reflections].mean(axis=-1)
    alpha = refine_alpha(image, probability)
    dips = transform.resize(reflections, image.shape[:2], order=0)
    assert (alpha[dips] == 1).all()


def test_doubt_that_leans_to_the_ground_or_stands_alone_is_no_hole():
    # A gap between two legs, closed by the frame's bottom edge, where the
    # segmenter leans to the ground without being sure of it.
    size = (100, 100)
    probability = np.zeros(size, np.float32)
    probability[40:, 30:45] = probability[40:, 55:70] = 1
    probability[60:, 45:55] = 0.35
    probability[40:60, 45:55] = 1
    assert (without_half_sharp(probability)[60:, 45:55] < 0.5).all()
    # A frame the segmenter is unsure of everywhere holds no subject to be a hole in.
    assert (without_half_sharp(np.full(size, 0.3, np.float32)) < 0.5).all()
