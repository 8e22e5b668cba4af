"""Frames rendered as photos, with a subject that stays steady from frame to frame (real selfie model)."""

import numpy as np
import pytest
from skimage import data, transform

from bokehme.imaging.matte import refine_alpha
from bokehme.models.loading import load_segmenter
from bokehme.options import Options
from bokehme.video.renderer import FrameRenderer


@pytest.fixture(scope="module")
def selfie():
    return load_segmenter("selfie")


def still_clip(count, seed=0):
    """The astronaut held still in front of the camera: only sensor noise changes."""
    rng = np.random.default_rng(seed)
    photo = transform.resize(data.astronaut(), (288, 288), anti_aliasing=True).astype(np.float32)
    return [(np.clip(photo + rng.normal(0, 0.02, photo.shape), 0, 1) * 255 + 0.5).astype(np.uint8)
            for _ in range(count)]


def flicker(alphas):
    """Mean absolute change of the alpha between consecutive frames."""
    return float(np.mean([np.abs(b - a).mean() for a, b in zip(alphas, alphas[1:])]))


def test_a_still_subject_does_not_flicker(selfie):
    frames = still_clip(12)
    renderer = FrameRenderer(Options(), selfie)
    steady = [renderer.render(frame).alpha for frame in frames]
    raw = [refine_alpha(frame / np.float32(255), selfie.subject_probability(frame, "person")) for frame in frames]
    assert flicker(steady) < 0.01  # under 1% of the alpha's range
    assert flicker(steady) < 0.6 * flicker(raw)
    assert all((alpha[144, 100:180] == 1).all() for alpha in steady)  # the face stays subject


def test_every_nth_frame_segments_and_the_rest_carry_its_subject(selfie):
    frames = still_clip(5)
    calls = []
    real = selfie.subject_probability

    class Counting:
        labels = selfie.labels
        long_side = None

        def subject_probability(self, image, subject, people="near"):
            calls.append(1)
            return real(image, subject, people)

    renderer = FrameRenderer(Options(), Counting(), every=3)
    alphas = [renderer.render(frame).alpha for frame in frames]
    assert len(calls) == 2 and renderer.frames == 5
    assert all((alpha[144, 100:180] == 1).all() for alpha in alphas)


def test_a_scrub_is_not_for_moving_pictures(selfie):
    with pytest.raises(ValueError, match="PII"):
        FrameRenderer(Options(pii=True), selfie)


def test_a_probability_whose_resolution_changes_from_frame_to_frame_is_steadied(selfie):
    """The default model looks closer at some frames only, at twice the resolution."""
    frames = still_clip(6)

    class CloserEveryOtherFrame:
        labels = selfie.labels
        long_side = None
        frames = 0

        def subject_probability(self, image, subject, people="near"):
            probability = selfie.subject_probability(image, subject, people)
            self.frames += 1
            return np.kron(probability, np.ones((2, 2), np.float32)) if self.frames % 2 else probability

    renderer = FrameRenderer(Options(), CloserEveryOtherFrame())
    alphas = [renderer.render(frame).alpha for frame in frames]
    assert flicker(alphas) < 0.01
    assert all((alpha[144, 100:180] == 1).all() for alpha in alphas)


@pytest.mark.parametrize("processes", [False, True], ids=["threads", "processes"])
def test_frames_rendered_together_are_those_rendered_one_by_one_and_the_source_is_read_one_ahead(selfie, processes):
    frames = still_clip(6, seed=1)
    one_by_one = FrameRenderer(Options(), selfie)
    expected = [one_by_one.render(frame).pixels for frame in frames]
    taken = []

    def source():
        for frame in frames:
            taken.append(1)
            yield frame, None

    together = FrameRenderer(Options(), selfie)
    handed = []
    for rendered in together.render_frames(source(), workers=2, processes=processes):
        handed.append(len(taken))
        assert np.array_equal(rendered.pixels, expected[len(handed) - 1])
    assert len(handed) == len(frames)
    # Both workers busy and one frame's subject found ahead: a live source
    # is asked for its newest frame no sooner than that.
    assert handed[0] == 3


def test_a_frame_shrunk_once_for_the_network_and_the_steadying_renders_as_before(selfie):
    frames = still_clip(4)
    seen = []

    class FullFrames:
        """The selfie model handed every frame whole, as any model is."""

        labels = selfie.labels
        long_side = None

        def subject_probability(self, image, subject, people="near"):
            return selfie.subject_probability(image, subject, people)

    class Watching(FullFrames):
        long_side = selfie.long_side

        def subject_probability(self, image, subject, people="near"):
            seen.append(image.shape)
            return super().subject_probability(image, subject, people)

    whole, shrunk = FrameRenderer(Options(), FullFrames()), FrameRenderer(Options(), Watching())
    for frame in frames:
        expected, rendered = whole.render(frame), shrunk.render(frame)
        assert np.array_equal(rendered.alpha, expected.alpha) and np.array_equal(rendered.pixels, expected.pixels)
    assert seen == [(selfie.long_side, selfie.long_side, 3)] * len(frames)
