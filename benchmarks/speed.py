"""Speed of the whole pipeline, stage by stage, against a naive reference.

Usage::

    python benchmarks/speed.py [--weights ../shared/models/deeplabv3_257_mv_gpu.tflite] [--quick]

Generates 12 MP and 48 MP JPEGs (scikit-image's astronaut, enlarged, with
film-grain-like noise so they compress like real photos), then, for each
model, runs the pipeline in-process with the model loaded once and prints
the median time of each stage (decode, segment, refine, blur, composite,
encode), end to end per image, images/s for a batch of 10 through the
command line's own batch runner, and the peak RSS of one photo end to end
in a process that does nothing else.  It also prints the I/O floor
(decode + encode alone) and the seed scripts' naive pipeline, timed in the
same run: DeepLabV3-ResNet101 on the full-resolution photo (random weights:
the same cost as trained ones), a full-resolution blur of the whole image
and a hard-mask paste.  torchvision's DeepLabV3 variants run with random
weights (their trained ones cannot be downloaded here): the segmentation
costs the same, and the stages after it get the selfie model's subject so
that they time a real soft edge rather than noise.  ``--quick`` skips 48 MP
and the naive pipeline.

``--real`` times real photos instead, as users run bokehme: the devset's
photos enlarged to 12 and 48 MP and the real iPhone HEIC, a batch's marginal
cost per photo against the decode+encode floor, quiet and beside a CPU-bound
neighbour process (see ``benchmarks/real_photos.py``, which it runs).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from checkout import REPO  # first: this checkout's bokehme, not the installed one

SIZES = {"12MP": (3000, 4000), "48MP": (6000, 8000)}
RADII = (10, 80)


def make_photo(path, shape):
    """A photo-like JPEG of `shape` (H, W): a real portrait, enlarged, with grain."""
    import torch
    import torch.nn.functional as F
    from PIL import Image
    from skimage import data

    small = torch.from_numpy(data.astronaut()).permute(2, 0, 1)[None].float()
    big = F.interpolate(small, size=shape, mode="bicubic", align_corners=False)[0].permute(1, 2, 0)
    generator = torch.Generator().manual_seed(0)
    big += torch.randn(big.shape, generator=generator) * 6
    Image.fromarray(big.clamp(0, 255).to(torch.uint8).numpy()).save(path, quality=92)


def peak_rss_gb():
    """This process's peak resident memory, GB.

    From /proc: getrusage's maxrss survives exec on Linux, so a child would
    report its parent's peak when that is higher.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    raise RuntimeError("no VmHWM in /proc/self/status")


def median_time(function, repeats):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def process(path, out, segmenter, probability=None):
    """One photo end to end, as the command line does it; ``probability`` stands in for an untrained model's."""
    from bokehme import io
    from bokehme.imaging import composite, matte
    from bokehme.options import default_radius

    photo = io.read_photo(path)
    image = photo.pixels
    found = segmenter.subject_probability(image, "person")
    alpha = matte.refine_alpha(image, found if probability is None else probability)
    result = composite.render_bokeh(image, alpha, default_radius(image.shape))
    io.write_photo(out, result, source=photo)


def load(args):
    """The segmenter, and the stand-in subject for an untrained one."""
    from bokehme.models.loading import load_segmenter

    segmenter = load_segmenter(args.model, weights=args.weights or None, device="cpu")
    # Untrained weights cost what trained ones cost, but their map is noise;
    # the stages after segmentation get a real subject's, found beforehand.
    return segmenter, (np.load(args.untrained) if args.untrained else None)


def save_stand_in(args):
    """The selfie model's subject of a photo, saved for the untrained models' runs."""
    from bokehme import io
    from bokehme.models.loading import load_segmenter

    image = io.read_photo(Path(args.photo)).pixels
    np.save(args.out, load_segmenter("selfie").subject_probability(image, "person"))
    print("{}")


def child(args):
    """Time one size with one model in this process; print one JSON line."""
    load_start = time.perf_counter()
    segmenter, stand_in = load(args)
    model_load = time.perf_counter() - load_start

    import torch

    from bokehme import cli, io
    from bokehme.imaging import colour, composite, lens, matte
    from bokehme.options import default_radius

    path = Path(args.photo)
    repeats = args.repeats
    report = {"model": args.model, "size": args.size, "threads": torch.get_num_threads(), "model_load": model_load}
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "out.jpg"
        report["decode"], photo = median_time(lambda: io.read_photo(path), repeats)
        image = photo.pixels
        report["segment"], probability = median_time(lambda: segmenter.subject_probability(image, "person"), repeats)
        if stand_in is not None:
            probability = stand_in
        report["refine"], alpha = median_time(lambda: matte.refine_alpha(image, probability), repeats)
        radius = default_radius(image.shape)
        report["radius"] = radius
        report["blur"], _ = median_time(lambda: composite.blur_background(image, alpha, radius), repeats)
        report["blur+composite"], rendered = median_time(lambda: composite.render_bokeh(image, alpha, radius), repeats)
        report["encode"], _ = median_time(lambda: io.write_photo(out, rendered, source=photo), repeats)
        for r in RADII:
            linear = colour.srgb_to_linear(image)
            report[f"lens_blur r={r}"], _ = median_time(lambda: lens.lens_blur(linear, r), repeats)
        # Let go of the full-size arrays before the end-to-end runs make their own.
        image = alpha = rendered = linear = None
        report["end to end"], _ = median_time(lambda: process(path, out, segmenter, stand_in), repeats)
        report["io floor"], _ = median_time(
            lambda: io.write_photo(out, io.read_photo(path).samples, source=photo), repeats
        )
        if args.batch:
            folder = Path(scratch) / "batch"
            folder.mkdir()
            for i in range(args.batch):
                os.link(path, folder / f"photo{i:02d}.jpg")
            argv = [str(folder), "-o", str(Path(scratch) / "results"), "--model", args.model, "--quiet"]
            if args.weights:
                argv += ["--weights", args.weights]
            start = time.perf_counter()
            try:
                cli.main(argv)
            except SystemExit as exit_:
                assert exit_.code == 0, exit_.code
            wall = time.perf_counter() - start
            report["batch images/s"] = args.batch / max(wall - model_load, 1e-9)
    print(json.dumps(report))


def peak_memory(args):
    """Peak RSS of one photo end to end, model loaded, in a process of its own; print one JSON line."""
    segmenter, stand_in = load(args)
    with tempfile.TemporaryDirectory() as scratch:
        process(Path(args.photo), Path(scratch) / "out.jpg", segmenter, stand_in)
    print(json.dumps({"peak RSS GB": peak_rss_gb()}))


def naive(args):
    """The seed scripts' approach on one photo; print one JSON line."""
    import torch
    import torchvision.models.segmentation as tv
    from PIL import Image
    from scipy.signal import fftconvolve

    from bokehme.imaging.aperture import aperture_kernel
    from bokehme.options import default_radius

    start = time.perf_counter()
    image = np.asarray(Image.open(args.photo).convert("RGB"), np.float32) / 255
    model = tv.deeplabv3_resnet101(weights=None, weights_backbone=None, num_classes=21).eval()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.inference_mode():
        batch = (torch.from_numpy(image).permute(2, 0, 1)[None] - mean) / std
        segment_start = time.perf_counter()
        labels = model(batch)["out"].argmax(1)[0].numpy()
        segment_time = time.perf_counter() - segment_start
    subject = labels == 15
    kernel = aperture_kernel(default_radius(image.shape))
    blurred = np.stack([fftconvolve(image[..., c], kernel, mode="same") for c in range(3)], axis=-1)
    result = np.where(subject[..., None], image, blurred)
    Image.fromarray((np.clip(result, 0, 1) * 255 + 0.5).astype(np.uint8)).save(Path(args.out), quality=95)
    total = time.perf_counter() - start
    print(json.dumps({"naive end to end": total, "naive segment": segment_time,
                      "peak RSS GB": peak_rss_gb()}))


def run_child(*argv):
    output = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True)
    if output.returncode != 0:
        raise SystemExit(f"child {' '.join(argv)} failed:\n{output.stderr}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=str(REPO.parent / "shared" / "models" / "deeplabv3_257_mv_gpu.tflite"))
    parser.add_argument("--models",
                        default="selfie,deeplabv3-mobilenetv2,auto,deeplabv3-mobilenet,deeplabv3-resnet101")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--naive", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--photo", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--size", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--untrained", help=argparse.SUPPRESS)
    parser.add_argument("--memory", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--stand-in", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--real", action="store_true", help="time real photos, quiet and beside a busy process")
    args, rest = parser.parse_known_args()
    if args.real:
        return subprocess.run([sys.executable, str(Path(__file__).with_name("real_photos.py")), "--neighbour",
                               *rest]).returncode
    if args.memory:
        return peak_memory(args)
    if args.stand_in:
        return save_stand_in(args)
    if args.child:
        return child(args)
    if args.naive:
        return naive(args)
    from bokehme.models.torchvision_deeplab import TORCHVISION_VARIANTS

    with tempfile.TemporaryDirectory() as scratch:
        photos = {}
        for name, shape in SIZES.items():
            if args.quick and name != "12MP":
                continue
            photos[name] = Path(scratch) / f"{name}.jpg"
            make_photo(photos[name], shape)
        stand_ins = {}
        rows = []
        for model in args.models.split(","):
            weights = args.weights if "mobilenetv2" in model or model == "auto" else None
            untrained = model in TORCHVISION_VARIANTS
            if untrained:
                # Random weights cost what trained ones cost; timing only.
                import torch
                import torchvision.models.segmentation as tv

                constructor, _ = TORCHVISION_VARIANTS[model]
                weights = str(Path(scratch) / f"random-{model}.pth")
                torch.save(getattr(tv, constructor)(weights=None, weights_backbone=None, num_classes=21).state_dict(),
                           weights)
            for size, photo in photos.items():
                # Untrained weights find no subject, so a batch would time failures.
                batch = "10" if size == "12MP" and not untrained else "0"
                argv = ["--child", "--photo", str(photo), "--model", model, "--size", size,
                        "--repeats", str(args.repeats), "--batch", batch]
                # Always passed: the child would otherwise take the default file.
                argv += ["--weights", weights or ""]
                if untrained:
                    if size not in stand_ins:
                        stand_ins[size] = Path(scratch) / f"subject-{size}.npy"
                        run_child("--stand-in", "--photo", str(photo), "--out", str(stand_ins[size]))
                    argv += ["--untrained", str(stand_ins[size])]
                rows.append(run_child(*argv))
                rows[-1].update(run_child("--memory", *argv))
                print(json.dumps(rows[-1]), file=sys.stderr)
        naive_row = None
        if not args.quick:
            naive_row = run_child("--naive", "--photo", str(photos["12MP"]), "--out", str(Path(scratch) / "naive.jpg"))

    stages = ["decode", "segment", "refine", "blur", "blur+composite", "encode", "end to end", "io floor",
              f"lens_blur r={RADII[0]}", f"lens_blur r={RADII[1]}"]
    print(f"machine: {os.cpu_count()} CPUs, torch threads {rows[0]['threads']}; medians of {args.repeats} runs, seconds")
    header = f"{'model':22s} {'size':5s} " + " ".join(f"{s:>14s}" for s in stages) + f" {'img/s x10':>10s} {'RSS GB':>7s}"
    print(header)
    for row in rows:
        cells = " ".join(f"{row[s]:14.3f}" for s in stages)
        rate = f"{row['batch images/s']:10.2f}" if "batch images/s" in row else f"{'':10s}"
        print(f"{row['model']:22s} {row['size']:5s} {cells} {rate} {row['peak RSS GB']:7.2f}")
    print()
    for row in rows:
        blur_ratio = row[f"lens_blur r={RADII[1]}"] / row[f"lens_blur r={RADII[0]}"]
        print(f"{row['model']} {row['size']}: end to end / I/O floor = {row['end to end'] / row['io floor']:.2f}; "
              f"lens blur r={RADII[1]} / r={RADII[0]} = {blur_ratio:.2f}")
    if naive_row:
        print(f"naive pipeline (DeepLabV3-ResNet101 on the full 12 MP image, full-resolution FFT blur, hard paste): "
              f"{naive_row['naive end to end']:.1f} s (segmentation {naive_row['naive segment']:.1f} s), "
              f"peak RSS {naive_row['peak RSS GB']:.1f} GB")
        for row in rows:
            if row["size"] == "12MP":
                print(f"  speed-up of {row['model']}: {naive_row['naive end to end'] / row['end to end']:.0f}x")


if __name__ == "__main__":
    main()
