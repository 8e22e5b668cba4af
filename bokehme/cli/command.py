"""The ``bokehme`` command: a thin click layer over :mod:`bokehme`'s Python API.

This module imports only click and the model catalog: ``--help``,
``--version`` and usage errors answer at once.  Each stage of a run imports
what it needs when it starts: the planner and file I/O to find the photos,
torch and the models only when a photo is about to be processed, so a rerun
with nothing left to do never loads them.
"""

import sys
import time
from functools import wraps
from pathlib import Path

import click

from .. import __version__
from ..imaging.classes import UnknownClassError, check_classes
from ..imaging.threads import usable_cores
from ..models.catalog import MODEL_NAMES, model_labels
from .interrupts import exit_code, interrupts_deferred, signals_as_interrupts

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


def _usage_error(error, **context):
    from .messages import describe

    _fail(describe(error, **context), 2)


def _interruptible(run):
    """Ctrl-C (or SIGTERM, SIGHUP) outside the batch, which handles its own: one line, no traceback."""

    @wraps(run)
    def wrapper(*args, **kwargs):
        try:
            return run(*args, **kwargs)
        except KeyboardInterrupt:
            _fail("interrupted", exit_code())

    return wrapper


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
@click.option(
    "--background", default="blur", metavar="blur|#RRGGBB|FILE",
    help="blur keeps the lens blur; a colour or a picture (scaled to cover, centred) or a clip (looping) "
    "replaces the background instead.",
)
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
@click.option("--codec", type=click.Choice(("h264", "hevc", "vp9", "av1")), default=None,
              help="Video codec of rendered clips.  [default: h264, vp9 for WebM]")
@click.option("--crf", type=click.IntRange(0, 63), default=None,
              help="Constant rate factor of rendered clips, as in FFmpeg (lower: better, larger).  "
              "[default: visually lossless, 18 for h264]")
@click.option("--preset", type=click.Choice(("ultrafast", "superfast", "veryfast", "faster", "fast", "medium",
                                             "slow", "slower", "veryslow")), default=None,
              help="Encoder speed preset of h264/hevc clips, as in FFmpeg.  "
              "[default: veryfast, for h264 with a quicker analysis]")
@click.option("--every", type=click.IntRange(min=1), default=1,
              help="Find the subject on every Nth frame of a clip; the frames between follow it.")
@click.option("-j", "--jobs", type=click.IntRange(1, 16), default=2,
              help="Threads that decode and encode beside the model; with --engine ray and no cluster, the CPUs "
              "of the local Ray.")
@click.option("--engine", type=click.Choice(("local", "ray")), default="local",
              help="Where photos are processed: here, or by a pool of Ray actors (pip install 'bokehme[ray]').")
@click.option("--ray-address", default=None, metavar="ADDRESS",
              help="The Ray cluster for --engine ray.  [default: $RAY_ADDRESS, else a local Ray]")
@click.option("--device", type=click.Choice(("auto", "cpu", "cuda")), default="auto",
              help="Where the model runs; auto picks CUDA when present.")
@click.option("-q", "--quiet", is_flag=True, help="Print errors only.")
@click.version_option(__version__, "-V", "--version", prog_name="bokehme")
@_interruptible
def command(inputs, output, recursive, overwrite, model, weights, subject, all_people, radius, blades,
            blade_rotation, highlights, depth_source, depth_far_bright, focus, background, mask_path, save_mask,
            cutout, pii_scrub, report_path, output_format, quality, subsampling, strip_metadata, max_pixels, codec,
            crf, preset, every, jobs, engine, ray_address, device, quiet):
    """Blur the background of photos and clips as a fast lens would, keeping the subject sharp.

    PHOTO_OR_FOLDER... are image or video files, folders or glob patterns
    (** spans sub-folders).  Each is written as NAME_bokeh.EXT beside it, or
    under --output.  Exit code: 0 when every photo was processed or already
    done, 1 when one failed, 2 for a usage error, 128 + N after signal N
    (130 for Ctrl-C).  For a camera in real time: bokehme live --help.
    """
    started = time.time()
    for ignored, why in (
        (report_path is not None and not pii_scrub, "--report goes with --pii"),
        (pii_scrub and depth_source not in ("auto", "off"), "--pii does not use a depth map: drop --depth FILE"),
        (depth_far_bright and depth_source in ("auto", "off"), "--depth-far-bright goes with --depth FILE"),
        (focus is not None and depth_source == "off", "--focus needs a depth map (--depth auto or FILE)"),
        (weights is not None and model == "selfie", "the selfie model takes no --weights"),
        (background != "blur" and pii_scrub, "--pii renders its own background: drop --background"),
        (background != "blur" and (blades or highlights or radius is not None or depth_source != "auto"
                                   or focus is not None),
         "--background replaces the background: --blades, --highlights, --radius, --depth and --focus do not "
         "apply"),
        (ray_address is not None and engine != "ray", "--ray-address goes with --engine ray"),
    ):
        if ignored:
            _fail(why, 2)
    from ..options import Options, OptionsError

    try:
        options = Options(radius=radius, blades=blades, blade_rotation=blade_rotation, highlights=highlights,
                          subject=subject, all_people=all_people, pii=pii_scrub,
                          focus=None if focus is None else _focus_point(focus))
    except OptionsError as error:
        _usage_error(error)
    if background != "blur":  # read once here, so that a bad one is a usage error before any model loads
        from ..video.backdrop import BackdropError, backdrop_from

        try:
            backdrop_from(background)
        except BackdropError as error:
            _fail(f"--background {error}", 2)
    if mask_path is None:
        try:  # what the chosen model can find is known before it loads
            check_classes(options.subject, model_labels(model))
        except UnknownClassError as error:
            _usage_error(error, model=model)

    with interrupts_deferred():  # extensions' initialisations (numpy's, Pillow's) run here
        import PIL.Image

        from ..batch import (OutputFolderHoldsOriginals, OutputOverwritesInput, Summary, format_summary, pending,
                             plan_tasks, printable, remove_stale_temporaries)
        from ..io import output_extension

    # bokehme's reader enforces --max-pixels itself, naming the image's size.
    PIL.Image.MAX_IMAGE_PIXELS = None
    side_outputs = [kind for kind, wanted in (("mask", save_mask), ("cutout", cutout)) if wanted]
    try:
        plan = plan_tasks(
            inputs, output_dir=output, recursive=recursive, side_outputs=side_outputs, overwrite=overwrite,
            extension_for=lambda source: output_extension(source, output_format),
        )
    except (OutputOverwritesInput, OutputFolderHoldsOriginals) as error:
        _usage_error(error)
    depth_file = None if depth_source in ("auto", "off") else Path(depth_source)
    for given, name in ((mask_path, "--mask"), (depth_file, "--depth FILE")):
        if given is not None and len(plan.tasks) + len(plan.failed) != 1:
            _fail(f"{name} needs exactly one input photo", 2)
    if not plan.tasks:  # nothing to do, nothing done before: the reasons are all there is to say
        for source, reason in plan.failed:
            click.echo(f"bokehme: error: {printable(source)}: {printable(reason)}", err=True)
        sys.exit(1)

    if pii_scrub:  # a scrub is for photos
        plan.failed += [(task.source, "a PII scrub is for photos, not clips") for task in plan.tasks
                        if task.kind == "clip"]
        plan.tasks = [task for task in plan.tasks if task.kind == "photo"]
    removed = remove_stale_temporaries(plan.tasks, before=started)
    todo, done, blocked = pending(plan.tasks, overwrite)
    failed = plan.failed + blocked
    if not quiet:
        for note in plan.notes + [f"removed {removed} temporary files left by an interrupted run"] * bool(removed):
            click.echo(f"bokehme: {printable(note)}", err=True)
        if done:
            click.echo(f"skipping {len(done)} already done (use --overwrite to redo)", err=True)
    for source, reason in failed:
        click.echo(f"FAILED {printable(source)}: {printable(reason)}", err=True)

    summary = Summary()
    if todo:
        settings = dict(options=options, model=model if mask_path is None else None, weights=weights, device=device,
                        inputs=dict(max_pixels=max_pixels, depth=depth_file or depth_source,
                                    depth_far_bright=depth_far_bright, mask=mask_path),
                        outputs=dict(format=output_format, quality=quality, subsampling=subsampling,
                                     metadata="strip" if strip_metadata else "keep"),
                        background=None if background == "blur" else background,
                        video=dict(codec=codec, crf=crf, preset=preset, every=every))
        if engine == "ray":
            summary = _process_on_ray(todo, settings, address=ray_address, cpus=jobs, quiet=quiet)
        else:
            summary = _process(todo, settings, quiet=quiet, jobs=jobs)
    summary.skipped = len(done)
    summary.failed[:0] = failed
    if summary.failed or summary.interrupted or summary.undone or not quiet:
        click.echo(format_summary(summary), err=True)
    if report_path is not None:
        from ..io import PhotoError, write_json

        try:
            write_json(report_path, {str(source): record for source, record in summary.records.items()})
        except PhotoError as error:
            _fail(printable(error), 1)
    if summary.interrupted:
        sys.exit(exit_code())
    sys.exit(1 if summary.failed or summary.undone else 0)


def _recipe(settings):
    """The jobs' recipe from the command's settings (see :class:`bokehme.batch.recipe.JobRecipe`)."""
    from ..batch.recipe import JobRecipe
    from ..job import InputSettings, OutputSettings
    from ..video.streams import EncoderSettings

    inputs = dict(settings["inputs"])
    inputs["max_pixels"] = inputs["max_pixels"] or InputSettings.max_pixels
    video = settings["video"]
    return JobRecipe(settings["options"], settings["model"], settings["weights"], settings["device"],
                     InputSettings(**inputs), OutputSettings(**settings["outputs"]), settings["background"],
                     EncoderSettings(video["codec"], video["crf"], video["preset"]), video["every"])


def _process(todo, settings, *, quiet, jobs):
    """Load the models and run the batch here: the only stage that needs torch."""
    from .messages import describe

    with interrupts_deferred():
        from ..video.worker_processes import context, start_server

        # Clips' frames render in worker processes where they start from a
        # fork server (spawned anew for every clip, each would import torch).
        clip_processes = context().get_start_method() == "forkserver" and any(task.kind == "clip" for task in todo)
        if clip_processes:
            # Their server imports its libraries while this process imports
            # the same and loads the model.
            start_server()
        import torch

        from ..models.catalog import SegmentationError

        # One intra-op thread per core this process may use (containers, taskset).
        torch.set_num_threads(len(usable_cores()))
        recipe = _recipe(settings)
        try:
            built = recipe.build(warn=None if quiet else lambda notice: _warn(describe(notice)),
                                 clip_processes=clip_processes)
        except SegmentationError as error:
            _usage_error(error, model=recipe.model, requested=recipe.model)
        segmenter = built.photos.segmenter
        if segmenter is not None:
            try:
                check_classes(recipe.options.subject, segmenter.labels)
            except UnknownClassError as error:
                _usage_error(error, model=segmenter.name, requested=recipe.model)
    from ..batch import run_batch
    from .failures import describe_failure

    return run_batch(todo, job=built.photos, clips=built.clips, jobs=jobs, quiet=quiet, describe=describe_failure)


def _process_on_ray(todo, settings, *, address, cpus, quiet):
    """Run the batch on a Ray cluster: each actor builds the same jobs from the recipe."""
    from ..batch.ray_engine import EngineError, run_batch_ray
    from .failures import describe_failure

    try:
        return run_batch_ray(todo, _recipe(settings), address=address, cpus=cpus, quiet=quiet,
                             describe=describe_failure)
    except EngineError as error:
        _fail(str(error), 2)


def main(args=None, prog_name="bokehme"):
    """Run the command; SIGTERM and SIGHUP end it as Ctrl-C does, at any moment without a traceback."""
    with signals_as_interrupts():
        try:
            code = command.main(args=args, prog_name=prog_name, standalone_mode=False)
        except click.ClickException as error:  # a usage error
            error.show()
            code = error.exit_code
        except (click.Abort, KeyboardInterrupt):  # click turns Ctrl-C while it parses into Abort
            click.echo("bokehme: error: interrupted", err=True)
            code = exit_code()
    sys.exit(code or 0)
