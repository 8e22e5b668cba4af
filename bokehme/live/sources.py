"""Where live frames come from: a camera, a stream, or a video file standing in for one.

A live source (a camera, a network stream) is read in a thread that keeps
only the newest frame, so the picture never lags behind when rendering a
frame takes longer than the camera's interval; a file source hands over
every frame, in order.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..video.streams import rgb_pixels, set_decoder_threads, upright

__all__ = ["SourceError", "LiveFrame", "Source", "open_source"]


class SourceError(Exception):
    """A source cannot be opened or read.

    Attributes
    ----------
    source : str
        The camera, stream or file as the user named it.
    reason : str
        Why, in a few words.
    camera : bool
        The source is a camera device.
    """

    def __init__(self, source, reason, camera=False):
        self.source, self.reason, self.camera = str(source), " ".join(str(reason).split()), camera
        super().__init__(f"{self.source}: {self.reason}")


class LiveFrame(NamedTuple):
    """A captured frame: (H, W, 3) uint8 RGB, upright, and when it was captured (monotonic seconds)."""

    pixels: np.ndarray
    captured: float


def _camera_input(index: int, size, fps):
    """What FFmpeg opens for camera `index` on this system, its input format and options."""
    options = {}
    if size:
        options["video_size"] = f"{size[0]}x{size[1]}"
    if fps:
        options["framerate"] = str(fps)
    if sys.platform.startswith("linux"):
        return f"/dev/video{index}", "v4l2", options
    if sys.platform == "darwin":
        return str(index), "avfoundation", options
    return f"video={index}", "dshow", options


class Source:
    """Frames from a camera, stream or file, decoded in a thread of its own.

    Use :func:`open_source`.  Iterating yields :class:`LiveFrame`; a live
    source skips to the newest frame whenever the consumer falls behind.

    Attributes
    ----------
    live : bool
        A camera or stream (newest frame only), not a file (every frame).
    rate : float
        Frames per second the source states.
    dropped : int
        Frames a live source skipped because the consumer was busy.
    """

    def __init__(self, name, container, live, size, camera):
        self.name, self.live, self._container, self._size, self._camera = name, live, container, size, camera
        stream = container.streams.video[0]
        set_decoder_threads(stream)
        self.rate = float(stream.average_rate or stream.guessed_rate or 30)
        self.dropped = 0
        self._condition = threading.Condition()
        self._frames = []  # waiting frames: at most one when live
        self._finished = False
        self._error = None
        self._stopping = False
        self._thread = threading.Thread(target=self._grab, name="bokehme-capture", daemon=True)
        self._thread.start()

    def _grab(self):
        import av

        try:
            for frame in self._container.decode(video=0):
                if self._size:
                    frame = frame.reformat(width=self._size[0], height=self._size[1], threads=1)
                pixels = upright(rgb_pixels(frame), int(round((frame.rotation or 0) / 90)) * 90)
                item = LiveFrame(pixels, time.monotonic())
                with self._condition:
                    if self.live:
                        self.dropped += len(self._frames)
                        self._frames = [item]
                    else:
                        while len(self._frames) >= 2 and not self._stopping:
                            self._condition.wait()
                        self._frames.append(item)
                    self._condition.notify_all()
                    if self._stopping:
                        return
        except (av.FFmpegError, OSError) as error:
            self._error = SourceError(self.name, f"cannot read: {' '.join(str(error).split())}", self._camera)
        finally:
            with self._condition:
                self._finished = True
                self._condition.notify_all()

    def frame_size(self):
        """Width and height of the frames, from the first one (waited for, not taken); None if there is none."""
        with self._condition:
            while not self._frames and not self._finished:
                self._condition.wait()
            if not self._frames:
                if self._error is not None:
                    raise self._error
                return None
            height, width = self._frames[0].pixels.shape[:2]
            return width, height

    def __iter__(self):
        while True:
            with self._condition:
                while not self._frames and not self._finished:
                    self._condition.wait()
                if self._frames:
                    item = self._frames.pop(0)
                    self._condition.notify_all()
                elif self._error is not None:
                    raise self._error
                else:
                    return
            yield item

    def close(self):
        """Stop reading and let go of the device or file."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        self._thread.join(timeout=5)
        self._container.close()


def open_source(spec: str, *, size=None, fps=None) -> Source:
    """Open a camera (its index, ``"0"``), a stream URL or a video file.

    Parameters
    ----------
    spec : str
        ``"0"``, ``"1"``... for a camera; ``rtsp://``, ``http://``... for a
        stream; anything else is a file.
    size : (int, int), optional
        Width and height wanted: asked of a camera, and every frame scaled
        to it.
    fps : float, optional
        Frame rate asked of a camera.

    Raises
    ------
    SourceError
        No such camera, or a stream or file that cannot be opened.
    """
    import av

    camera = spec.isdigit()
    if camera:
        url, input_format, options = _camera_input(int(spec), size, fps)
        if input_format == "v4l2" and not os.path.exists(url):
            raise SourceError(spec, f"no such camera ({url} does not exist)", camera=True)
        live = True
    else:
        url, input_format, options = spec, None, {}
        live = "://" in spec
        if not live and not Path(spec).is_file():
            raise SourceError(spec, "no such file", camera=False)
    try:
        container = av.open(url, format=input_format, options=options, timeout=10)
        if not container.streams.video:
            container.close()
            raise SourceError(spec, "holds no video stream", camera)
    except (av.FFmpegError, OSError) as error:
        raise SourceError(spec, f"cannot open: {' '.join(str(error).split())}", camera) from None
    return Source(spec, container, live, size, camera)
