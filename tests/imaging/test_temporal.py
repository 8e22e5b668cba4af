"""Steady probabilities: less flicker where nothing moves, no ghost where something does."""

import numpy as np
from skimage import data, transform

from bokehme.imaging.temporal import frame_thumbnail, scene_cut, steady_probability


def frames_and_probabilities(count, positions, noise=0.15, seed=0):
    """A bright square over a real photo at each position, and a noisy segmenter's view of it."""
    rng = np.random.default_rng(seed)
    backdrop = transform.resize(data.camera(), (60, 80), anti_aliasing=True).astype(np.float32)
    frames, probabilities, truths = [], [], []
    for index in range(count):
        x = positions[index]
        truth = np.zeros((60, 80), np.float32)
        truth[20:40, x:x + 20] = 1
        frame = np.repeat(backdrop[..., None], 3, axis=2)
        frame[truth > 0] = (1.0, 0.9, 0.1)
        frame += rng.normal(0, 0.005, frame.shape).astype(np.float32)
        frames.append(frame)
        probabilities.append(np.clip(truth + rng.normal(0, noise, truth.shape), 0, 1).astype(np.float32))
        truths.append(truth)
    return frames, probabilities, truths


def steadied(frames, probabilities):
    out, previous, thumbnail = [], None, None
    for frame, probability in zip(frames, probabilities):
        current = frame_thumbnail(frame, probability.shape)
        if previous is not None and not scene_cut(thumbnail, current):
            probability = steady_probability(previous, probability, thumbnail, current)
        out.append(probability)
        previous, thumbnail = probability, current
    return out


def flicker(sequence):
    return float(np.mean([np.abs(b - a).mean() for a, b in zip(sequence, sequence[1:])]))


def test_a_still_scene_flickers_far_less():
    frames, probabilities, _ = frames_and_probabilities(30, [30] * 30)
    raw, steady = flicker(probabilities), flicker(steadied(frames, probabilities))
    # An average with memory 0.7 leaves sqrt(0.3 / 1.7) of the noise's spread.
    assert steady < 0.5 * raw


def test_a_fast_move_leaves_no_ghost_behind():
    positions = [10] * 10 + [50] * 5
    frames, probabilities, truths = frames_and_probabilities(15, positions, noise=0.0)
    steady = steadied(frames, probabilities)
    # The frame the square jumped: where it was is background at once, where it is now subject.
    assert steady[10][20:40, 10:30].max() < 0.05
    assert steady[10][22:38, 52:68].min() > 0.95


def test_a_cut_starts_afresh():
    frames, probabilities, _ = frames_and_probabilities(2, [30, 30], noise=0.0)
    other = [np.ones_like(frames[0]) - frames[0], frames[1]]
    assert scene_cut(frame_thumbnail(frames[0], (60, 80)), frame_thumbnail(other[0], (60, 80)))
    assert not scene_cut(frame_thumbnail(frames[0], (60, 80)), frame_thumbnail(frames[1], (60, 80)))
