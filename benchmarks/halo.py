"""Halo on real photos: people cut out along their human masks, laid on plain black and white.

Usage::

    python benchmarks/halo.py [--devset ../shared/devset] [--weights ../shared/models/deeplabv3_257_mv_gpu.tflite]

Each portrait and pedestrian photo of the devset is cut out along its human
mask, eroded by 2 px so that the cut-out carries none of its old background,
and laid on plain black and on plain white.  bokehme renders it end to end
(the default model, its matte, the blur) at radius 30, with every person
kept (``--all-people``: every pedestrian of a cut-out is its subject).  A lens would leave
the plate exactly plain outside the subject; printed is how far the band 6
to 30 px outside the outline deviates from it, in 8-bit levels (mean
absolute difference over the band's pixels and channels), per photo and
plate, then mean and worst per kind.  For reference, the same with the
human mask itself as alpha (a perfect matte) and the seed scripts' way
(blur everything, paste the subject back with the model's alpha).
"""

import argparse
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage
from checkout import REPO  # first: this checkout's bokehme, not the installed one
from segmentation import load_devset

import bokehme
from bokehme.imaging.colour import linear_to_srgb, srgb_to_linear
from bokehme.imaging.lens import lens_blur

RADIUS = 30
BAND = (6, 30)


def cut_out(image, mask, plain):
    """The person on a plain plate, and the band outside them where the plate must stay plain."""
    person = ndimage.binary_erosion(mask > 127, iterations=2)
    laid = np.where(person[..., None], image, np.float32(plain))
    distance = ndimage.distance_transform_edt(~person)
    return laid, (distance >= BAND[0]) & (distance <= BAND[1])


def deviation(rendered, plain, band):
    """Mean absolute difference from the plain plate over the band, in 8-bit levels."""
    return float(np.abs(rendered[band] - plain).mean() * 255)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devset", type=Path, default=REPO.parent / "shared" / "devset")
    parser.add_argument("--weights", type=Path,
                        default=REPO.parent / "shared" / "models" / "deeplabv3_257_mv_gpu.tflite")
    parser.add_argument("--kinds", default="portraits,pedestrians")
    parser.add_argument("--references", action="store_true", help="also the perfect matte and the seed scripts' way")
    args = parser.parse_args()
    segmenter = bokehme.load_segmenter("auto", weights=args.weights)
    kinds = args.kinds.split(",")
    options = bokehme.Options(radius=RADIUS, all_people=True)
    methods = ["bokehme"] + (["perfect matte", "seed scripts"] if args.references else [])
    results = {method: {kind: [] for kind in kinds} for method in methods}
    print(f"{'photo':34s} {'plate':5s} " + " ".join(f"{m:>13s}" for m in methods))
    for name, kind, image, mask, _classes, _person in load_devset(args.devset):
        if kind not in kinds:
            continue
        for plain in (0.0, 1.0):
            laid, band = cut_out(image, mask, plain)
            result = bokehme.render(laid, options, segmenter)
            figures = [deviation(result.image, plain, band)]
            if args.references:
                perfect = bokehme.render(laid, options, mask=ndimage.binary_erosion(mask > 127, iterations=2)
                                         .astype(np.float32))
                blurred = linear_to_srgb(lens_blur(srgb_to_linear(laid), RADIUS))
                a = result.alpha[..., None]
                figures += [deviation(perfect.image, plain, band), deviation(laid * a + blurred * (1 - a), plain, band)]
            for method, figure in zip(methods, figures):
                results[method][kind].append(figure)
            print(f"{name:34s} {'black' if plain == 0 else 'white':5s} " + " ".join(f"{f:13.2f}" for f in figures))
    print()
    print(f"{'kind':14s} {'method':14s} {'mean':>6s} {'worst':>6s}")
    for method in methods:
        for kind in kinds:
            values = results[method][kind]
            print(f"{kind:14s} {method:14s} {np.mean(values):6.2f} {np.max(values):6.2f}")
        every = [v for kind in kinds for v in results[method][kind]]
        print(f"{'all':14s} {method:14s} {np.mean(every):6.2f} {np.max(every):6.2f}")


if __name__ == "__main__":
    torch.set_num_threads(2)
    main()
