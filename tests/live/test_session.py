"""The live loop with a video file standing in for the camera."""

import time
from pathlib import Path

import av
import numpy as np
import pytest

from bokehme.io.atomic import atomic_write
from bokehme.live.session import run_session
from bokehme.live.sinks import Recording, SinkError, VirtualCamera
from bokehme.live.sources import Source, SourceError, open_source
from bokehme.options import Options
from bokehme.video.renderer import FrameRenderer


class Collect:
    """A sink that keeps what it is sent."""

    def __init__(self):
        self.frames = []

    def send(self, pixels, captured):
        self.frames.append(pixels.copy())

    def close(self):
        pass


def detail(image, mask):
    gray = image.astype(np.float32).mean(axis=-1)
    laplacian = 4 * gray[1:-1, 1:-1] - gray[:-2, 1:-1] - gray[2:, 1:-1] - gray[1:-1, :-2] - gray[1:-1, 2:]
    return float((laplacian[mask[1:-1, 1:-1]] ** 2).mean())


def test_a_file_source_gives_every_frame_rendered(tmp_path, make_clip, yellow_segmenter, scene):
    make_clip(tmp_path / "camera.mp4", frames=10, noise=0)
    source = open_source(str(tmp_path / "camera.mp4"))
    sink = Collect()
    try:
        stats = run_session(source, FrameRenderer(Options(radius=6), yellow_segmenter), [sink])
    finally:
        source.close()
    assert not source.live and stats.frames == len(sink.frames) == 10 and stats.dropped == 0
    before, subject = scene(160, 120, 0)
    far = ~np.pad(subject, 14)[14:-14, 14:-14]
    far[:4], far[-4:], far[:, :4], far[:, -4:] = False, False, False, False
    assert detail(sink.frames[5], far) < 0.3 * detail(before * 255, far)
    inner = subject & np.roll(subject, 5, 0) & np.roll(subject, -5, 0) & np.roll(subject, 5, 1)
    assert np.abs(sink.frames[5][inner] / 255 - before[inner]).mean() < 0.03
    assert stats.fps > 0 and {"wait", "segment", "matte", "render", "output"} <= set(stats.milliseconds())


def test_the_loops_own_array_work_runs_without_opencvs_pool_and_gives_it_back(tmp_path, make_clip,
                                                                                yellow_segmenter):
    """Its few small images cost OpenCV's pool threads more than they share out; the setting is restored."""
    import cv2

    class Threads(Collect):
        def send(self, pixels, captured):
            self.frames.append(cv2.getNumThreads())

    make_clip(tmp_path / "camera.mp4", frames=4)
    before = cv2.getNumThreads()
    source = open_source(str(tmp_path / "camera.mp4"))
    sink = Threads()
    try:
        run_session(source, FrameRenderer(Options(radius=6), yellow_segmenter), [sink])
    finally:
        source.close()
    assert sink.frames == [1] * 4 and cv2.getNumThreads() == before


def test_frames_stops_after_n_and_a_recording_keeps_them(tmp_path, make_clip, yellow_segmenter):
    make_clip(tmp_path / "camera.mp4", frames=10)
    source = open_source(str(tmp_path / "camera.mp4"))

    def record(file):
        recording = Recording(file, tmp_path / "out.mp4", 160, 120, 24)
        run_session(source, FrameRenderer(Options(), yellow_segmenter), [recording], frames=4)
        recording.close()

    try:
        atomic_write(tmp_path / "out.mp4", record)
    finally:
        source.close()
    with av.open(str(tmp_path / "out.mp4")) as clip:
        frames = list(clip.decode(video=0))
    assert len(frames) == 4 and (frames[0].width, frames[0].height) == (160, 120)


def test_a_live_source_hands_over_its_newest_frame(tmp_path, make_clip):
    make_clip(tmp_path / "camera.mp4", frames=40)
    with av.open(str(tmp_path / "camera.mp4")) as clip:
        newest = [frame.to_ndarray(format="rgb24") for frame in clip.decode(video=0)][-1]
    source = Source("camera", av.open(str(tmp_path / "camera.mp4")), True, None, False)
    try:
        frames = iter(source)
        next(frames)
        time.sleep(1.0)  # a slow frame: the camera went on meanwhile, here to its last frame
        after = next(frames)
        assert next(frames, None) is None
    finally:
        source.close()
    assert source.dropped == 38
    assert np.array_equal(after.pixels, newest)


def test_no_such_camera_and_unreadable_streams_are_one_line(tmp_path):
    with pytest.raises(SourceError, match="no such camera") as caught:
        open_source("57")
    assert caught.value.camera and "\n" not in str(caught.value)
    (tmp_path / "noise.mp4").write_bytes(b"not a video at all" * 100)
    with pytest.raises(SourceError, match="noise.mp4: cannot open"):
        open_source(str(tmp_path / "noise.mp4"))
    with pytest.raises(SourceError, match="no such file"):
        open_source(str(tmp_path / "missing.mp4"))


def test_no_virtual_camera_names_what_to_install():
    if Path("/dev/video0").exists():
        pytest.skip("this machine has a video device")
    with pytest.raises(SinkError, match="v4l2loopback") as caught:
        VirtualCamera(320, 240, 30)
    assert "\n" not in str(caught.value)
