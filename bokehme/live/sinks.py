"""Where live frames go: a virtual webcam, a preview window, a recording."""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..video.clips import ClipInfo
from ..video.streams import ClipWriter, EncoderSettings

__all__ = ["SinkError", "VirtualCamera", "Preview", "Recording", "virtual_camera_help"]


class SinkError(Exception):
    """A sink cannot be used: ``str(error)`` says why, in one line."""


def virtual_camera_help() -> str:
    """What to install for a virtual webcam on this system."""
    if sys.platform.startswith("linux"):
        return "install v4l2loopback (e.g. apt install v4l2loopback-dkms) and load it: modprobe v4l2loopback"
    return "install OBS Studio (its virtual camera is the backend) and start its virtual camera once"


class VirtualCamera:
    """Frames sent to a virtual webcam (pyvirtualcam: v4l2loopback on Linux, OBS elsewhere)."""

    def __init__(self, width, height, fps, device=None):
        try:
            import pyvirtualcam
        except ImportError:
            raise SinkError("no virtual-camera support installed: pip install 'bokehme[live]'") from None
        try:
            self._camera = pyvirtualcam.Camera(width=width, height=height, fps=fps, device=device)
        except RuntimeError as error:
            found = " ".join(str(error).split()).split(". ")[0].replace("'v4l2loopback' backend: ", "")
            raise SinkError(f"no virtual camera ({found}); {virtual_camera_help()}") from None
        self.device = self._camera.device

    def send(self, pixels: np.ndarray, captured: float) -> None:
        self._camera.send(pixels)

    def close(self) -> None:
        self._camera.close()


class Preview:
    """Frames shown in a window; closing it (or pressing q or Esc) stops the session."""

    title = "bokehme"

    def __init__(self):
        import cv2

        self._cv2 = cv2
        try:
            cv2.namedWindow(self.title, cv2.WINDOW_NORMAL)
        except cv2.error:
            raise SinkError("cannot open a preview window (no display?)") from None
        self.closed = False

    def send(self, pixels: np.ndarray, captured: float) -> None:
        cv2 = self._cv2
        cv2.imshow(self.title, pixels[..., ::-1])
        key = cv2.waitKey(1) & 0xFF
        if key in (ord("q"), 27) or cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            self.closed = True

    def close(self) -> None:
        self._cv2.destroyWindow(self.title)


class Recording:
    """Frames encoded into a video file, stamped with their capture times.

    Parameters
    ----------
    file : binary file object
        Seekable; see :func:`bokehme.io.atomic.atomic_write`.
    destination : path-like
        The recording's path; its extension picks the container.
    width, height : int
    fps : float
        The nominal rate; the frames' own times are kept.
    encoder : EncoderSettings
    """

    def __init__(self, file, destination, width, height, fps, encoder=EncoderSettings()):
        info = ClipInfo(width=width, height=height, frames=0, rate=Fraction(fps).limit_denominator(1000),
                        time_base=Fraction(1, 1000), rotation=0, audio=0)
        self._writer = ClipWriter(file, Path(destination), info, None, encoder)
        self._start = None
        self._last = -1

    def send(self, pixels: np.ndarray, captured: float) -> None:
        if self._start is None:
            self._start = captured
        # Milliseconds since the first frame, strictly increasing.
        pts = max(self._last + 1, round((captured - self._start) * 1000))
        self._last = pts
        self._writer.write(pixels, pts)

    def close(self) -> None:
        self._writer.close()

    def abandon(self) -> None:
        self._writer.abandon()
