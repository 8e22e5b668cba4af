"""Images per second of a whole batch: the local engine, and Ray with 1 and 2 workers; Ray's start-up.

Usage::

    python benchmarks/scale.py [--photos 24] [--megapixels 3] [--model selfie] [--weights FILE] [--repeats 3]

Makes a folder of real photos (../shared/devset's, enlarged to the size
asked, or scikit-image's astronaut where the devset is missing), then runs
the whole command, ``bokehme FOLDER -o OUT``, as a user would: with the local
engine, and with ``--engine ray --jobs 1`` and ``--jobs 2`` (a local Ray
started by the command).  It prints each run's images per second (wall
clock, model loading and Ray's start included) and, from the same commands
on a single photo, the fixed cost of a run, so that per-image cost and
start-up can be told apart: ``wall = start-up + photos / throughput``.
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from checkout import REPO  # first: this checkout's bokehme, not the installed one


def make_photos(folder, count, megapixels, devset):
    folder.mkdir(parents=True)
    sources = sorted((devset / "images").iterdir()) if (devset / "images").is_dir() else []
    for index in range(count):
        if sources:
            image = Image.open(sources[(index * 7) % len(sources)]).convert("RGB")
        else:
            from skimage import data

            image = Image.fromarray(data.astronaut())
        scale = (megapixels * 1e6 / (image.width * image.height)) ** 0.5
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.BICUBIC)
        image.save(folder / f"photo{index:03d}.jpg", quality=92)


def run(inputs, out, extra):
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "bokehme", str(inputs), "-o", str(out), "-q", *extra],
                            cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode not in (0, 1):
        raise SystemExit(result.stderr)
    return wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=24)
    parser.add_argument("--megapixels", type=float, default=3.0)
    parser.add_argument("--model", default="selfie")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--devset", type=Path, default=REPO.parent / "shared" / "devset")
    args = parser.parse_args()
    model = ["--model", args.model] + (["--weights", args.weights] if args.weights else [])
    engines = {"local": [], "ray, 1 worker": ["--engine", "ray", "--jobs", "1"],
               "ray, 2 workers": ["--engine", "ray", "--jobs", "2"]}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        make_photos(scratch / "batch", args.photos, args.megapixels, args.devset)
        (scratch / "one").mkdir()
        shutil.copy(next((scratch / "batch").iterdir()), scratch / "one")
        print(f"{args.photos} photos of {args.megapixels:g} MP, model {args.model}; medians of {args.repeats} "
              "runs of the whole command")
        print(f"{'engine':16s} {'batch s':>8s} {'img/s':>6s} {'1 photo s':>10s} {'start-up s':>11s} "
              f"{'img/s after start':>18s}")
        for name, extra in engines.items():
            batch = statistics.median(run(scratch / "batch", scratch / "out", model + extra)
                                      for _ in range(args.repeats))
            single = statistics.median(run(scratch / "one", scratch / "out1", model + extra)
                                       for _ in range(args.repeats))
            per_photo = (batch - single) / (args.photos - 1)
            start_up = single - per_photo
            print(f"{name:16s} {batch:8.1f} {args.photos / batch:6.2f} {single:10.1f} {start_up:11.1f} "
                  f"{1 / per_photo:18.2f}")


if __name__ == "__main__":
    main()
