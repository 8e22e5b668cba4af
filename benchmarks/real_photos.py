"""Speed on real photos, as users run bokehme: a batch's marginal cost per photo against the I/O floor.

Run through ``python benchmarks/speed.py --real`` (see its docstring), or
alone::

    python benchmarks/real_photos.py [--models selfie,auto] [--sizes 12,48] [--photos 6] [--neighbour]

The photos are the devset's (../shared/devset) enlarged to 12 or 48
megapixels (a portrait, a street, a full-body action shot, a pet, as many
as asked, in turn) and the real iPhone HEIC (../shared/photos) at 12 MP.
For each model and size it runs the whole command on a batch of the photos
and on one of them, model loaded once per command, and prints:

* the marginal cost per photo in the batch, ``(wall(batch) - wall(one)) /
  (photos - 1)``, and that cost against the floor;
* the floor: decoding and re-encoding the same photos with Pillow alone, in
  the same run;
* with ``--neighbour``, the same beside one CPU-bound process (a busy loop
  on one core, as a laptop doing other work), and the ratio to quiet;
* the stages of one photo in-process (decode, segment, refine,
  render_bokeh, encode) and the peak memory of the batch's command (two
  photos render side by side when they fit).
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from checkout import REPO  # first: this checkout's bokehme, not the installed one

SHARED = REPO.parent / "shared"
KINDS = ("portrait_00211", "pennfudan_PennPed00013", "davis16t_hike_00040", "pet_great_pyrenees_175",
         "portrait_00619", "pennfudan_FudanPed00005")


def make_photos(folder, megapixels, count):
    """The devset's photos enlarged to `megapixels`, saved as camera JPEGs; with the HEIC at 12 MP."""
    folder.mkdir(parents=True)
    for index in range(count):
        name = KINDS[index % len(KINDS)]
        source = next((SHARED / "devset" / "images").glob(name + ".*"))
        image = Image.open(source).convert("RGB")
        scale = (megapixels * 1e6 / (image.width * image.height)) ** 0.5
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
        image.save(folder / f"{index:02d}_{name}.jpg", quality=92)
    heic = SHARED / "photos" / "pug_portrait_mode.heic"
    if megapixels == 12 and heic.exists():
        shutil.copy(heic, folder / "pug.heic")


def floor(folder, scratch):
    """Seconds per photo to decode and re-encode with Pillow alone."""
    import pillow_heif

    pillow_heif.register_heif_opener()  # this process only: Pillow reads the HEIC too
    photos = sorted(folder.iterdir())
    start = time.perf_counter()
    for path in photos:
        with Image.open(path) as image:
            image.convert("RGB").save(scratch / "floor.jpg", quality=95)
    return (time.perf_counter() - start) / len(photos)


# Runs the command in-process, then says its peak resident memory (getrusage's
# maxrss would be the largest of every child so far).
_PEAK = ("import sys\nfrom bokehme.cli import main\ntry:\n    main(sys.argv[1:])\nfinally:\n"
         "    print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0], file=sys.stderr)")


def command(inputs, out, model, weights, env):
    """Wall seconds and peak GB of one whole command."""
    shutil.rmtree(out, ignore_errors=True)
    argv = [sys.executable, "-c", _PEAK, str(inputs), "-o", str(out), "-q", "--model", model]
    if weights and model != "selfie":
        argv += ["--weights", weights]
    start = time.perf_counter()
    result = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if result.returncode not in (0, 1):
        raise SystemExit(result.stderr)
    return wall, int(result.stderr.strip().splitlines()[-1]) / 2**20


def marginal(folder, scratch, model, weights, repeats, env):
    one = scratch / "one"
    shutil.rmtree(one, ignore_errors=True)
    one.mkdir()
    shutil.copy(next(p for p in sorted(folder.iterdir()) if p.suffix == ".jpg"), one)
    count = len(list(folder.iterdir()))
    batches = [command(folder, scratch / "out", model, weights, env) for _ in range(repeats)]
    single = statistics.median(command(one, scratch / "out1", model, weights, env)[0] for _ in range(repeats))
    batch = statistics.median(wall for wall, _ in batches)
    return (batch - single) / (count - 1), max(peak for _, peak in batches)


def stages(path, model, weights):
    """Seconds of each stage of one photo, in-process, model loaded (medians of 3)."""
    from bokehme.imaging.composite import render_bokeh
    from bokehme.imaging.matte import refine_alpha
    from bokehme.io import read_photo, write_photo
    from bokehme.models.loading import load_segmenter
    from bokehme.options import default_radius

    segmenter = load_segmenter(model, weights if model != "selfie" else None)

    def timed(function):
        times, result = [], None
        for _ in range(3):
            start = time.perf_counter()
            result = function()
            times.append(time.perf_counter() - start)
        return statistics.median(times), result

    decode, photo = timed(lambda: read_photo(path))
    pixels = photo.samples  # as render() takes them: an 8-bit photo's bytes, no float copy
    segment, probability = timed(lambda: segmenter.subject_probability(pixels, "person"))
    refine, alpha = timed(lambda: refine_alpha(pixels, probability))
    radius = default_radius(pixels.shape)
    render, image = timed(lambda: render_bokeh(pixels, alpha, radius, maybe_subject=probability))
    with tempfile.TemporaryDirectory() as scratch:
        encode, _ = timed(lambda: write_photo(Path(scratch) / "out.jpg", image, source=photo))
    return decode, segment, refine, render, encode


def busy():
    """One CPU-bound neighbour: a busy loop on one core, until killed."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="selfie,auto")
    parser.add_argument("--weights", default=str(SHARED / "models" / "deeplabv3_257_mv_gpu.tflite"))
    parser.add_argument("--sizes", default="12,48")
    parser.add_argument("--photos", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--neighbour", action="store_true")
    parser.add_argument("--stage", nargs=3, metavar=("PHOTO", "MODEL", "WEIGHTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        print(" ".join(f"{value:.3f}" for value in stages(Path(args.stage[0]), args.stage[1], args.stage[2])))
        return
    env = dict(os.environ)
    print(f"{os.cpu_count()} CPUs; whole commands, medians of {args.repeats}; seconds")
    print(f"{'model':8s} {'size':>5s} {'floor':>6s} {'marginal':>9s} {'x floor':>8s} "
          + (f"{'busy':>6s} {'busy/quiet':>10s} " if args.neighbour else "")
          + f"{'decode':>7s} {'segment':>8s} {'refine':>7s} {'render':>7s} {'encode':>7s} {'peak GB':>8s}")
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        for size in (int(s) for s in args.sizes.split(",")):
            folder = scratch / f"{size}MP"
            make_photos(folder, size, args.photos)
            photo_floor = floor(folder, scratch)
            for model in args.models.split(","):
                quiet, peak = marginal(folder, scratch, model, args.weights, args.repeats, env)
                cells = f"{model:8s} {size:4d}M {photo_floor:6.2f} {quiet:9.2f} {quiet / photo_floor:8.1f} "
                if args.neighbour:
                    neighbour = busy()
                    try:
                        loaded, _ = marginal(folder, scratch, model, args.weights, args.repeats, env)
                    finally:
                        neighbour.kill()
                    cells += f"{loaded:6.2f} {loaded / quiet:10.2f} "
                first = next(p for p in sorted(folder.iterdir()) if p.suffix == ".jpg")
                timing = subprocess.run([sys.executable, __file__, "--stage", str(first), model, args.weights],
                                        cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
                print(cells + " ".join(f"{float(t):7.2f}" for t in timing) + f" {peak:8.2f}")


if __name__ == "__main__":
    main()
