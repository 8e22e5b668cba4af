"""Decoding: a clip's colours by its own colour matrix and range, as a player shows them."""

from fractions import Fraction

import numpy as np
import pytest

from bokehme.live.sources import open_source
from bokehme.video.clips import probe
from bokehme.video.streams import Frame, read_frames

# A flat reddish Y'CbCr colour, 8 bits.
LUMA, BLUE, RED = 120, 100, 170


def flat_clip(path, colorspace, color_range):
    """Three lossless frames of that colour, tagged with FFmpeg's colour space and range codes."""
    import av

    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", options={"qp": "0"})
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        video.time_base = video.codec_context.time_base = Fraction(1, 30)
        context = video.codec_context
        context.colorspace = context.color_primaries = context.color_trc = colorspace
        context.color_range = color_range
        # yuv420p as PyAV lays it out: the luma rows, then the two chroma planes' rows.
        planes = np.concatenate([np.full((48, 64), LUMA), np.full((12, 64), BLUE), np.full((12, 64), RED)])
        packets = []
        for index in range(3):
            frame = av.VideoFrame.from_ndarray(planes.astype(np.uint8), format="yuv420p")
            frame.pts = index
            packets += video.encode(frame)
        out.mux(packets + video.encode())


def rgb(kr, kb, studio):
    """The colour's R'G'B' in [0, 255] by a matrix's luma weights, from studio (16-235) or full range."""
    y, cb, cr = LUMA, BLUE - 128, RED - 128
    if studio:
        y, cb, cr = (y - 16) * 255 / 219, cb * 255 / 224, cr * 255 / 224
    kg = 1 - kr - kb
    r = y + 2 * (1 - kr) * cr
    b = y + 2 * (1 - kb) * cb
    return np.array([r, (y - kr * r - kb * b) / kg, b])


BT709, BT601 = (0.2126, 0.0722), (0.299, 0.114)


@pytest.mark.parametrize("colorspace, color_range, matrix, studio", [
    (1, 1, BT709, True),    # BT.709, studio range: a phone's clip
    (1, 2, BT709, False),   # BT.709, full range
    (6, 1, BT601, True),    # SMPTE 170M (BT.601), studio range
    (2, 0, BT601, True),    # untagged: BT.601 studio range, as players assume for SD and FFmpeg for all
])
def test_frames_come_in_the_colours_their_tags_say(tmp_path, colorspace, color_range, matrix, studio):
    path = tmp_path / "flat.mp4"
    flat_clip(path, colorspace, color_range)
    expected = rgb(*matrix, studio)
    frames = [item.pixels for item in read_frames(path, probe(path)) if isinstance(item, Frame)]
    source = open_source(str(path))
    try:
        frames += [frame.pixels for frame in source]
    finally:
        source.close()
    assert len(frames) == 6
    for pixels in frames:
        assert np.abs(pixels.reshape(-1, 3) - expected).max() <= 2
    other = rgb(*(BT601 if matrix == BT709 else BT709), studio)
    assert np.abs(other - expected).max() > 5  # the tag matters: the other matrix is off by more
