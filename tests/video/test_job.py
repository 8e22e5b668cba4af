"""A clip in, the same clip out: frames, timestamps, rotation and sound kept; background blurred or replaced."""

import numpy as np
import pytest

from bokehme.job import Target
from bokehme.options import Options
from bokehme.video.backdrop import ColourBackdrop
from bokehme.video.clips import VideoError, probe
from bokehme.video.job import VideoJob
from bokehme.video.streams import EncoderSettings
from bokehme.video.workers import FrameWorkers


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


def test_frames_rendered_in_worker_processes_are_those_rendered_in_threads(tmp_path, make_clip, yellow_segmenter,
                                                                          decoded, monkeypatch):
    make_clip(tmp_path / "in.mp4", frames=6, motion=4, audio_seconds=0.2)
    started = []
    original = FrameWorkers.__init__

    def counted(self, *args, **kwargs):
        started.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(FrameWorkers, "__init__", counted)
    for processes in (False, True):
        VideoJob(Options(radius=6), yellow_segmenter, processes=processes).run(
            tmp_path / "in.mp4", Target(tmp_path / f"out{processes}.mp4"))
        assert len(started) == processes
    threads, _, threads_audio, _ = decoded(tmp_path / "outFalse.mp4")
    workers, _, workers_audio, _ = decoded(tmp_path / "outTrue.mp4")
    assert len(workers) == len(threads) == 6 and workers_audio == threads_audio
    assert all(np.array_equal(a, b) and t == u for (a, t), (b, u) in zip(workers, threads))


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


@pytest.mark.parametrize("width, height", [(64, 48), (63, 47)], ids=["4:2:0", "odd sides, full chroma"])
def test_colours_come_out_as_they_went_in_and_the_clip_says_how_to_read_them(tmp_path, top_half_segmenter, width,
                                                                              height):
    import av

    # A phone's clip says BT.709 for everything; a saturated red shows a wrong matrix by several levels.
    red = np.zeros((height, width, 3), np.uint8)
    red[:] = (200, 40, 40)
    with av.open(str(tmp_path / "in.mp4"), "w") as out:
        stream = out.add_stream("libx264", rate=30, options={"crf": "0"})
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p" if width % 2 == 0 else "yuv444p"
        context = stream.codec_context
        context.colorspace = context.color_primaries = context.color_trc = 1  # BT.709
        context.color_range = 1
        for index in range(3):
            frame = av.VideoFrame.from_ndarray(red, format="rgb24").reformat(
                format=stream.pix_fmt, dst_colorspace=1, dst_color_range=1)
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    source = av.open(str(tmp_path / "in.mp4"))
    assert np.abs(next(source.decode(video=0)).to_ndarray(format="rgb24").astype(int) - (200, 40, 40)).max() <= 2
    source.close()
    VideoJob(Options(radius=4), top_half_segmenter).run(tmp_path / "in.mp4", Target(tmp_path / "out.mp4"))
    with av.open(str(tmp_path / "out.mp4")) as rendered:
        frames = list(rendered.decode(video=0))
    assert len(frames) == 3
    for frame in frames:
        # The matrix is said, not left to the player (which takes BT.709 for HD, BT.601 for SD).
        assert frame.colorspace in (5, 6) and frame.color_range == 1
        assert (frame.color_primaries, frame.color_trc) == (1, 1)
        assert np.abs(frame.to_ndarray(format="rgb24").astype(int) - (200, 40, 40)).max() <= 3
