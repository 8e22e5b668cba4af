"""Command line: a thin click layer over :mod:`bokehme`'s Python API."""

import dataclasses
import os
import sys
from pathlib import Path

import click
import torch

from . import __version__
from . import batch, photo_io, pii
from .pipeline import NoSubjectError, Options, render
from .segment import MODEL_NAMES, SegmentationError, check_subject, load_segmenter

MODEL_HELP = (
    "Segmentation model. auto: DeepLabV3-MobileNetV2 when its weights are found, else a cached "
    "torchvision DeepLabV3, else the offline selfie model (people only)."
)
FORMATS = ("jpeg", "png", "webp", "tiff")


def _warn(message):
    click.echo(f"bokehme: warning: {message}", err=True)


def _fail(message, code):
    click.echo(f"bokehme: error: {message}", err=True)
    sys.exit(code)


def _check_blades(ctx, param, value):
    if value in (1, 2):
        raise click.BadParameter("an aperture has 0 (round) or at least 3 blades")
    return value


@click.command(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.argument("inputs", nargs=-1, required=True, metavar="PHOTO_OR_FOLDER...")
@click.option(
    "-o", "--output", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Write results into this folder, mirroring the input tree.  [default: NAME_bokeh.EXT beside each input]",
)
@click.option("-r", "--recursive", is_flag=True, help="Descend into sub-folders of folder inputs.")
@click.option("--overwrite", is_flag=True, help="Redo outputs that exist (by default they are skipped, so a rerun resumes).")
@click.option("--model", type=click.Choice(MODEL_NAMES), default="auto", help=MODEL_HELP)
@click.option(
    "--weights", type=click.Path(dir_okay=False, path_type=Path), default=None, envvar="BOKEHME_WEIGHTS",
    show_envvar=True,
    help="Weights file for a DeepLabV3 model: deeplabv3_257_mv_gpu.tflite (or its converted state_dict) or a "
    "torchvision DeepLabV3 state_dict.  [default: look in the caches, then download]",
)
@click.option(
    "--subject", default="person",
    help="What stays sharp: VOC class names, comma separated (person, cat, dog, car, ...), or auto for the "
    "most salient object.",
)
@click.option(
    "--radius", type=click.FloatRange(min=0, min_open=True), default=None,
    help="Blur radius in pixels at full resolution.  [default: 1.5% of the image diagonal]",
)
@click.option("--blades", type=click.IntRange(min=0), default=0, callback=_check_blades,
              help="Aperture blades: 0 for a round aperture, 3 or more for a polygon.")
@click.option("--blade-rotation", type=float, default=0.0, help="Rotation of a polygonal aperture, in degrees.")
@click.option("--highlights", type=click.FloatRange(min=0), default=0.0,
              help="Boost near-clipped background highlights so they bloom into bokeh discs; 0 is off.")
@click.option(
    "--depth", "depth_source", default="auto", metavar="auto|off|FILE",
    help="Depth map for a lens-like blur that grows with distance from the focus plane: auto uses the one a "
    "phone stored in the photo (iPhone Portrait HEIC, Google depth JPEG), off ignores it, FILE is a grayscale "
    "disparity image (near = bright).",
)
@click.option("--depth-far-bright", is_flag=True, help="The --depth FILE is a depth map (far = bright), not disparity.")
@click.option("--focus", type=str, default=None, metavar="X,Y",
              help="With a depth map, focus on the depth at this pixel.  [default: the subject's depth]")
@click.option("--mask", "mask_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Use this 8-bit mask (white = subject, same size as the photo) instead of segmentation.")
@click.option("--save-mask", is_flag=True, help="Also write the subject's alpha as NAME_bokeh_mask.png.")
@click.option("--cutout", is_flag=True, help="Also write the subject on transparency as NAME_bokeh_cutout.png.")
@click.option(
    "--pii", "pii_scrub", is_flag=True,
    help="Scrub identifiable detail behind the subject before sharing: one person stays sharp; bystanders, "
    "faces and text behind are made unrecoverable, and all metadata but the ICC profile is removed.",
)
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --pii, write what was scrubbed from each photo to this JSON file.")
@click.option("--format", "output_format", type=click.Choice(FORMATS, case_sensitive=False), default=None,
              help="Output format.  [default: the input's]")
@click.option("--quality", type=click.IntRange(1, 100), default=95, help="JPEG/WebP quality.")
@click.option("--subsampling", type=click.Choice(("4:4:4", "4:2:2", "4:2:0")), default="4:4:4",
              help="JPEG chroma subsampling.")
@click.option("--strip-metadata", is_flag=True, help="Remove EXIF, XMP and comments; keep only the ICC profile.")
@click.option("--max-pixels", type=click.IntRange(min=1), default=None,
              help="Refuse images larger than this many pixels.  [default: Pillow's decompression-bomb limit]")
@click.option("-j", "--jobs", type=click.IntRange(1, 16), default=2, help="Threads that decode and encode beside the model.")
@click.option("--device", type=click.Choice(("auto", "cpu", "cuda")), default="auto",
              help="Where the model runs; auto picks CUDA when present.")
@click.option("-q", "--quiet", is_flag=True, help="Print errors only.")
@click.version_option(__version__, "-V", "--version", prog_name="bokehme")
def command(inputs, output, recursive, overwrite, model, weights, subject, radius, blades, blade_rotation,
            highlights, depth_source, depth_far_bright, focus, mask_path, save_mask, cutout, pii_scrub,
            report_path, output_format, quality, subsampling, strip_metadata, max_pixels, jobs, device, quiet):
    """Blur the background of photos as a fast lens would, keeping the subject sharp.

    PHOTO_OR_FOLDER... are image files, folders or glob patterns.  Each photo
    is written as NAME_bokeh.EXT beside it, or under --output.
    """
    # One intra-op thread per core this process may use (containers, taskset).
    usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
    torch.set_num_threads(len(usable))
    for ignored, why in (
        (report_path is not None and not pii_scrub, "--report goes with --pii"),
        (pii_scrub and (blades or highlights), "--pii renders its own background: --blades and --highlights do not apply"),
        (pii_scrub and depth_source not in ("auto", "off"), "--pii does not use a depth map: drop --depth FILE"),
        (depth_far_bright and depth_source in ("auto", "off"), "--depth-far-bright goes with --depth FILE"),
        (focus is not None and (depth_source == "off" or pii_scrub), "--focus needs a depth map (--depth auto or FILE)"),
        (weights is not None and model == "selfie", "the selfie model takes no --weights"),
    ):
        if ignored:
            _fail(why, 2)
    focus_xy = None
    if focus is not None:
        try:
            focus_xy = tuple(int(value) for value in focus.split(","))
        except ValueError:
            focus_xy = ()
        if len(focus_xy) != 2:
            _fail(f"--focus takes X,Y in pixels, not {focus!r}", 2)
    options = Options(radius=radius, blades=blades, blade_rotation=blade_rotation, highlights=highlights,
                      subject=subject, pii=pii_scrub, focus=focus_xy)
    try:
        tasks, problems = batch.plan_tasks(
            inputs, output_dir=output, recursive=recursive,
            extension_for=lambda source: photo_io.output_extension(source, output_format),
        )
    except batch.UsageError as error:
        _fail(str(error), 2)
    depth_file = None if depth_source in ("auto", "off") else Path(depth_source)
    for given, name in ((mask_path, "--mask"), (depth_file, "--depth FILE")):
        if given is not None and len(tasks) + len(problems) != 1:
            _fail(f"{name} needs exactly one input photo", 2)

    segmenter = None
    if mask_path is None and tasks:
        try:
            segmenter = load_segmenter(model, weights, device, warn=None if quiet else _warn)
            check_subject(subject, segmenter.labels, segmenter.name)
        except SegmentationError as error:
            _fail(str(error), 2)

    faces = pii.FaceDetector() if pii_scrub and tasks else None
    reports = {}
    read_limit = {} if max_pixels is None else {"max_pixels": max_pixels}

    def load(task):
        photo = photo_io.read_photo(task.source, **read_limit)
        mask = None if mask_path is None else photo_io.read_mask(mask_path, photo.pixels.shape[:2])
        disparity = None
        if depth_file is not None:
            disparity = photo_io.read_depth_file(depth_file, far_bright=depth_far_bright)
        elif depth_source == "auto":
            try:
                disparity = photo_io.read_depth(task.source)
            except photo_io.PhotoError:
                pass  # a damaged depth map is no reason to lose the photo: two planes it is
        return photo, mask, disparity

    def compute(task, loaded):
        photo, mask, disparity = loaded
        try:
            return render(photo.pixels, options, segmenter, mask, faces, disparity)
        except NoSubjectError as error:
            raise photo_io.PhotoError(task.source, str(error)) from None

    def save(task, loaded, rendering):
        photo = loaded[0]
        photo_io.write_photo(
            task.destination, rendering.image, source=photo, format=output_format, quality=quality,
            subsampling=subsampling, metadata="strip" if strip_metadata or pii_scrub else "keep",
        )
        if rendering.scrub is not None:
            reports[str(task.source)] = dict(
                dataclasses.asdict(rendering.scrub), output=str(task.destination),
                metadata_removed=photo_io.metadata_fields(photo),
            )
        if save_mask:
            photo_io.write_mask(batch.side_output(task.destination, "mask"), rendering.alpha)
        if cutout:
            photo_io.write_cutout(batch.side_output(task.destination, "cutout"), photo.pixels, rendering.alpha,
                                  icc_profile=photo.icc_profile)

    side_outputs = [kind for kind, wanted in (("mask", save_mask), ("cutout", cutout)) if wanted]
    summary = batch.run_batch(
        tasks, load=load, compute=compute, save=save, overwrite=overwrite, side_outputs=side_outputs, jobs=jobs,
        quiet=quiet,
    )
    for problem in problems:
        click.echo(f"bokehme: {problem}", err=True)
    if summary.failed or summary.interrupted or not quiet:
        click.echo(batch.format_summary(summary), err=True)
    if report_path is not None:
        try:
            photo_io.write_json(report_path, reports)
        except photo_io.PhotoError as error:
            _fail(str(error), 1)
    if summary.interrupted:
        sys.exit(130)
    sys.exit(1 if summary.failed or problems else 0)


def main(args=None, prog_name="bokehme"):
    """Entry point of the ``bokehme`` console script, ``python -m bokehme`` and ``bokehME.py``."""
    command.main(args=args, prog_name=prog_name)
