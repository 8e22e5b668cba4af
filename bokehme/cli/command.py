"""The ``bokehme`` command: a thin click layer over :mod:`bokehme`'s Python API."""

import os
import sys
from pathlib import Path

import click
import PIL.Image

from .. import __version__
from ..batch import OutputOverwritesInput, format_summary, pending, plan_tasks, run_batch
from ..imaging.subject import UnknownClassError, check_classes
from ..io import PhotoError, output_extension, write_json
from ..job import InputSettings, OutputSettings, PhotoJob
from ..models import MODEL_NAMES, SegmentationError, load_segmenter
from ..options import Options, OptionsError
from .messages import describe, describe_failure

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


def _focus_point(focus):
    """``--focus X,Y`` as two ints; a usage error otherwise."""
    try:
        point = tuple(int(value) for value in focus.split(","))
    except ValueError:
        point = ()
    if len(point) != 2:
        _fail(f"--focus takes X,Y in pixels, not {focus!r}", 2)
    return point


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
    "--all-people", is_flag=True,
    help="Keep every person sharp (team photos, street photography).  [default: the people the photo is about; "
    "smaller people behind them, such as an audience or passers-by, are blurred]",
)
@click.option(
    "--radius", type=click.FloatRange(min=0, min_open=True), default=None,
    help="Blur radius in pixels at full resolution.  [default: 1.5% of the image diagonal]",
)
@click.option("--blades", type=click.IntRange(min=0), default=0,
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
def command(inputs, output, recursive, overwrite, model, weights, subject, all_people, radius, blades,
            blade_rotation, highlights, depth_source, depth_far_bright, focus, mask_path, save_mask, cutout, pii_scrub,
            report_path, output_format, quality, subsampling, strip_metadata, max_pixels, jobs, device, quiet):
    """Blur the background of photos as a fast lens would, keeping the subject sharp.

    PHOTO_OR_FOLDER... are image files, folders or glob patterns.  Each photo
    is written as NAME_bokeh.EXT beside it, or under --output.
    """
    import torch

    # One intra-op thread per core this process may use (containers, taskset).
    usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
    torch.set_num_threads(len(usable))
    # bokehme's reader enforces --max-pixels itself, naming the image's size.
    PIL.Image.MAX_IMAGE_PIXELS = None
    for ignored, why in (
        (report_path is not None and not pii_scrub, "--report goes with --pii"),
        (pii_scrub and depth_source not in ("auto", "off"), "--pii does not use a depth map: drop --depth FILE"),
        (depth_far_bright and depth_source in ("auto", "off"), "--depth-far-bright goes with --depth FILE"),
        (focus is not None and depth_source == "off", "--focus needs a depth map (--depth auto or FILE)"),
        (weights is not None and model == "selfie", "the selfie model takes no --weights"),
    ):
        if ignored:
            _fail(why, 2)
    try:
        options = Options(radius=radius, blades=blades, blade_rotation=blade_rotation, highlights=highlights,
                          subject=subject, all_people=all_people, pii=pii_scrub,
                          focus=None if focus is None else _focus_point(focus))
    except OptionsError as error:
        _fail(describe(error), 2)
    side_outputs = [kind for kind, wanted in (("mask", save_mask), ("cutout", cutout)) if wanted]
    try:
        tasks, problems = plan_tasks(
            inputs, output_dir=output, recursive=recursive, side_outputs=side_outputs,
            extension_for=lambda source: output_extension(source, output_format),
        )
    except OutputOverwritesInput as error:
        _fail(describe(error), 2)
    depth_file = None if depth_source in ("auto", "off") else Path(depth_source)
    for given, name in ((mask_path, "--mask"), (depth_file, "--depth FILE")):
        if given is not None and len(tasks) + len(problems) != 1:
            _fail(f"{name} needs exactly one input photo", 2)

    todo, done = pending(tasks, overwrite)
    if done and not quiet:
        click.echo(f"skipping {len(done)} already done (use --overwrite to redo)", err=True)
    segmenter = faces = None
    if mask_path is None and todo:
        try:
            segmenter = load_segmenter(model, weights, device,
                                       warn=None if quiet else lambda notice: _warn(describe(notice)))
            check_classes(options.subject, segmenter.labels)
        except (SegmentationError, UnknownClassError) as error:
            _fail(describe(error, model=getattr(segmenter, "name", model)), 2)
    if pii_scrub and todo:
        from ..models.faces import FaceDetector

        faces = FaceDetector()
    job = PhotoJob(
        options, segmenter, faces,
        inputs=InputSettings(max_pixels=max_pixels or InputSettings.max_pixels,
                             depth=depth_file or depth_source, depth_far_bright=depth_far_bright, mask=mask_path),
        outputs=OutputSettings(format=output_format, quality=quality, subsampling=subsampling,
                               metadata="strip" if strip_metadata else "keep"),
    )
    summary = run_batch(todo, job=job, jobs=jobs, quiet=quiet, describe=describe_failure)
    summary.skipped = len(done)
    for problem in problems:
        click.echo(f"bokehme: {problem}", err=True)
    if summary.failed or summary.interrupted or not quiet:
        click.echo(format_summary(summary), err=True)
    if report_path is not None:
        try:
            write_json(report_path, {str(source): record for source, record in summary.records.items()})
        except PhotoError as error:
            _fail(str(error), 1)
    if summary.interrupted:
        sys.exit(130)
    sys.exit(1 if summary.failed or problems else 0)


def main(args=None, prog_name="bokehme"):
    """Entry point of the ``bokehme`` console script, ``python -m bokehme`` and ``bokehME.py``."""
    command.main(args=args, prog_name=prog_name)
