"""`bokehme live` with a video file as the camera."""

import signal
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import pyvirtualcam

from bokehme.cli.live import main
from bokehme.live import session
from bokehme.video.worker_processes import WorkerLost

REPO = Path(__file__).resolve().parents[2]


def bokehme(*args):
    return subprocess.run([sys.executable, "-m", "bokehme", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, timeout=600)


def test_a_file_camera_is_recorded_frame_for_frame(tmp_path, make_clip):
    make_clip(tmp_path / "camera.mp4", frames=9)
    result = bokehme("live", "--camera", tmp_path / "camera.mp4", "--output", tmp_path / "call.mp4")
    assert result.returncode == 0, result.stderr
    assert "9 frames" in result.stderr and "frames per second" in result.stderr
    assert "segment" in result.stderr and "render" in result.stderr
    with av.open(str(tmp_path / "call.mp4")) as clip:
        assert sum(1 for _ in clip.decode(video=0)) == 9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["call.mp4", "camera.mp4"]


def test_frames_stops_early(tmp_path, make_clip):
    make_clip(tmp_path / "camera.mp4", frames=12)
    result = bokehme("live", "--camera", tmp_path / "camera.mp4", "--output", tmp_path / "call.mkv", "--frames", "4",
                     "--background", "#000000")
    assert result.returncode == 0, result.stderr
    with av.open(str(tmp_path / "call.mkv")) as clip:
        assert sum(1 for _ in clip.decode(video=0)) == 4


def test_errors_are_one_line(tmp_path):
    for args, words in ((["--camera", "57"], "no such camera"),
                        (["--camera", tmp_path / "missing.mp4", "--output", tmp_path / "x.mp4"], "no such file"),
                        (["--size", "12x7"], "--size")):
        result = bokehme("live", *args)
        assert result.returncode != 0 and words in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
        assert not (tmp_path / "x.mp4").exists()


def test_a_frame_worker_killed_is_one_line_and_no_recording(tmp_path, make_clip, monkeypatch, capsys):
    make_clip(tmp_path / "camera.mp4", frames=4)

    def killed(*args, **kwargs):
        raise WorkerLost(-signal.SIGKILL)

    monkeypatch.setattr(session, "run_session", killed)
    with pytest.raises(SystemExit) as stopped:
        main(["--camera", str(tmp_path / "camera.mp4"), "--output", str(tmp_path / "call.mp4"), "--model", "selfie"])
    err = capsys.readouterr().err
    assert stopped.value.code == 1
    assert "frame worker process ended unexpectedly (killed by SIGKILL); nothing was recorded" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["camera.mp4"]


def test_too_little_shared_memory_renders_in_threads_and_says_how_to_give_more(tmp_path, make_clip,
                                                                                little_shared_memory, capsys):
    make_clip(tmp_path / "camera.mp4", frames=4)
    little_shared_memory()
    with pytest.raises(SystemExit) as stopped:
        main(["--camera", str(tmp_path / "camera.mp4"), "--output", str(tmp_path / "call.mp4"), "--model", "selfie"])
    err = capsys.readouterr().err
    assert stopped.value.code == 0, err
    warning, = [line for line in err.splitlines() if "warning" in line]
    assert "in threads" in warning and "0 MB free" in warning and "--shm-size" in warning
    with av.open(str(tmp_path / "call.mp4")) as clip:
        assert sum(1 for _ in clip.decode(video=0)) == 4


def test_a_virtual_camera_where_one_is_installed_gets_every_frame_rendered(tmp_path, make_clip, monkeypatch, capsys):
    """pyvirtualcam's own Camera, with a backend of the test's where v4l2loopback would be."""
    received = []

    class Backend:
        def __init__(self, width, height, fps, fourcc, device, **kw):
            self.shape, self.fps = (height, width, 3), fps

        def send(self, frame):
            received.append(frame.reshape(self.shape).copy())

        def close(self):
            pass

        def device(self):
            return "/dev/video-test"

        def native_fourcc(self):
            return None

    monkeypatch.setitem(pyvirtualcam.camera.BACKENDS, "test", Backend)
    make_clip(tmp_path / "camera.mp4", frames=5, noise=0)
    with av.open(str(tmp_path / "camera.mp4")) as clip:
        given = [frame.to_ndarray(format="rgb24") for frame in clip.decode(video=0)]
    with pytest.raises(SystemExit) as stopped:
        main(["--camera", str(tmp_path / "camera.mp4"), "--virtual-camera", "--model", "selfie", "--radius", "6"])
    err = capsys.readouterr().err
    assert stopped.value.code == 0, err
    assert "sending to the virtual camera /dev/video-test" in err and "5 frames" in err
    assert len(received) == len(given) == 5
    assert all(sent.shape == shown.shape and sent.dtype == np.uint8 for sent, shown in zip(received, given))
    # Rendered, not passed through: the background's fine detail is blurred away.
    assert all(np.abs(np.diff(sent.astype(int), axis=1)).mean() < np.abs(np.diff(shown.astype(int), axis=1)).mean()
               for sent, shown in zip(received, given))
