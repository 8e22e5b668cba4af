"""The per-clip job: a video file in, the same clip with its background blurred or replaced out.

Frame count, frame size, timestamps (variable frame rates included), the
display rotation a phone records and the audio stream(s) are kept; frames
are rendered as photos are (:class:`~bokehme.video.renderer.FrameRenderer`)
and the clip is written atomically, as photos are.
"""

from __future__ import annotations

from collections import deque
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..io.atomic import atomic_write
from ..options import Options
from .clips import probe
from .renderer import FrameRenderer
from .streams import ClipWriter, EncoderSettings, Frame, read_frames

__all__ = ["VideoJob"]


@dataclass
class VideoJob:
    """Everything but the clip: options, the segmenter, and how frames are encoded.

    Parameters
    ----------
    options : Options
    segmenter : bokehme.models.Segmenter
    encoder : EncoderSettings
    every : int
        Segment every `every`-th frame; the frames between reuse its subject.
    background : callable, optional
        ``background(shape, index) -> (H, W, 3) float32`` the new background
        of frame `index`, replacing the blurred one (see
        :mod:`bokehme.video.backdrop`).
    processes : bool
        Render frames in worker processes rather than threads (see
        :meth:`~bokehme.video.renderer.FrameRenderer.render_frames`): faster
        where decoding and encoding share the cores, once the workers have
        started; the fork server they come from is best started early
        (:func:`~bokehme.video.worker_processes.start_server`), and a script that runs
        the job guards its work under ``if __name__ == "__main__":``.
    warn : callable, optional
        Told, once a job, when a clip's frames rendered in threads rather
        than processes: ``warn(SharedMemoryShort)``.
    """

    options: Options = field(default_factory=Options)
    segmenter: Any = None
    encoder: EncoderSettings = field(default_factory=EncoderSettings)
    every: int = 1
    background: Callable | None = None
    processes: bool = False
    warn: Callable | None = None
    _warned: bool = field(default=False, init=False, repr=False)

    def run(self, source, target, progress: Callable[[int, int], None] | None = None) -> None:
        """Render the clip at `source` into ``target.destination``.

        Parameters
        ----------
        source : path-like
        target : bokehme.job.Target
            Only the destination is written; its extension picks the container.
        progress : callable, optional
            ``progress(frames_done, frames_total)`` after each frame; the
            total is 0 when the container does not state it.

        Raises
        ------
        bokehme.video.clips.VideoError
            If the clip cannot be decoded (damaged, cut short) or encoded.
        bokehme.io.PhotoError
            If the output cannot be written; nothing is left behind.
        """
        source, destination = Path(source), Path(target.destination)
        info = probe(source)
        renderer = FrameRenderer(self.options, self.segmenter, self.every)
        timestamps = deque()

        def frames(writer):
            for item in read_frames(source, info):
                if isinstance(item, Frame):
                    backdrop = None if self.background is None else self.background(item.pixels.shape[:2],
                                                                                     renderer.frames)
                    timestamps.append(item.pts)
                    yield item.pixels, backdrop
                else:  # the muxer interleaves audio by its own timestamps
                    writer.copy(item)

        def write(file):
            writer = ClipWriter(file, destination, info, source, self.encoder)
            try:
                # Closed here, whatever happens: the workers and their shared
                # memory do not outlive the clip in a kept traceback.
                with closing(renderer.render_frames(frames(writer), processes=self.processes,
                                                    alphas=False)) as rendered_frames:
                    for done, rendered in enumerate(rendered_frames, 1):
                        writer.write(rendered.pixels, timestamps.popleft())
                        if progress is not None:
                            progress(done, info.frames)
            except BaseException:
                writer.abandon()
                raise
            writer.close()

        atomic_write(destination, write)
        if renderer.shared_memory_short is not None and self.warn is not None and not self._warned:
            self._warned = True
            self.warn(renderer.shared_memory_short)
