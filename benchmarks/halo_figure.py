"""The README's halo figure: crops of the sample astronaut before and after a change, enlarged 2x.

Usage::

    python benchmarks/halo_figure.py --before REV [--weights FILE] [--out docs/halo_before_after.jpg]

Renders ``sample_images/astronaut.jpg`` with the default command, once with
the package as it was at git revision ``REV`` (extracted with ``git
archive``) and once with this checkout, and lays crops of both side by side,
before on the left, enlarged 2x (nearest neighbour): the light suit and the
helmet's rim against the dark background, and hair against the wall.
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from checkout import REPO  # first: this checkout's bokehme, not the installed one

PHOTO = REPO / "sample_images" / "astronaut.jpg"

#: (left, top, right, bottom) in the 512 px photo: the suit and the
#: helmet's rim against the dark cloth, and hair against the wall.
CROPS = ((290, 250, 450, 410), (140, 10, 300, 170))


def rendered(package_root, scratch, weights):
    """The astronaut through ``python -m bokehme`` run from `package_root`."""
    extra = ["--weights", str(weights.resolve())] if weights else []
    subprocess.run([sys.executable, "-m", "bokehme", str(PHOTO), "-o", str(scratch), "-q", *extra],
                   cwd=package_root, check=True)
    return np.asarray(Image.open(scratch / PHOTO.name).convert("RGB"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="git revision of the 'before' column")
    parser.add_argument("--weights", type=Path, help="segmentation weights, as bokehme's --weights")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "halo_before_after.jpg")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        old = scratch / "old"
        old.mkdir()
        archive = subprocess.run(["git", "archive", args.before, "bokehme"], cwd=REPO, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        before = rendered(old, scratch / "before", args.weights)
        after = rendered(REPO, scratch / "after", args.weights)
    gap = np.full((2 * (CROPS[0][3] - CROPS[0][1]), 8, 3), 255, np.uint8)
    rows = []
    for left, top, right, bottom in CROPS:
        pair = [np.kron(image[top:bottom, left:right], np.ones((2, 2, 1), np.uint8)) for image in (before, after)]
        rows += [np.concatenate([pair[0], gap, pair[1]], axis=1), np.full((8, 2 * 2 * (right - left) + 8, 3), 255,
                                                                          np.uint8)]
    Image.fromarray(np.concatenate(rows[:-1])).save(args.out, quality=92)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
