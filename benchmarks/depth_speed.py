"""Speed of the depth-aware blur against the two-plane (subject mask) blur.

On the 12 MP iPhone Portrait photo of ``../shared/photos`` (or that photo
enlarged ``--scale`` times on each side, with the phone's same depth map), at
the same largest radius, times:

* two-plane: ``imaging.composite.render_bokeh`` with a soft subject alpha (the pug's
  depth band, refined by ``imaging.matte.refine_alpha`` as a segmenter's would be);
* depth: ``imaging.depth_render.render_depth`` with the disparity already at full size;
* depth + upsample: the same from the phone's 768x576 map, including
  ``imaging.depth_map.upsample_disparity``;

and then the whole photo through ``bokehme.render`` both ways, the dog
found by DeepLabV3-MobileNetV2 (``../shared/models``) in both.

Each is run ``REPEATS`` times in turns; the table gives the best and the
median seconds and the ratio of the best times to the two-plane path
(target: at most 2, at 12 MP and at 48 MP), the median CPU seconds (all
threads) and their ratio, and the peak resident memory of the process.  The
best time is the one least disturbed by other work on the machine; on a
busy machine the CPU time, with one thread, is the steadier comparison.

Run: python benchmarks/depth_speed.py [--scale 2] [--radius PIXELS]
(OMP_NUM_THREADS=1 for a single core; --scale 2 gives 48 MP.)
"""

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import checkout  # noqa: F401  (first: this checkout's bokehme, not the installed one)
from bokehme import Options, load_segmenter, render
from bokehme.imaging import depth_map
from bokehme.imaging.composite import render_bokeh
from bokehme.imaging.depth_render import render_depth
from bokehme.imaging.matte import refine_alpha
from bokehme.io import read_depth, read_photo

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
PHOTO = SHARED / "photos" / "pug_portrait_mode.heic"
MODEL = SHARED / "models" / "deeplabv3_257_mv_gpu.tflite"
REPEATS = 5


def timed(functions):
    """Best and median seconds of each function, and its median CPU seconds, run in turns.

    Taking turns spreads a busy machine's slow spells over all of them.
    """
    seconds = [[] for _ in functions]
    cpu = [[] for _ in functions]
    for _ in range(REPEATS):
        for function, times, used in zip(functions, seconds, cpu):
            start, start_cpu = time.perf_counter(), time.process_time()
            function()
            times.append(time.perf_counter() - start)
            used.append(time.process_time() - start_cpu)
    return [(min(times), statistics.median(times), statistics.median(used)) for times, used in zip(seconds, cpu)]


def enlarged(image, scale):
    """The (H, W, 3) photo enlarged `scale` times on each side, bilinear."""
    if scale == 1:
        return image
    pixels = torch.from_numpy(image).permute(2, 0, 1)[None]
    big = F.interpolate(pixels, scale_factor=scale, mode="bilinear", align_corners=False)
    return big[0].permute(1, 2, 0).contiguous().numpy()


def main():
    if not PHOTO.exists():
        sys.exit(f"{PHOTO} is missing")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=int, default=1, help="enlarge the photo this many times on each side")
    parser.add_argument("--radius", type=float, help="largest blur radius [default: 1.5%% of the diagonal]")
    args = parser.parse_args()
    image = enlarged(read_photo(PHOTO).pixels, args.scale)
    height, width = image.shape[:2]
    radius = args.radius or 0.015 * np.hypot(height, width)
    coarse = read_depth(PHOTO)
    fine = depth_map.upsample_disparity(image, coarse)
    # A point on the pug's head.
    focus = depth_map.focus_disparity(fine, focus_xy=(0.57 * width, 0.56 * height))
    band = (np.abs(coarse - focus) < depth_map.DEFAULT_DEPTH_OF_FIELD / 2).astype(np.float32)
    alpha = refine_alpha(image, band)

    segmenter = load_segmenter("deeplabv3-mobilenetv2", weights=MODEL)
    options = Options(radius=radius, subject="dog")
    renders = {
        "two-plane (render_bokeh)": lambda: render_bokeh(image, alpha, radius),
        "depth (render_depth)": lambda: render_depth(image, fine, focus, radius),
        "depth + upsample_disparity": lambda: render_depth(image, coarse, focus, radius),
    }
    # The whole per-photo work as bokehme.render does it, the dog found by
    # DeepLabV3-MobileNetV2 in both (and setting the focus with depth).
    photos = {
        "two-plane": lambda: render(image, options, segmenter),
        "depth": lambda: render(image, options, segmenter, disparity=coarse),
    }
    print(f"{width}x{height} photo, {coarse.shape[1]}x{coarse.shape[0]} depth map, "
          f"radius {radius:.0f} px, focus disparity {focus:.3f}, {torch.get_num_threads()} threads, "
          f"best/median of {REPEATS}")
    for title, paths in (("rendering alone", renders), ("bokehme.render, whole photo", photos)):
        rows = list(zip(paths, timed(list(paths.values()))))
        base, base_cpu = rows[0][1][0], rows[0][1][2]
        print(f"\n{title}\n{'path':<28} {'best s':>8} {'median s':>9} {'best / two-plane':>17} "
              f"{'median CPU s':>13} {'CPU / two-plane':>16}")
        for name, (best, median, cpu) in rows:
            print(f"{name:<28} {best:8.2f} {median:9.2f} {best / base:17.2f} {cpu:13.2f} {cpu / base_cpu:16.2f}")
    print(f"\npeak resident memory of this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
