"""The live camera loop: frames per second and milliseconds per stage, with a video file as the camera.

Usage::

    python benchmarks/live.py [--model selfie] [--frames 150] [--sizes 640x480,1280x720,1920x1080] [--record]

For each size it writes a clip (the person of ``benchmarks/video.py``,
filmed by a panning camera), opens it as ``bokehme live --camera FILE`` does
(every frame, in order) and runs the session into a sink that drops the
frames (a virtual webcam costs a copy; ``--record`` encodes them instead, as
``--output FILE``).  Printed: frames per second over the session (start-up
not counted), the CPU milliseconds per frame over all threads and the frame
workers' processes (the session with its start-up; two cores give 66 ms a
frame at 30 fps), how busy that kept the machine's cores and the mean
milliseconds per frame of each stage: waiting for the next frame, segment,
matte, render (with quantizing), and output (sending, in a thread of its own).
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from video import make_clip  # noqa: E402  (the same clips as the video benchmark; puts this checkout first)


class Drop:
    """A sink that takes frames and keeps nothing."""

    def send(self, pixels, captured):
        pass

    def close(self):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="selfie")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--sizes", default="640x480,1280x720,1920x1080")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()

    import torch

    from bokehme.imaging.threads import usable_cores
    from bokehme.io.atomic import atomic_write
    from bokehme.live.session import run_session
    from bokehme.live.sinks import Recording
    from bokehme.live.sources import open_source
    from bokehme.models.loading import load_segmenter
    from bokehme.options import Options
    from bokehme.video.renderer import FrameRenderer
    from bokehme.video.workers import cpu_seconds

    segmenter = load_segmenter(args.model, args.weights)
    print(f"model {args.model}, {args.frames} frames a size, torch threads {torch.get_num_threads()}, "
          f"{'recording' if args.record else 'frames dropped after output'}")
    print(f"{'size':>10} {'fps':>6} {'cpu':>6} {'busy':>5}  " + " ".join(f"{stage:>8}" for stage in
                                                    ("wait", "segment", "matte", "render", "output")) + "  ms/frame")
    with tempfile.TemporaryDirectory() as scratch:
        for size in args.sizes.split(","):
            width, height = (int(v) for v in size.split("x"))
            clip = Path(scratch) / f"camera{size}.mp4"
            make_clip(clip, width, height, args.frames)
            source = open_source(str(clip))
            renderer = FrameRenderer(Options(), segmenter)
            start_cpu = time.process_time() + cpu_seconds()
            try:
                if args.record:
                    holder = {}

                    def record(file):
                        recorder = Recording(file, Path(scratch) / "call.mp4", width, height, 30)
                        holder["stats"] = run_session(source, renderer, [recorder])
                        recorder.close()

                    atomic_write(Path(scratch) / "call.mp4", record)
                    stats = holder["stats"]
                else:
                    stats = run_session(source, renderer, [Drop()])
            finally:
                source.close()
            cpu = 1000 * (time.process_time() + cpu_seconds() - start_cpu) / max(stats.frames, 1)
            ms = stats.milliseconds()
            busy = 100 * cpu * stats.frames / 1000 / max(stats.seconds, 1e-9) / len(usable_cores())
            print(f"{size:>10} {stats.fps:6.1f} {cpu:6.1f} {busy:4.0f}%  " + " ".join(f"{ms.get(stage, 0):8.1f}" for stage in
                                                              ("wait", "segment", "matte", "render", "output")))


if __name__ == "__main__":
    main()
