"""Per-stage timing of the rendering core on a large synthetic photo.

Prints, for each stage, the median wall time over a few repeats on as many
threads as torch is given (the product runs on 2 cores) and the median CPU
time of the process.  On a busy machine the wall time of multi-threaded
ops is erratic; ``--threads 1`` then gives CPU times that are the wall
times of an idle single core.

Run: python benchmarks/render_speed.py [--megapixels 12] [--threads 2]
"""

import argparse
import resource
import time

import numpy as np
import torch
from skimage import data, transform

import checkout  # noqa: F401  (first: this checkout's bokehme, not the installed one)
from bokehme.imaging.colour import srgb_to_linear
from bokehme.imaging.composite import render_bokeh
from bokehme.imaging.lens import lens_blur
from bokehme.imaging.matte import refine_alpha


def timed(function, repeats):
    """The result, and median wall and CPU seconds, of ``function()``."""
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = function()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return result, (float(np.median(wall)), float(np.median(cpu)))


def show(name, seconds):
    wall, cpu = seconds
    print(f"{name:34s} {wall * 1000:8.0f} ms wall {cpu * 1000:8.0f} ms cpu")


def synthetic_photo(megapixels):
    """A textured 4:3 photo and a 513 px subject probability."""
    width = int(round(np.sqrt(megapixels * 1e6 * 4 / 3)))
    height = width * 3 // 4
    tile = data.astronaut().astype(np.float32) / 255
    reps = (-(-height // tile.shape[0]), -(-width // tile.shape[1]), 1)
    image = np.ascontiguousarray(np.tile(tile, reps)[:height, :width])
    low = (513, 513 * 3 // 4)[::-1]
    yy, xx = np.mgrid[:low[0], :low[1]].astype(np.float32)
    blob = ((yy - low[0] * 0.6) / (low[0] * 0.45)) ** 2 + ((xx - low[1] / 2) / (low[1] * 0.2)) ** 2
    probability = transform.resize((blob < 1).astype(np.float32), low, order=1)
    return image, probability.astype(np.float32)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", type=float, default=12)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    image, probability = synthetic_photo(args.megapixels)
    print(f"{image.shape[1]}x{image.shape[0]} ({image.shape[0] * image.shape[1] / 1e6:.1f} MP), "
          f"{args.threads} threads, median of {args.repeats}")
    alpha, t_refine = timed(lambda: refine_alpha(image, probability), args.repeats)
    show("refine_alpha", t_refine)
    for radius in (10, 40, 80):
        _, t = timed(lambda: render_bokeh(image, alpha, radius), args.repeats)
        show(f"render_bokeh radius {radius}", t)
        if radius == 40:
            t_render = t
    _, t = timed(lambda: render_bokeh(image, alpha, 40, blades=6, highlights=1.0),
                 args.repeats)
    show("render_bokeh 40, 6 blades, highl.", t)
    linear = srgb_to_linear(image)
    for radius in (10, 80):
        _, t = timed(lambda: lens_blur(linear, radius), args.repeats)
        show(f"lens_blur radius {radius}", t)
    show("refine_alpha + render_bokeh 40", (t_refine[0] + t_render[0],
                                             t_refine[1] + t_render[1]))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'peak resident memory':34s} {peak:8.0f} MiB "
          f"(the photo itself: {image.nbytes / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main()
