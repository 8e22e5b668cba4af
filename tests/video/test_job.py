"""A clip in, the same clip out: frames, timestamps, rotation and sound kept; background blurred or replaced."""

import numpy as np
import pytest

from bokehme.job import Target
from bokehme.options import Options
from bokehme.video.backdrop import ColourBackdrop
from bokehme.video.clips import VideoError, probe
from bokehme.video.job import VideoJob
from bokehme.video.streams import EncoderSettings


def detail(image, mask):
    """Mean squared Laplacian where `mask` holds (inner pixels only)."""
    gray = image.mean(axis=-1)
    laplacian = 4 * gray[1:-1, 1:-1] - gray[:-2, 1:-1] - gray[2:, 1:-1] - gray[1:-1, :-2] - gray[1:-1, 2:]
    return float((laplacian[mask[1:-1, 1:-1]] ** 2).mean())


def test_frames_timestamps_and_sound_are_kept(tmp_path, make_clip, yellow_segmenter, decoded):
    # A variable frame rate, as phones record: gaps of 33, 41 and 50 ms.
    timestamps = [0, 33, 66, 116, 150, 191, 241, 274, 307, 357, 390, 431]
    make_clip(tmp_path / "in.mp4", timestamps_ms=timestamps, audio_seconds=0.5)
    VideoJob(Options(radius=6), yellow_segmenter).run(tmp_path / "in.mp4", Target(tmp_path / "out.mp4"))
    source, _, source_audio, source_codecs = decoded(tmp_path / "in.mp4")
    frames, rotation, audio, codecs = decoded(tmp_path / "out.mp4")
    assert len(frames) == len(source) == len(timestamps)
    assert [round(seconds * 1000) for _, seconds in frames] == timestamps
    assert frames[0][0].shape == (120, 160, 3) and rotation == 0
    assert codecs == source_codecs == ["aac"] and audio == pytest.approx(source_audio, abs=1e-3)
    assert audio[0] == pytest.approx(0.5, abs=0.03)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "out.mp4"]


def test_each_frame_keeps_the_subject_and_blurs_the_background(tmp_path, make_clip, yellow_segmenter, decoded,
                                                                 scene):
    make_clip(tmp_path / "in.mp4", frames=8, motion=4, noise=0)
    VideoJob(Options(radius=6), yellow_segmenter).run(tmp_path / "in.mp4", Target(tmp_path / "out.mp4"))
    source, _, _, _ = decoded(tmp_path / "in.mp4")
    frames, _, _, _ = decoded(tmp_path / "out.mp4")
    for index, ((before, _), (after, _)) in enumerate(zip(source, frames)):
        _, subject = scene(160, 120, 4 * index)
        inner = np.zeros_like(subject)
        inner[10:-10, 10:-10] = True
        far = inner & ~np.pad(subject, 12)[12:-12, 12:-12]
        assert detail(after, far) < 0.3 * detail(before, far), index
        core = subject & ~np.pad(~subject, 3, constant_values=True)[3:-3, 3:-3]
        assert np.abs(after[core] - before[core]).mean() < 0.02, index


def test_a_phone_rotation_is_kept_and_frames_are_rendered_upright(tmp_path, make_clip, top_half_segmenter,
                                                                   decoded):
    make_clip(tmp_path / "in.mp4", width=160, height=96, frames=4, rotation=90, noise=0.0)
    info = probe(tmp_path / "in.mp4")
    assert info.rotation == 90 and (info.width, info.height) == (96, 160)
    VideoJob(Options(radius=8), top_half_segmenter).run(tmp_path / "in.mp4", Target(tmp_path / "out.mp4"))
    source, _, _, _ = decoded(tmp_path / "in.mp4")
    frames, rotation, _, _ = decoded(tmp_path / "out.mp4")
    assert rotation == 90
    before, after = source[1][0], frames[1][0]
    assert before.shape == after.shape == (96, 160, 3)
    # The segmenter's top half of the upright picture stays sharp, the bottom half is blurred.
    top, bottom = np.zeros(before.shape[:2], bool), np.zeros(before.shape[:2], bool)
    top[8:40, 8:-8], bottom[60:-8, 8:-8] = True, True
    assert np.abs(after[top] - before[top]).mean() < 0.02
    assert detail(after, bottom) < 0.3 * detail(before, bottom)


def test_a_colour_replaces_the_background(tmp_path, make_clip, yellow_segmenter, decoded, scene):
    make_clip(tmp_path / "in.mp4", frames=3, noise=0)
    job = VideoJob(Options(), yellow_segmenter, background=ColourBackdrop((0.1, 0.5, 0.9)))
    job.run(tmp_path / "in.mp4", Target(tmp_path / "out.mp4"))
    frames, _, _, _ = decoded(tmp_path / "out.mp4")
    _, subject = scene(160, 120, 0)
    far = ~np.pad(subject, 8)[8:-8, 8:-8]
    pixels = frames[1][0]
    assert np.abs(pixels[far] - (0.1, 0.5, 0.9)).max(axis=-1).mean() < 0.02
    assert np.abs(pixels[subject & np.roll(subject, 6, 0) & np.roll(subject, -6, 0)]
                  - (0.95, 0.85, 0.2)).mean() < 0.03


def test_a_truncated_clip_is_one_clear_error_and_leaves_nothing(tmp_path, make_clip, yellow_segmenter):
    make_clip(tmp_path / "in.mp4", frames=12)
    data = (tmp_path / "in.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoError) as caught:
        VideoJob(Options(), yellow_segmenter).run(tmp_path / "cut.mp4", Target(tmp_path / "out.mp4"))
    assert "cut.mp4" in str(caught.value) and "\n" not in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.mp4", "in.mp4"]
    assert (tmp_path / "in.mp4").read_bytes() == data


def x264_settings(path):
    """The settings x264 writes into the stream it encodes (its SEI message), as a dict."""
    data = path.read_bytes()
    start = data.index(b"options: ") + len(b"options: ")
    words = data[start:data.index(b"\0", start)].decode().split()
    return dict(word.split("=", 1) for word in words if "=" in word)


# x264's "analyse" is its partitions as bit masks, keyframes' and the other
# frames': 0x3 the 4x4 and 8x8 intra blocks, 0x113 those and the 8x8 splits.
@pytest.mark.parametrize("preset, analysis", [(None, ("dia", "2", "0x3:0")), ("veryfast", ("hex", "2", "0x3:0x113"))])
def test_h264_takes_a_quicker_analysis_unless_a_preset_is_asked_for(tmp_path, make_clip, yellow_segmenter,
                                                                     preset, analysis):
    make_clip(tmp_path / "in.mp4", frames=4)
    VideoJob(Options(radius=6), yellow_segmenter, EncoderSettings(preset=preset)).run(
        tmp_path / "in.mp4", Target(tmp_path / "out.mp4"))
    settings = x264_settings(tmp_path / "out.mp4")
    assert (settings["me"], settings["subme"], settings["analyse"]) == analysis
    # Otherwise veryfast, as FFmpeg's: one reference frame, a short lookahead.
    assert (settings["ref"], settings["rc_lookahead"], settings["crf"]) == ("1", "10", "18.0")
