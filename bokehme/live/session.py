"""A live session: capture, rendering and output overlapped, measured stage by stage."""

from __future__ import annotations

import queue
import threading
import time
from collections import defaultdict, deque
from contextlib import closing
from dataclasses import dataclass, field

__all__ = ["LiveStats", "run_session"]


@dataclass
class LiveStats:
    """What a session did.

    Attributes
    ----------
    frames : int
        Frames rendered and sent.
    seconds : float
        From the first frame captured to the last sent.
    dropped : int
        Frames a live source skipped because rendering was busy.
    stages : dict of str to float
        Seconds spent in each stage over the session: ``"wait"`` (for the
        next frame), ``"segment"``, ``"matte"``, ``"render"``, ``"output"``.
    interrupted : bool
        Ctrl-C (or a signal turned into it) ended the session.
    """

    frames: int = 0
    seconds: float = 0.0
    dropped: int = 0
    interrupted: bool = False
    stages: dict = field(default_factory=lambda: defaultdict(float))

    @property
    def fps(self) -> float:
        """Frames per second achieved."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def milliseconds(self) -> dict:
        """Mean milliseconds per frame of each stage."""
        return {stage: 1000 * total / max(self.frames, 1) for stage, total in self.stages.items()}


def run_session(source, renderer, sinks, *, frames=None, background=None, stop=None) -> LiveStats:
    """Render frames from `source` into every sink until it ends, `frames` are done, or `stop` is set.

    Parameters
    ----------
    source : bokehme.live.sources.Source
    renderer : bokehme.video.renderer.FrameRenderer
    sinks : list
        Objects with ``send(pixels, captured)`` and ``close()``; a sink with
        a true ``closed`` attribute (a closed preview window) ends the session.
    frames : int, optional
        Stop after this many frames.
    background : callable, optional
        ``background(shape, index)``: a new background for each frame.
    stop : threading.Event, optional
        Set from elsewhere (a signal handler) to end the session cleanly.

    Returns
    -------
    LiveStats
        Ctrl-C ends the session cleanly: the frames rendered are sent and
        ``interrupted`` is set.
    """
    stats = LiveStats()
    stop = stop or threading.Event()
    # Rendered frames waiting for output: one for a live source (the newest
    # wins), a few for a file, which loses none.
    outbox = queue.Queue(maxsize=1 if source.live else 4)
    failure = []

    def output():
        try:
            while True:
                item = outbox.get()
                if item is None:
                    return
                started = time.perf_counter()
                for sink in sinks:
                    sink.send(*item)
                stats.stages["output"] += time.perf_counter() - started
        except BaseException as error:  # raised again in the rendering thread
            failure.append(error)
            stop.set()

    writer = threading.Thread(target=output, name="bokehme-output", daemon=True)
    writer.start()
    captured, first = deque(), []

    def capture():
        waited = time.perf_counter()
        for frame in source:
            now = time.perf_counter()
            stats.stages["wait"] += now - waited
            if not first:
                first.append(now)
            captured.append(frame.captured)
            yield frame.pixels, None if background is None else background(frame.pixels.shape[:2], renderer.frames)
            waited = time.perf_counter()

    try:
        # Rendering in processes: the loop's own threads (capture, output)
        # are light, and two frames' rendering no longer share one lock.
        # The picture alone is sent, so the alphas are not passed back.
        with closing(renderer.render_frames(capture(), processes=True, alphas=False)) as rendered_frames:
            for rendered in rendered_frames:
                if source.live:
                    try:  # the output is behind: the older frame gives way
                        outbox.get_nowait()
                    except queue.Empty:
                        pass
                outbox.put((rendered.pixels, captured.popleft()))
                stats.frames += 1
                if stop.is_set() or (frames and stats.frames >= frames) or any(getattr(s, "closed", False)
                                                                               for s in sinks):
                    break
    except KeyboardInterrupt:  # the way a live session ends: what was rendered is sent
        stats.interrupted = True
    finally:
        while writer.is_alive():
            try:
                outbox.put(None, timeout=0.1)
                break
            except queue.Full:
                continue
        writer.join()
        stats.seconds = time.perf_counter() - first[0] if first else 0.0
        stats.dropped = source.dropped
        for stage in ("segment", "matte", "render"):
            stats.stages[stage] = renderer.seconds[stage]
    if failure:
        raise failure[0]
    return stats
