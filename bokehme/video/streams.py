"""Decoding and encoding a clip's frames with PyAV, each in a thread of its own.

Frames come out upright (the phone's display rotation applied) as uint8 RGB
arrays with their own timestamps, interleaved with the audio packets in file
order; they go back in the same order, turned back to the coded orientation
and encoded with the same timestamps, the rotation written again as display
side data, and the audio packets copied as they are.  Decoding, the caller's
rendering and encoding overlap: FFmpeg works outside Python's lock.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Iterator, NamedTuple

import cv2
import numpy as np

from ..imaging.threads import usable_cores
from .clips import ClipInfo, VideoError
from .worker_processes import FRAME_WORKERS

__all__ = ["Frame", "Sound", "EncoderSettings", "read_frames", "upright", "set_decoder_threads", "rgb_pixels",
           "ClipWriter", "CONTAINERS", "DEFAULT_PRESET"]

#: Container format of each extension, and the video codec it takes by default.
CONTAINERS = {
    ".mp4": ("mp4", "h264"), ".m4v": ("mp4", "h264"), ".mov": ("mov", "h264"),
    ".mkv": ("matroska", "h264"), ".avi": ("avi", "h264"), ".webm": ("webm", "vp9"),
}

# FFmpeg's encoder for each codec name users write.
_ENCODERS = {"h264": "libx264", "hevc": "libx265", "h265": "libx265", "vp9": "libvpx-vp9", "av1": "libsvtav1"}
# Constant-quality defaults: visually lossless for each encoder's scale.
_DEFAULT_CRF = {"libx264": 18, "libx265": 20, "libvpx-vp9": 24, "libsvtav1": 28}

#: x264's and x265's preset when none is asked for.
DEFAULT_PRESET = "veryfast"
# ...and for x264 the diamond motion search instead of the hexagon, and
# whole macroblocks only between keyframes (no 8x8 splits, no small intra
# blocks; keyframes keep theirs): on the rendered frames measured the files
# are as small for the same quality, in less time (docs/video.md).
_QUICK_ANALYSIS = "me=dia:partitions=none"

# FFmpeg's codes for the YUV matrix and range the encoder is given.
_BT601 = 6  # AVCOL_SPC_SMPTE170M
_STUDIO_RANGE = 1  # AVCOL_RANGE_MPEG

# Frames decoded ahead, and rendered frames waiting to be encoded.
_QUEUE = 4


class Frame(NamedTuple):
    """One decoded frame.

    Attributes
    ----------
    pixels : (H, W, 3) uint8 ndarray
        RGB, upright.
    pts : int
        Its timestamp, in the clip's time base.
    """

    pixels: np.ndarray
    pts: int


class Sound(NamedTuple):
    """One audio packet of the source, to be copied as it is.

    Attributes
    ----------
    packet : av.Packet
    stream : int
        Index of its stream in the source; the packet's own reference to
        the stream dies with the source's container.
    """

    packet: object
    stream: int


class EncoderSettings(NamedTuple):
    """How rendered frames are encoded.

    Attributes
    ----------
    codec : str
        ``"h264"``, ``"hevc"``, ``"vp9"`` or ``"av1"``; None picks the
        container's usual one (:data:`CONTAINERS`).
    crf : int or None
        Constant rate factor (lower is better and larger); None picks a
        visually lossless one for the codec.
    preset : str or None
        Encoder speed preset (x264/x265 names: ultrafast ... veryslow),
        exactly as FFmpeg's; None: :data:`DEFAULT_PRESET`, with x264's
        diamond motion search and whole macroblocks between keyframes.
    """

    codec: str | None = None
    crf: int | None = None
    preset: str | None = None


def upright(pixels, rotation):
    """A decoded frame (H, W, 3) turned as the player shows it: `rotation` degrees counter-clockwise."""
    return np.ascontiguousarray(np.rot90(pixels, rotation // 90)) if rotation else pixels


def _in_thread(produce, size=_QUEUE):
    """Iterate over `produce()` run in a thread of its own, a few items ahead; its errors re-raised here."""
    items = queue.Queue(maxsize=size)
    done = object()
    stop = threading.Event()

    def run():
        try:
            for item in produce():
                while not stop.is_set():
                    try:
                        items.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            items.put(done)
        except BaseException as error:  # handed to the consumer, raised there
            items.put(error)

    thread = threading.Thread(target=run, name="bokehme-decode", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def _spare_cores():
    """The cores the frame workers leave this process, one at least: the decoder's threads, and the encoder's."""
    return max(1, len(usable_cores()) - FRAME_WORKERS)


def set_decoder_threads(stream):
    """Give a video stream's decoder the cores the frame workers leave, one at least.

    On two cores FFmpeg's frame threads only add CPU for the workers to
    lose; on more they keep a large clip's decoding ahead.  Every thread
    count decodes the same pixels.
    """
    stream.thread_type = "AUTO"
    stream.codec_context.thread_count = _spare_cores()


def rgb_pixels(frame):
    """A decoded frame as an (H, W, 3) uint8 RGB array, converted by its own tags.

    FFmpeg's swscale reads the frame's colour matrix and range (BT.709 as
    phones tag their clips, BT.601 studio range when untagged).  In the
    calling thread alone: swscale's slice threads are started anew for
    every frame and cost more than they share out; the pixels are the same.
    """
    return frame.to_ndarray(format="rgb24", threads=1)


def read_frames(path, info: ClipInfo) -> Iterator[Frame | Sound]:
    """The clip's frames, upright, and its audio packets, in file order, decoded ahead in a thread.

    Yields
    ------
    Frame or Sound
        Sounds are to be handed to :meth:`ClipWriter.copy` unchanged.

    Raises
    ------
    VideoError
        If the clip is damaged or cut short.
    """
    import av

    path = Path(path)

    def produce():
        with av.open(str(path)) as container:
            video = container.streams.video[0]
            set_decoder_threads(video)
            for packet in container.demux(video, *container.streams.audio):
                if packet.stream.type == "audio":
                    if packet.dts is not None:  # the demuxer's end-of-stream marker has none
                        yield Sound(packet, packet.stream.index)
                    continue
                for frame in packet.decode():
                    yield Frame(upright(rgb_pixels(frame), info.rotation), frame.pts)

    try:
        yield from _in_thread(produce)
    except (av.FFmpegError, OSError) as error:
        raise VideoError(path, f"cannot decode: {' '.join(str(error).split())}") from None


class ClipWriter:
    """Encodes rendered frames and copies audio into a new clip, in a thread of its own.

    Parameters
    ----------
    file : binary file object
        Seekable; the clip is written into it (see :func:`bokehme.io.atomic.atomic_write`).
    destination : path-like
        The output's path: its extension picks the container
        (:data:`CONTAINERS`), and errors name it.
    info : ClipInfo
        The source clip's: frame size, time base, rate and rotation are kept.
    source : path-like or None
        The source clip, whose audio stream(s) are copied; None for none.
    settings : EncoderSettings
    """

    def __init__(self, file, destination, info: ClipInfo, source, settings: EncoderSettings = EncoderSettings()):
        import av

        self._destination = Path(destination)
        container_format, default_codec = CONTAINERS[self._destination.suffix.lower()]
        encoder = _ENCODERS[settings.codec or default_codec]
        crf = settings.crf if settings.crf is not None else _DEFAULT_CRF[encoder]
        self._info = info
        self._output = av.open(file, "w", format=container_format)
        options = {"crf": str(crf)}
        if encoder in ("libx264", "libx265"):
            options["preset"] = settings.preset or DEFAULT_PRESET
            if settings.preset is None and encoder == "libx264":
                options["x264-params"] = _QUICK_ANALYSIS
            if container_format == "avi":
                options["bf"] = "0"  # AVI stores no timestamps: reordered frames would shift them
        elif encoder == "libvpx-vp9":
            options.update({"b": "0", "deadline": "realtime", "cpu-used": "8", "row-mt": "1"})
        self._video = self._output.add_stream(encoder, options=options)
        if encoder == "libx264":
            # The cores the frame workers leave: on two cores x264's frame
            # threads only cost CPU (docs/video.md, "The encoder's threads").
            self._video.codec_context.thread_count = _spare_cores()
        # Chroma subsampled by 2 needs even sides; odd ones keep full chroma.
        even = info.width % 2 == 0 and info.height % 2 == 0
        self._video.pix_fmt = "yuv420p" if even else "yuv444p"
        self._video.width, self._video.height = info.width, info.height
        # The frames' RGB becomes YUV by BT.601's studio-range matrix (OpenCV's
        # conversion below, FFmpeg's default for full chroma), said in the
        # stream: a player takes an HD clip that does not say for BT.709.
        # The primaries and transfer curve are those the pixels came in.
        self._video.codec_context.colorspace = _BT601
        self._video.codec_context.color_range = _STUDIO_RANGE
        self._video.codec_context.color_primaries = info.primaries
        self._video.codec_context.color_trc = info.transfer
        self._video.time_base = info.time_base
        self._video.codec_context.time_base = info.time_base
        self._video.codec_context.framerate = info.rate
        if info.rotation:
            self._video.set_display_rotation(info.rotation)
        self._audio = {}
        if source is not None:
            with av.open(str(source)) as original:
                for stream in original.streams.audio:
                    self._audio[stream.index] = self._output.add_stream_from_template(stream)
        # Audio packets wait until the first video packet has opened the encoder.
        self._held = []
        self._started = False
        self._items = queue.Queue(maxsize=_QUEUE)
        self._error = None
        self._thread = threading.Thread(target=self._run, name="bokehme-encode", daemon=True)
        self._thread.start()

    def write(self, pixels: np.ndarray, pts: int) -> None:
        """Queue one rendered frame, upright: (H, W, 3) uint8 sRGB."""
        self._put(("frame", pixels, pts))

    def copy(self, sound: Sound) -> None:
        """Queue one audio packet of the source, copied as it is."""
        self._put(("audio", sound, None))

    def close(self) -> None:
        """Encode what is queued, flush the encoder and finish the file."""
        self._put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        self._output.close()

    def abandon(self) -> None:
        """Stop encoding and let go of the output; what was written is to be thrown away."""
        if self._thread.is_alive():
            try:
                self._put(None)
            except BaseException:  # the encoder failed meanwhile: it has stopped
                pass
        self._thread.join()
        try:
            self._output.close()
        except Exception:  # the file is discarded either way
            pass

    def _put(self, item):
        while True:
            if self._error is not None:
                raise self._error
            try:
                self._items.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _run(self):
        import av

        try:
            while True:
                item = self._items.get()
                if item is None:
                    break
                kind, payload, pts = item
                if kind == "audio":
                    self._mux_audio(payload)
                else:
                    self._encode(payload, pts)
            self._mux(self._video.encode())
            for packet in self._held:
                self._output.mux(packet)
        except (av.FFmpegError, OSError, ValueError) as error:
            self._error = VideoError(self._destination, f"cannot encode: {' '.join(str(error).split())}")
        except BaseException as error:  # a bug: raised in the caller's thread, not lost in this one
            self._error = error

    def _encode(self, pixels, pts):
        import av

        coded = np.ascontiguousarray(np.rot90(pixels, -(self._info.rotation // 90)) if self._info.rotation else pixels)
        if self._video.pix_fmt == "yuv420p":
            # OpenCV's conversion takes the same BT.601 studio-range matrix
            # as FFmpeg's default, several times faster.
            frame = av.VideoFrame.from_ndarray(cv2.cvtColor(coded, cv2.COLOR_RGB2YUV_I420), format="yuv420p")
        else:
            frame = av.VideoFrame.from_ndarray(coded, format="rgb24")
        frame.pts = pts
        frame.time_base = self._info.time_base
        self._mux(self._video.encode(frame))

    def _mux(self, packets):
        for packet in packets:
            self._output.mux(packet)
        if packets and not self._started:
            self._started = True
            for held in self._held:
                self._output.mux(held)
            self._held = []

    def _mux_audio(self, sound):
        packet = sound.packet
        packet.stream = self._audio[sound.stream]
        if self._started:
            self._output.mux(packet)
        else:
            self._held.append(packet)
