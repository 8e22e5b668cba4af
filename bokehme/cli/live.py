"""``bokehme live``: real-time bokeh or a new background for a camera, into a virtual webcam."""

import sys
from pathlib import Path

import click

from .. import __version__
from ..models.catalog import MODEL_NAMES
from .interrupts import exit_code, interrupts_deferred, signals_as_interrupts


def _fail(message, code=1):
    click.echo(f"bokehme live: error: {message}", err=True)
    sys.exit(code)


def _size(ctx, param, value):
    if value is None:
        return None
    try:
        width, height = (int(part) for part in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"takes WIDTHxHEIGHT in pixels, not {value!r}") from None
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise click.BadParameter("width and height are even and at least 16")
    return width, height


@click.command(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.option("--camera", default="0", metavar="INDEX|FILE|URL",
              help="The camera's index, or a video file or stream URL standing in for it.")
@click.option("--output", "recording", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Record the result to this video file.")
@click.option("--preview", is_flag=True, help="Show the result in a window (q or Esc closes it).")
@click.option("--virtual-camera", is_flag=True,
              help="Send the result to a virtual webcam.  [default: when neither --output nor --preview]")
@click.option("--virtual-device", default=None, metavar="DEVICE",
              help="The virtual webcam to use, e.g. /dev/video4.  [default: the first found]")
@click.option("--background", default="blur", metavar="blur|#RRGGBB|FILE",
              help="blur keeps the lens blur; a colour, a picture or a clip (looping) replaces the background.")
@click.option("--radius", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Blur radius in pixels.  [default: 1.5% of the frame's diagonal]")
@click.option("--size", callback=_size, default=None, metavar="WxH",
              help="Frame size asked of the camera, and every frame scaled to it.  [default: the source's]")
@click.option("--fps", type=click.FloatRange(min=1), default=None,
              help="Frame rate asked of the camera, and of the virtual webcam.  [default: the source's]")
@click.option("--frames", type=click.IntRange(min=1), default=None, help="Stop after this many frames.")
@click.option("--model", type=click.Choice(MODEL_NAMES), default="selfie",
              help="Segmentation model; selfie is the fastest, made for a person in front of a camera.")
@click.option("--weights", type=click.Path(dir_okay=False, path_type=Path), default=None, envvar="BOKEHME_WEIGHTS",
              help="Weights file for a DeepLabV3 model, as for photos.")
@click.option("--subject", default="person", help="What stays sharp, as for photos.")
@click.option("--every", type=click.IntRange(min=1), default=1,
              help="Find the subject on every Nth frame; the frames between follow it.")
@click.option("-q", "--quiet", is_flag=True, help="Print errors only.")
@click.version_option(__version__, "-V", "--version", prog_name="bokehme")
def live(camera, recording, preview, virtual_camera, virtual_device, background, radius, size, fps, frames, model,
         weights, subject, every, quiet):
    """Blur or replace the background of a camera in real time, for video calls.

    The result goes to a virtual webcam (v4l2loopback on Linux, OBS's virtual
    camera elsewhere) that video-call apps pick like any camera, to a preview
    window, and/or to a recording.  It stops at Ctrl-C (or after --frames),
    saying the frames per second it reached and the milliseconds each stage
    took.
    """
    from ..options import Options, OptionsError

    if background != "blur" and radius is not None:
        _fail("--background replaces the background: --radius does not apply", 2)
    try:
        options = Options(radius=radius, subject=subject)
    except OptionsError as error:
        from .messages import describe

        _fail(describe(error), 2)
    backdrop = None
    if background != "blur":
        from ..video.backdrop import BackdropError, backdrop_from

        try:
            backdrop = backdrop_from(background)
        except BackdropError as error:
            _fail(f"--background {error}", 2)
    with interrupts_deferred():  # extensions' initialisations (numpy's, PyAV's) run here
        from ..live.sources import SourceError, open_source

    try:
        source = open_source(camera, size=size, fps=fps)
    except SourceError as error:
        _fail(str(error))
    try:
        stats = _run(source, options, backdrop, recording=recording, preview=preview,
                     virtual=virtual_camera or not (recording or preview), virtual_device=virtual_device,
                     fps=fps, frames=frames, model=model, weights=weights, every=every, quiet=quiet)
    finally:
        source.close()
    if not quiet:
        stages = ", ".join(f"{stage} {ms:.1f}" for stage, ms in stats.milliseconds().items())
        click.echo(f"{stats.frames} frames in {stats.seconds:.1f} s: {stats.fps:.1f} frames per second "
                   f"({stats.dropped} skipped to stay live); ms per frame: {stages}", err=True)


def _run(source, options, backdrop, *, recording, preview, virtual, virtual_device, fps, frames, model, weights,
         every, quiet):
    """Load the model, open the sinks and run the session; its LiveStats."""
    from ..video.worker_processes import WorkerLost, start_server

    # The frame workers' server imports its libraries while this process
    # imports the same and loads the model.
    start_server()
    with interrupts_deferred():
        from ..io.atomic import atomic_write
        from ..live.session import run_session
        from ..live.sinks import Preview, Recording, SinkError, VirtualCamera
        from ..models.catalog import SegmentationError
        from ..models.loading import load_segmenter
        from ..video.renderer import FrameRenderer
        from .messages import describe

        try:
            segmenter = load_segmenter(model, weights, warn=None if quiet else lambda notice: click.echo(
                f"bokehme live: warning: {describe(notice)}", err=True))
        except SegmentationError as error:
            _fail(describe(error), 2)
    size = source.frame_size()
    if size is None:
        _fail(f"{source.name}: gives no frame")
    rate = fps or source.rate
    renderer = FrameRenderer(options, segmenter, every)
    sinks = []
    try:
        try:
            if virtual:
                sinks.append(VirtualCamera(*size, rate, device=virtual_device))
                if not quiet:
                    click.echo(f"bokehme live: sending to the virtual camera {sinks[-1].device}", err=True)
            if preview:
                sinks.append(Preview())
        except SinkError as error:
            _fail(str(error))
        try:
            if recording is None:
                stats = run_session(source, renderer, sinks, frames=frames, background=backdrop)
            else:
                result = {}

                def record(file):
                    recorder = Recording(file, recording, *size, rate)
                    try:
                        result["stats"] = run_session(source, renderer, sinks + [recorder], frames=frames,
                                                      background=backdrop)
                    except BaseException:
                        recorder.abandon()
                        raise
                    recorder.close()

                atomic_write(recording, record)
                stats = result["stats"]
        except WorkerLost as error:
            _fail(describe(error) + ("; nothing was recorded" if recording is not None else ""))
        if renderer.shared_memory_short is not None and not quiet:
            click.echo(f"bokehme live: warning: {describe(renderer.shared_memory_short)}", err=True)
        return stats
    finally:
        for sink in sinks:
            sink.close()


def main(args, prog_name="bokehme live"):
    """Run ``bokehme live``; Ctrl-C, SIGTERM and SIGHUP stop it cleanly."""
    with signals_as_interrupts():
        try:
            code = live.main(args=args, prog_name=prog_name, standalone_mode=False)
        except click.ClickException as error:
            error.show()
            code = error.exit_code
        except (click.Abort, KeyboardInterrupt):
            click.echo("bokehme live: interrupted", err=True)
            code = exit_code()
    sys.exit(code or 0)
