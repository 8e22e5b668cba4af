"""Clips on the command line: beside photos, mirrored, resumed, and failing alone."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from PIL import Image
from skimage import data

from bokehme.cli.command import command
from bokehme.video.workers import FrameWorkers

REPO = Path(__file__).resolve().parents[2]


def bokehme(*args):
    return subprocess.run([sys.executable, "-m", "bokehme", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, timeout=600)


def frame_count(path):
    import av

    with av.open(str(path)) as clip:
        return sum(1 for _ in clip.decode(video=0))


def test_a_clip_is_written_beside_it_and_a_rerun_skips_it(tmp_path, make_clip):
    make_clip(tmp_path / "clip.mp4", frames=6, audio_seconds=0.25)
    first = bokehme(tmp_path / "clip.mp4", "--model", "selfie", "--radius", "4")
    assert first.returncode == 0, first.stderr
    assert frame_count(tmp_path / "clip_bokeh.mp4") == 6
    again = bokehme(tmp_path / "clip.mp4", "--model", "selfie")
    assert again.returncode == 0 and "processed 0, skipped 1, failed 0" in again.stderr


def test_photos_and_clips_together_mirrored_and_a_cut_clip_fails_alone(tmp_path, make_clip):
    (tmp_path / "in" / "trip").mkdir(parents=True)
    Image.fromarray(data.astronaut()[::4, ::4]).save(tmp_path / "in" / "me.jpg")
    make_clip(tmp_path / "in" / "trip" / "walk.mov", frames=5)
    make_clip(tmp_path / "in" / "trip" / "whole.mkv", frames=5)
    whole = (tmp_path / "in" / "trip" / "whole.mkv").read_bytes()
    (tmp_path / "in" / "trip" / "cut.mp4").write_bytes(whole[: len(whole) // 3])
    (tmp_path / "in" / "trip" / "whole.mkv").unlink()
    result = bokehme(tmp_path / "in", "-r", "-o", tmp_path / "out", "--model", "selfie", "--radius", "4")
    assert result.returncode == 1
    assert "processed 2, skipped 0, failed 1" in result.stderr
    lines = [line for line in result.stderr.splitlines() if "cut.mp4" in line and "FAILED" in line]
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*") if p.is_file()) == [
        "me.jpg", "trip/walk.mov"]
    assert frame_count(tmp_path / "out" / "trip" / "walk.mov") == 5


def test_a_frame_worker_killed_fails_its_clip_in_one_line_and_the_batch_goes_on(tmp_path, make_clip, monkeypatch):
    make_clip(tmp_path / "a.mp4", frames=4)
    make_clip(tmp_path / "b.mp4", frames=4)
    submit = FrameWorkers.submit
    killed = []

    def kill_first_worker_once(self, *args):
        if not killed:  # as the system's out-of-memory killer would
            killed.append(self.pids[0])
            os.kill(killed[0], signal.SIGKILL)
            while True:
                try:
                    os.kill(killed[0], 0)
                    time.sleep(0.02)
                except ProcessLookupError:
                    break
        return submit(self, *args)

    monkeypatch.setattr(FrameWorkers, "submit", kill_first_worker_once)
    result = CliRunner().invoke(command, [str(tmp_path / "a.mp4"), str(tmp_path / "b.mp4"), "--model", "selfie",
                                          "--radius", "4"])
    assert result.exit_code == 1 and killed
    assert "processed 1, skipped 0, failed 1" in result.output
    line, = [line for line in result.output.splitlines() if "FAILED" in line]
    assert "a.mp4" in line and "frame worker process ended unexpectedly (killed by SIGKILL)" in line
    assert frame_count(tmp_path / "b_bokeh.mp4") == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4", "b.mp4", "b_bokeh.mp4"]


def test_clips_that_do_not_fit_in_shared_memory_render_in_threads_with_one_warning(tmp_path, make_clip,
                                                                                     little_shared_memory):
    make_clip(tmp_path / "a.mp4", frames=3)
    make_clip(tmp_path / "b.mp4", frames=3)
    little_shared_memory()
    result = CliRunner().invoke(command, [str(tmp_path / "a.mp4"), str(tmp_path / "b.mp4"), "--model", "selfie",
                                          "--radius", "4"])
    assert result.exit_code == 0, result.output
    warning, = [line for line in result.output.splitlines() if "warning" in line]
    assert "frames rendered in threads" in warning and "0 MB free" in warning and "--shm-size" in warning
    assert frame_count(tmp_path / "a_bokeh.mp4") == frame_count(tmp_path / "b_bokeh.mp4") == 3


def test_a_colour_background_replaces_the_blur_of_a_photo(tmp_path):
    Image.fromarray(data.astronaut()).save(tmp_path / "me.png")
    result = bokehme(tmp_path / "me.png", "--model", "selfie", "--background", "#1a5c33")
    assert result.returncode == 0, result.stderr
    out = np.asarray(Image.open(tmp_path / "me_bokeh.png"))
    # The dark corner behind the astronaut is the colour now; the astronaut's face is as it was.
    assert np.abs(out[:40, 420:].astype(int) - (0x1a, 0x5c, 0x33)).max() <= 1
    assert np.array_equal(out[200:220, 200:220], data.astronaut()[200:220, 200:220])


def test_background_options_that_cannot_apply_are_usage_errors(tmp_path):
    Image.fromarray(data.astronaut()[::4, ::4]).save(tmp_path / "me.png")
    for args, words in ((["--background", "#00ff00", "--blades", "6"], "--background replaces"),
                        (["--background", "#00ff00", "--pii"], "--pii renders its own"),
                        (["--background", tmp_path / "nothing.png"], "--background")):
        result = bokehme(tmp_path / "me.png", "--model", "selfie", *args)
        assert result.returncode == 2 and words in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
