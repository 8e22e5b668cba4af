"""New backgrounds: a colour, a picture, or a clip that plays along, looping.

Each backdrop is a callable ``backdrop(shape, index) -> (H, W, 3) float32``
giving the background of frame `index` (0 for a photo) at the frame's size:
a picture or clip is scaled to cover the frame and centred.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..imaging.resample import cover
from ..io.photo import PhotoError
from ..io.read import read_photo
from .clips import is_video

__all__ = ["BackdropError", "parse_colour", "backdrop_from", "ColourBackdrop", "PictureBackdrop", "ClipBackdrop"]


class BackdropError(ValueError):
    """A backdrop cannot be used: ``str(error)`` says why, in one line."""


def parse_colour(text: str):
    """``"#RRGGBB"`` (or ``"#RGB"``) as sRGB floats in [0, 1]; None if `text` is no colour."""
    match = re.fullmatch(r"#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})", text.strip())
    if match is None:
        return None
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(digit * 2 for digit in digits)
    return tuple(int(digits[i:i + 2], 16) / 255 for i in (0, 2, 4))


class ColourBackdrop:
    """A plain colour, sRGB in [0, 1]."""

    def __init__(self, colour):
        self.colour = np.asarray(colour, np.float32)

    def __call__(self, shape, index=0):
        return np.broadcast_to(self.colour, tuple(shape) + (3,)).copy()


class PictureBackdrop:
    """A still picture, covering the frame; scaled once per frame size."""

    def __init__(self, pixels):
        self.pixels = np.asarray(pixels, np.float32)
        self._covered = {}

    def __call__(self, shape, index=0):
        shape = tuple(shape)
        if shape not in self._covered:
            self._covered = {shape: cover(self.pixels, shape)}
        return self._covered[shape].copy()


class ClipBackdrop:
    """A clip's frames in turn, covering the frame, from the start again when it ends."""

    def __init__(self, path):
        import av

        self.path = Path(path)
        try:
            with av.open(str(self.path)) as container:
                if not container.streams.video:
                    raise BackdropError(f"{self.path}: holds no video stream")
        except (av.FFmpegError, OSError) as error:
            raise BackdropError(f"{self.path}: cannot decode: {' '.join(str(error).split())}") from None
        self._frames = None
        self._container = None
        self._position = 0  # frames handed out since the last start

    def _next_frame(self):
        import av

        for _ in range(2):  # at the end, once from the start again
            if self._frames is None:
                self._container = av.open(str(self.path))
                self._frames = self._container.decode(video=0)
            frame = next(self._frames, None)
            if frame is not None:
                return frame.to_ndarray(format="rgb24").astype(np.float32) / 255
            self._container.close()
            self._frames = None
        raise BackdropError(f"{self.path}: holds no decodable frame")

    def __call__(self, shape, index=0):
        if index < self._position:  # a new clip or photo: from the start
            if self._container is not None:
                self._container.close()
            self._frames, self._position = None, 0
        while True:
            frame = self._next_frame()
            self._position += 1
            if self._position > index:
                return cover(frame, tuple(shape))


def backdrop_from(spec: str):
    """A backdrop from the command line's ``--background`` value: ``#RRGGBB`` or a picture or clip file.

    Raises
    ------
    BackdropError
        If `spec` is neither a colour nor a readable picture or clip.
    """
    colour = parse_colour(spec)
    path = Path(spec)
    if colour is not None and not path.exists():
        return ColourBackdrop(colour)
    if not path.is_file():
        raise BackdropError(f"{spec}: neither a colour (#RRGGBB) nor a picture or clip file")
    if is_video(path):
        return ClipBackdrop(path)
    try:
        return PictureBackdrop(read_photo(path).pixels)
    except PhotoError as error:
        raise BackdropError(str(error)) from None
