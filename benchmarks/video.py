"""Video files: frames per second end to end, milliseconds per stage, and flicker.

Usage::

    python benchmarks/video.py [--model selfie] [--weights FILE] [--frames 90] [--sizes 640x480,1280x720,1920x1080]

For each size it writes a clip (scikit-image's astronaut, a real photo of a
person, filmed by a slowly panning camera with sensor noise, H.264, with a
sound track), then
renders it with :class:`bokehme.video.job.VideoJob` as ``bokehme clip.mp4``
does and prints: frames per second end to end (decoding, rendering and
encoding overlapped, as the command runs), the CPU milliseconds per frame
over all threads and the frame workers' processes (on a shared machine
steadier than the frame rate, and two cores give 66 ms a frame at 30
fps), and the milliseconds per frame of
each stage: decoding alone, encoding alone (each timed in a pass of its own),
and the renderer's segment / matte / render.  Then the flicker figure: the
mean absolute frame-to-frame change of the subject's alpha on a still clip
(only sensor noise changes) and on the moving clip, steadied and raw.
"""

import argparse
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

import checkout  # noqa: F401  (first: this checkout's bokehme, not the installed one)


def make_clip(path, width, height, frames, motion=True):
    """A real photo of a person filmed by a camera that pans slowly (or stands still), with sound.

    scikit-image's astronaut, enlarged to cover the frame with room to pan,
    with sensor noise on every frame, H.264 at 30 frames per second.
    """
    import av
    from skimage import data

    from bokehme.imaging.resample import resize_image

    photo = data.astronaut().astype(np.float32) / 255
    # The photo as wide as the frame and 15% more, so the camera can move
    # across it; framed from the top, as a camera frames a face.
    scene = resize_image(photo, (int(width * 1.15), int(width * 1.15)))[0].permute(1, 2, 0).numpy()
    spare_y, spare_x = min(scene.shape[0] - height, int(0.15 * height)), scene.shape[1] - width
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", options={"crf": "18", "preset": "veryfast"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.time_base = video.codec_context.time_base = Fraction(1, 30)
        video.codec_context.framerate = Fraction(30)
        audio = out.add_stream("aac", rate=48000)
        packets = []
        tone = np.sin(2 * np.pi * 220 * np.arange(48000 * frames // 30) / 48000).astype(np.float32)
        for start in range(0, len(tone), 1024):
            sound = av.AudioFrame.from_ndarray(0.1 * tone[None, start:start + 1024], format="fltp", layout="mono")
            sound.sample_rate, sound.pts = 48000, start
            packets += audio.encode(sound)
        packets += audio.encode()
        for index in range(frames):
            phase = index / max(frames - 1, 1) if motion else 0.5
            top, left = round(spare_y * phase), round(spare_x * (0.5 + 0.5 * np.sin(2 * np.pi * phase)))
            frame = scene[top:top + height, left:left + width] + rng.normal(0, 0.01, (height, width, 3))
            picture = av.VideoFrame.from_ndarray((np.clip(frame, 0, 1) * 255 + 0.5).astype(np.uint8), format="rgb24")
            picture.pts, picture.time_base = index, video.time_base
            packets += video.encode(picture)
        packets += video.encode()
        out.mux(packets)


def decoded_frames(path):
    from bokehme.video.clips import probe
    from bokehme.video.streams import Frame, read_frames

    return [item.pixels for item in read_frames(path, probe(path)) if isinstance(item, Frame)]


def renderer_stages(segmenter, path):
    """Milliseconds per frame of the renderer's segment, matte and render stages."""
    from bokehme.options import Options
    from bokehme.video.renderer import FrameRenderer

    renderer = FrameRenderer(Options(), segmenter)
    for pixels in decoded_frames(path):
        renderer.render(pixels)
    return {stage: 1000 * seconds / renderer.frames for stage, seconds in renderer.seconds.items()}


def stage_times(path):
    """Milliseconds per frame of decoding alone and of encoding alone."""
    from bokehme.video.clips import probe
    from bokehme.video.streams import ClipWriter

    info = probe(path)
    start = time.perf_counter()
    decoded = decoded_frames(path)
    decode = (time.perf_counter() - start) / len(decoded)
    with tempfile.TemporaryFile() as file:
        writer = ClipWriter(file, Path("out.mp4"), info, None)
        start = time.perf_counter()
        for index, pixels in enumerate(decoded):
            writer.write(pixels, index)
        writer.close()
        encode = (time.perf_counter() - start) / len(decoded)
    return 1000 * decode, 1000 * encode


def flicker(alphas):
    return float(np.mean([np.abs(b - a).mean() for a, b in zip(alphas, alphas[1:])]))


def flicker_figures(segmenter, path):
    """Mean absolute alpha change between frames: steadied (the renderer) and raw (each frame alone)."""
    from bokehme.imaging.matte import refine_alpha
    from bokehme.options import Options
    from bokehme.video.renderer import FrameRenderer

    renderer = FrameRenderer(Options(), segmenter)
    steady, raw = [], []
    for pixels in decoded_frames(path):
        steady.append(renderer.render(pixels).alpha)
        raw.append(refine_alpha(pixels / np.float32(255), segmenter.subject_probability(pixels, "person")))
    return flicker(steady), flicker(raw)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="selfie")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--sizes", default="640x480,1280x720,1920x1080")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import torch

    from bokehme.job import Target
    from bokehme.models.loading import load_segmenter
    from bokehme.options import Options
    from bokehme.video.job import VideoJob
    from bokehme.video.worker_processes import start_server
    from bokehme.video.workers import cpu_seconds

    start_server()  # as the command does: the frame workers' server starts while the model loads
    segmenter = load_segmenter(args.model, args.weights)
    print(f"model {args.model} ({segmenter.name}), {args.frames} frames a clip, torch threads "
          f"{torch.get_num_threads()}, best of {args.repeats}")
    print(f"{'size':>10} {'fps':>6} {'cpu':>6} {'decode':>7} {'segment':>8} {'matte':>6} {'render':>7} {'encode':>7}  ms/frame")
    with tempfile.TemporaryDirectory() as scratch:
        for size in args.sizes.split(","):
            width, height = (int(v) for v in size.split("x"))
            clip = Path(scratch) / f"clip{size}.mp4"
            make_clip(clip, width, height, args.frames)
            runs, cpu = [], []
            for _ in range(args.repeats):
                start, start_cpu = time.perf_counter(), time.process_time() + cpu_seconds()
                VideoJob(Options(), segmenter, processes=True).run(clip, Target(Path(scratch) / f"out{size}.mp4"))
                runs.append(time.perf_counter() - start)
                cpu.append(time.process_time() + cpu_seconds() - start_cpu)
            decode, encode = stage_times(clip)
            stages = renderer_stages(segmenter, clip)
            print(f"{size:>10} {args.frames / min(runs):6.1f} {1000 * min(cpu) / args.frames:6.1f} {decode:7.1f} "
                  f"{stages['segment']:8.1f} {stages['matte']:6.1f} {stages['render']:7.1f} {encode:7.1f}")
        still = Path(scratch) / "still.mp4"
        make_clip(still, 640, 480, 60, motion=False)
        moving = Path(scratch) / "clip640x480.mp4"
        if not moving.exists():
            make_clip(moving, 640, 480, 60)
        for name, path in (("still clip", still), ("moving clip", moving)):
            steady, raw = flicker_figures(segmenter, path)
            print(f"flicker, {name}: {steady:.4f} steadied, {raw:.4f} each frame alone "
                  f"(mean |alpha change| per frame, alpha in [0, 1])")


if __name__ == "__main__":
    main()
