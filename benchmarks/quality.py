"""Rendering quality on synthetic scenes with a known answer.

Each scene lays a foreground photo over a background photo through an alpha
with a soft body outline and hair-like strands 0.5-2 px wide.  The ground
truth rendering is ``fg * alpha + blur(bg) * (1 - alpha)`` where ``blur`` is
a full-resolution disc convolution in linear light of the background alone
(what a real lens would show behind the subject).  Compared:

* naive: blur the whole photo (subject included) and composite the sharp
  photo over it with the true alpha;
* bokehme: render_bokeh with the true alpha, and with refine_alpha from a
  low-resolution, softened alpha (what a segmenter delivers).

Prints PSNR (dB, sRGB) in the band within ``radius`` of the subject outline
and over the whole image, and the alpha SAD (sum of absolute differences,
in thousands) of refine_alpha vs bilinear upsampling of the low-res alpha.

With ``--devset DIR`` (a folder with images/NAME.jpg and masks/NAME.png,
e.g. ../shared/devset) it also prints the alpha SAD on real photos whose
hand-drawn masks are binary.

Run: python benchmarks/quality.py [--devset ../shared/devset]
"""

import argparse
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage
from scipy.signal import fftconvolve
from skimage import data, draw, transform

import checkout  # noqa: F401  (first: this checkout's bokehme, not the installed one)
from bokehme.imaging.aperture import aperture_kernel
from bokehme.imaging.colour import linear_to_srgb, srgb_to_linear
from bokehme.imaging.composite import render_bokeh
from bokehme.imaging.lens import lens_blur
from bokehme.imaging.matte import refine_alpha

SIZE = 1024
LOW = 256  # the segmenter's long side, 1/4 of the photo as for 12 MP at 513 px
SUPER = 4


def photo(name):
    img = getattr(data, name)()[..., :3]
    return transform.resize(img, (SIZE, SIZE), anti_aliasing=True).astype(np.float32)


def scene_alpha(seed):
    """A head-and-shoulders blob with hair strands, anti-aliased.

    Returns the alpha and the coverage of the hair strands alone.
    """
    rng = np.random.default_rng(seed)
    n = SIZE * SUPER
    canvas = np.zeros((n, n), bool)
    cy, cx, ry, rx = 0.45 * n, 0.5 * n, 0.28 * n, 0.22 * n
    rr, cc = draw.ellipse(cy, cx, ry, rx, shape=canvas.shape)
    canvas[rr, cc] = True
    rr, cc = draw.ellipse(0.95 * n, 0.5 * n, 0.25 * n, 0.42 * n, shape=canvas.shape)
    canvas[rr, cc] = True
    hair = np.zeros_like(canvas)
    for _ in range(160):
        angle = rng.uniform(-np.pi, 0.1)  # the upper half: hair
        y, x = cy + ry * np.sin(angle) * 0.95, cx + rx * np.cos(angle) * 0.95
        heading = angle + rng.normal(0, 0.3)
        width = rng.uniform(0.25, 1.0) * SUPER
        for _ in range(int(rng.uniform(30, 120) * SUPER / 2)):
            heading += rng.normal(0, 0.03)
            y += 2 * np.sin(heading)
            x += 2 * np.cos(heading)
            rr, cc = draw.disk((y, x), width, shape=canvas.shape)
            hair[rr, cc] = True
    canvas |= hair
    return [c.reshape(SIZE, SUPER, SIZE, SUPER).mean((1, 3), dtype=np.float32)
            for c in (canvas, hair)]


def scene(fg_name, bg_name, hair_colour, seed):
    """Foreground, background and alpha; the strands have a hair colour."""
    alpha, hair = scene_alpha(seed)
    rng = np.random.default_rng(seed)
    strands = hair_colour * rng.uniform(0.8, 1.2, (SIZE, SIZE, 1)).astype(np.float32)
    near_hair = ndimage.maximum_filter(hair, size=5)[..., None] > 0
    fg = np.where(near_hair, np.clip(strands, 0, 1), photo(fg_name))
    return fg, photo(bg_name), alpha


def disc_blur_srgb(image, radius):
    """Exact full-resolution disc blur in linear light, normalized at borders."""
    kernel = aperture_kernel(radius)
    lin = srgb_to_linear(image)
    den = fftconvolve(np.ones(image.shape[:2], np.float32), kernel, mode="same")
    out = np.stack([fftconvolve(lin[..., c], kernel, mode="same") / den
                    for c in range(3)], -1)
    return linear_to_srgb(out.astype(np.float32))


def psnr(a, b, mask=None):
    err = (a - b) ** 2
    mse = err[mask].mean() if mask is not None else err.mean()
    return 10 * np.log10(1 / mse)


def devset_sad(folder):
    """Alpha SAD of bilinear vs refined upsampling of 1/4-size real masks."""
    print(f"{'real photo':30s} {'bilinear':>9s} {'refined':>9s}")
    totals = np.zeros(2)
    for path in sorted(Path(folder, "images").glob("*.jpg")):
        image = np.asarray(Image.open(path).convert("RGB"), np.float32) / 255
        mask = Image.open(Path(folder, "masks", path.stem + ".png")).convert("L")
        alpha = np.asarray(mask, np.float32) / 255
        low = transform.resize(alpha, [round(n / 4) for n in alpha.shape],
                               anti_aliasing=True).astype(np.float32)
        bilinear = transform.resize(low, alpha.shape, order=1)
        sads = np.array([np.abs(bilinear - alpha).sum(),
                         np.abs(refine_alpha(image, low) - alpha).sum()]) / 1e3
        totals += sads
        print(f"{path.stem:30s} {sads[0]:9.1f} {sads[1]:9.1f}")
    print(f"{'all':30s} {totals[0]:9.1f} {totals[1]:9.1f} "
          f"({1 - totals[1] / totals[0]:.0%} lower)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devset", help="folder of real photos and masks")
    args = parser.parse_args()
    scenes = [("astronaut", "coffee", np.float32([0.25, 0.15, 0.08]), 1),
              ("chelsea", "rocket", np.float32([0.85, 0.75, 0.6]), 2)]
    print(f"{'scene':20s} {'radius':>6s} {'method':24s} {'band dB':>8s} {'whole dB':>9s}")
    sads = []
    for fg_name, bg_name, hair_colour, seed in scenes:
        fg, bg, alpha = scene(fg_name, bg_name, hair_colour, seed)
        a3 = alpha[..., None]
        image = fg * a3 + bg * (1 - a3)
        low = transform.resize(alpha, (LOW, LOW), anti_aliasing=True).astype(np.float32)
        low = ndimage.gaussian_filter(low, 0.7)
        bilinear = transform.resize(low, (SIZE, SIZE), order=1).astype(np.float32)
        refined = refine_alpha(image, low)
        sads.append((np.abs(bilinear - alpha).sum() / 1e3, np.abs(refined - alpha).sum() / 1e3))
        subject = alpha > 0.5
        outline = np.where(subject, ndimage.distance_transform_edt(subject),
                           ndimage.distance_transform_edt(~subject))
        for radius in (10, 25, 40):
            truth = fg * a3 + disc_blur_srgb(bg, radius) * (1 - a3)
            band = outline <= radius
            naive_bg = linear_to_srgb(lens_blur(srgb_to_linear(image), radius))
            renders = {
                "naive (true alpha)": image * a3 + naive_bg * (1 - a3),
                "bokehme (true alpha)": render_bokeh(image, alpha, radius),
                "naive (refined alpha)": (image * refined[..., None]
                                          + naive_bg * (1 - refined[..., None])),
                "bokehme (refined alpha)": render_bokeh(image, refined, radius),
            }
            for method, out in renders.items():
                print(f"{fg_name + '/' + bg_name:20s} {radius:6d} {method:24s} "
                      f"{psnr(out, truth, band):8.2f} {psnr(out, truth):9.2f}")
    print()
    print(f"{'alpha SAD (x1000)':20s} {'bilinear':>9s} {'refined':>9s} {'reduction':>9s}")
    for (fg_name, bg_name, _, _), (sad_bilinear, sad_refined) in zip(scenes, sads):
        print(f"{fg_name + '/' + bg_name:20s} {sad_bilinear:9.1f} {sad_refined:9.1f} "
              f"{1 - sad_refined / sad_bilinear:9.0%}")
    if args.devset:
        print()
        devset_sad(args.devset)


if __name__ == "__main__":
    main()
