"""The README's video figure: one frame of a clip, as filmed, blurred, and on a new background.

Usage::

    python benchmarks/video_figure.py [--out docs/video_before_after.jpg]

Writes the clip of ``benchmarks/video.py`` (a real photo of a person under a
panning camera, 1280x720), runs it through ``bokehme clip.mp4`` twice (the
default lens blur, and ``--background`` with scikit-image's coffee photo,
public domain) with the selfie model, and puts the middle frame of the
source and of both results side by side, each labelled.
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))

from checkout import REPO  # first: this checkout's bokehme, not the installed one
from video import decoded_frames, make_clip  # noqa: E402



def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "video_before_after.jpg")
    args = parser.parse_args()
    from skimage import data

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        make_clip(scratch / "clip.mp4", 1280, 720, 31)
        Image.fromarray(data.coffee()).save(scratch / "coffee.png")
        for name, extra in (("blur", []), ("new", ["--background", str(scratch / "coffee.png")])):
            subprocess.run([sys.executable, "-m", "bokehme", str(scratch / "clip.mp4"), "-o", str(scratch / name),
                            "--model", "selfie", "-q", *extra], cwd=REPO, check=True)
        frames = [decoded_frames(path)[15] for path in
                  (scratch / "clip.mp4", scratch / "blur" / "clip.mp4", scratch / "new" / "clip.mp4")]
    tiles = []
    for pixels, label in zip(frames, ("as filmed", "bokehme clip.mp4", "--background coffee.png")):
        tile = Image.fromarray(pixels).resize((640, 360), Image.LANCZOS)
        draw = ImageDraw.Draw(tile)
        draw.rectangle((0, 0, 8 + 7 * len(label), 20), fill=(0, 0, 0))
        draw.text((4, 4), label, fill=(255, 255, 255))
        tiles.append(np.asarray(tile))
    Image.fromarray(np.concatenate(tiles, axis=1)).save(args.out, quality=88)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
