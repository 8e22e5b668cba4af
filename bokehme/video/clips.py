"""Video files: which files are clips, what a clip holds, and its errors."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ..io.photo import PhotoError

__all__ = ["VIDEO_EXTENSIONS", "VideoError", "ClipInfo", "is_video", "probe"]

#: Extensions of the containers bokehme reads and writes.
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi"})

# ISO-BMFF brands of video files (the ``ftyp`` box; HEIF photos use the same box).
_VIDEO_BRANDS = (b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"qt  ",
                 b"M4V ", b"M4VP", b"MSNV", b"3gp4", b"3gp5", b"3gp6", b"3g2a", b"dash", b"mmp4")


class VideoError(PhotoError):
    """A clip could not be read or written; ``str(error)`` is one line naming the file."""


@dataclass(frozen=True)
class ClipInfo:
    """What a clip's video stream holds, as read from its container and first frame.

    Attributes
    ----------
    width, height : int
        Coded frame size in pixels (before the display rotation).
    frames : int
        Frame count the container states; 0 when it does not say.
    rate : Fraction
        Average frame rate.
    time_base : Fraction
        Unit of the frames' timestamps.
    rotation : int
        Degrees the player turns each frame counter-clockwise (a phone's
        portrait clips say 90 or -90), one of -90, 0, 90, 180.
    audio : int
        Audio streams, copied as they are.
    primaries, transfer : int
        The colour primaries and transfer curve the clip says its pixels
        are in (FFmpeg's ``AVCOL_PRI_*`` and ``AVCOL_TRC_*`` codes; 2 where
        it says nothing): a rendering keeps them.
    """

    width: int
    height: int
    frames: int
    rate: Fraction
    time_base: Fraction
    rotation: int
    audio: int
    primaries: int = 2
    transfer: int = 2


def is_video(path, head: bytes | None = None) -> bool:
    """Whether a file is a clip: by its extension, else by its first bytes.

    Parameters
    ----------
    path : path-like
    head : bytes, optional
        The file's first 16 bytes, if already read; without them only the
        extension decides.
    """
    if Path(path).suffix.lower() in VIDEO_EXTENSIONS:
        return True
    if not head:
        return False
    return ((head[4:8] == b"ftyp" and head[8:12] in _VIDEO_BRANDS)
            or head[:4] == b"\x1aE\xdf\xa3"  # Matroska / WebM (EBML)
            or (head[:4] == b"RIFF" and head[8:12] == b"AVI "))


def probe(path) -> ClipInfo:
    """Read a clip's video stream description and the rotation of its first frame.

    Raises
    ------
    VideoError
        If the file holds no decodable video stream.
    """
    import av

    path = Path(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(path, "holds no video stream")
            stream = container.streams.video[0]
            first = next(container.decode(stream), None)
            if first is None:
                raise VideoError(path, "holds no decodable frame")
            rate = stream.average_rate or stream.guessed_rate or Fraction(30)
            return ClipInfo(width=first.width, height=first.height, frames=stream.frames or 0,
                            rate=Fraction(rate), time_base=Fraction(stream.time_base),
                            rotation=int(round(first.rotation / 90)) * 90 if first.rotation else 0,
                            audio=len(container.streams.audio), primaries=first.color_primaries,
                            transfer=first.color_trc)
    except VideoError:
        raise
    except (av.FFmpegError, OSError, ValueError) as error:
        raise VideoError(path, f"cannot decode: {' '.join(str(error).split())}") from None
