"""Frames matted and rendered in worker processes: in order, as in this process, and nothing left behind."""

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from skimage import data, transform

from bokehme.options import Options
from bokehme.video import workers as worker_module
from bokehme.video.renderer import FrameRenderer
from bokehme.video.worker_processes import SharedMemoryShort, WorkerLost
from bokehme.video.workers import FrameWorkers, matte_and_render

SHARED_MEMORY = Path("/dev/shm")


def frames(count, seed=0):
    """The astronaut, a little noise on each frame, and a subject probability where she is."""
    rng = np.random.default_rng(seed)
    photo = transform.resize(data.astronaut(), (120, 160), anti_aliasing=True).astype(np.float32)
    probability = np.zeros((48, 64), np.float32)
    probability[8:, 14:44] = 1
    return [((np.clip(photo + rng.normal(0, 0.02, photo.shape), 0, 1) * 255 + 0.5).astype(np.uint8), probability)
            for _ in range(count)]


@pytest.fixture
def created(monkeypatch):
    """The names of the shared memory segments this process creates during the test (not other runs')."""
    names = []

    class Recorded(worker_module.shared_memory.SharedMemory):
        def __init__(self, name=None, create=False, size=0):
            super().__init__(name, create, size)
            if create:
                names.append(self.name)

    monkeypatch.setattr(worker_module.shared_memory, "SharedMemory", Recorded)
    return names


def left(names):
    return [name for name in names if (SHARED_MEMORY / name.lstrip("/")).exists()]


def running(pids):
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
            alive.append(pid)
        except ProcessLookupError:
            pass
    return alive


def gone_soon(pids):
    """The pids that still run after a second (the fork server reaps its children as they end)."""
    deadline = time.monotonic() + 5
    while running(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return running(pids)


class HalfSubject:
    """A stand-in segmenter: the middle columns of every frame are the subject."""

    labels = ("background", "person")
    long_side = None

    def subject_probability(self, image, subject, people="near"):
        probability = np.zeros((48, 64), np.float32)
        probability[8:, 14:44] = 1
        return probability


def test_workers_hand_back_frames_in_order_as_this_process_renders_them(created):
    options = Options(radius=8)
    backdrop = np.random.default_rng(2).random((120, 160, 3), dtype=np.float32)
    # Every other frame on a new background: with three slots, each holds
    # frames with and without one in turn, and grows once.
    given = [(pixels, probability, backdrop if index % 2 else None)
             for index, (pixels, probability) in enumerate(frames(7))]
    expected = [matte_and_render(*frame, options) for frame in given]
    with FrameWorkers(2, options) as workers:
        tickets = [workers.submit(*frame) for frame in given[:3]]  # two rendering, one handed ahead
        results = []
        for frame in given[3:]:
            results.append(workers.result(tickets.pop(0)))
            tickets.append(workers.submit(*frame))
        results += [workers.result(ticket) for ticket in tickets]
    for (image, alpha, _), (want_image, want_alpha, _) in zip(results, expected):
        assert np.array_equal(image, want_image) and np.array_equal(alpha, want_alpha)
    assert len(results) == len(given)
    assert len(created) > 3 and left(created) == []  # slots grown anew, and every one freed


def test_workers_without_alphas_hand_back_the_same_renderings_through_less_memory(created, little_shared_memory):
    given = frames(3)
    with FrameWorkers(2, Options()) as workers:
        wanted = [workers.result(workers.submit(*frame)) for frame in given]
    with FrameWorkers(2, Options(), alphas=False) as workers:
        got = [workers.result(workers.submit(*frame)) for frame in given]
    assert all(np.array_equal(image, want[0]) and alpha is None for (image, alpha, _), want in zip(got, wanted))
    # Too little room names what a slot takes: its frame, probability and rendering, no alpha.
    (pixels, probability), = frames(1)
    little_shared_memory()
    with FrameWorkers(2, Options(), alphas=False) as workers, pytest.raises(SharedMemoryShort) as short:
        workers.submit(pixels, probability)
    frame = pixels.nbytes + probability.nbytes + pixels.nbytes
    assert 3 * frame <= short.value.needed <= 3 * (frame + 3 * 64)
    assert left(created) == []


def test_more_frames_out_than_slots_or_results_out_of_order_are_refused(created):
    given = frames(4)
    with FrameWorkers(2, Options()) as workers:
        tickets = [workers.submit(*frame) for frame in given[:3]]
        with pytest.raises(RuntimeError, match="out already"):
            workers.submit(*given[3])
        with pytest.raises(RuntimeError, match="before frame 0"):
            workers.result(tickets[1])
        assert [len(workers.result(ticket)) for ticket in tickets] == [3, 3, 3]
    assert left(created) == []


def test_too_little_shared_memory_is_an_error_before_any_frame_is_written(created, little_shared_memory):
    (pixels, probability), = frames(1)
    little_shared_memory()
    with FrameWorkers(2, Options()) as workers, pytest.raises(SharedMemoryShort) as short:
        workers.submit(pixels, probability)
    # Three slots of the frame, its probability, its rendering and its alpha.
    frame = pixels.nbytes + probability.nbytes + pixels.nbytes + 4 * pixels.shape[0] * pixels.shape[1]
    assert 3 * frame <= short.value.needed <= 3 * (frame + 4 * 64) and short.value.free == 2**16
    assert created == []


def test_a_failure_in_a_worker_is_raised_as_itself_and_leaves_nothing_behind(created):
    (pixels, probability), = frames(1)
    wrong = np.zeros((60, 80, 3), np.float32)
    with pytest.raises(ValueError) as here:
        matte_and_render(pixels, probability, wrong, Options())
    workers = FrameWorkers(2, Options())
    pids = workers.pids
    with pytest.raises(ValueError) as there, workers:
        workers.result(workers.submit(pixels, probability, wrong))
    assert str(there.value) == str(here.value)
    assert gone_soon(pids) == [] and created and left(created) == []


def test_a_worker_that_dies_is_a_worker_lost_and_the_others_stop(created):
    (pixels, probability), = frames(1)
    workers = FrameWorkers(2, Options())
    pids = workers.pids
    os.kill(pids[0], signal.SIGKILL)
    with pytest.raises(WorkerLost) as lost, workers:
        workers.result(workers.submit(pixels, probability))
    assert lost.value.exitcode == -signal.SIGKILL
    assert gone_soon(pids) == [] and left(created) == []


def test_ctrl_c_while_frames_render_stops_every_worker(created):
    seen = []
    renderer = FrameRenderer(Options(), HalfSubject())
    original = FrameWorkers.__init__

    def watched(self, *args):
        original(self, *args)
        seen.extend(self.pids)

    def source():
        for index, (pixels, _) in enumerate(frames(6)):
            if index == 4:
                raise KeyboardInterrupt
            yield pixels, None

    FrameWorkers.__init__ = watched
    try:
        with pytest.raises(KeyboardInterrupt):
            for _ in renderer.render_frames(source(), processes=True):
                pass
    finally:
        FrameWorkers.__init__ = original
    assert len(seen) == 2 and gone_soon(seen) == [] and created and left(created) == []


@pytest.mark.parametrize("short_from", [0, 1], ids=["at the start", "when a slot grows"])
def test_frames_that_do_not_fit_in_shared_memory_are_rendered_in_threads_the_same(created, little_shared_memory,
                                                                                   short_from):
    backdrop = np.random.default_rng(3).random((120, 160, 3), dtype=np.float32)
    # From the fourth frame on a new background: the slots grow, and ask for room again.
    given = [(pixels, backdrop if index >= 3 else None) for index, (pixels, _) in enumerate(frames(6))]
    expected = [rendered.pixels for rendered in FrameRenderer(Options(), HalfSubject()).render_frames(given)]
    asked = little_shared_memory(short_from)
    renderer = FrameRenderer(Options(), HalfSubject())
    got = [rendered.pixels for rendered in renderer.render_frames(given, processes=True)]
    assert len(got) == len(expected) and all(np.array_equal(a, b) for a, b in zip(got, expected))
    short = renderer.shared_memory_short
    assert isinstance(short, SharedMemoryShort) and short.free == 2**16 and short.needed > 2**16
    assert len(asked) == short_from + 1
    assert bool(created) == bool(short_from) and left(created) == []


def test_rendering_in_processes_leaves_this_process_without_opencvs_pool_meanwhile(created):
    import cv2

    before, seen = cv2.getNumThreads(), []

    def source():
        for pixels, _ in frames(4):
            seen.append(cv2.getNumThreads())
            yield pixels, None

    rendered = list(FrameRenderer(Options(), HalfSubject()).render_frames(source(), processes=True))
    assert len(rendered) == 4 and seen == [1] * 4 and cv2.getNumThreads() == before
    list(FrameRenderer(Options(), HalfSubject()).render_frames([(pixels, None) for pixels, _ in frames(2)]))
    assert cv2.getNumThreads() == before


def test_shared_memory_that_cannot_be_written_renders_in_threads_too(created, monkeypatch):
    given = [(pixels, None) for pixels, _ in frames(3)]
    expected = [rendered.pixels for rendered in FrameRenderer(Options(), HalfSubject()).render_frames(given)]

    class Refused(worker_module.shared_memory.SharedMemory):  # as where there is no /dev/shm
        def __init__(self, name=None, create=False, size=0):
            raise PermissionError(13, "Permission denied", "/psm_bokehme")

    monkeypatch.setattr(worker_module.shared_memory, "SharedMemory", Refused)
    renderer = FrameRenderer(Options(), HalfSubject())
    got = [rendered.pixels for rendered in renderer.render_frames(given, processes=True)]
    assert all(np.array_equal(a, b) for a, b in zip(got, expected)) and len(got) == 3
    assert renderer.shared_memory_short.free == 0 and renderer.shared_memory_short.needed > 0
