"""What the command line says about its arguments: errors carry data, these lines word them with flag hints.

Everything here is about the run as a whole (options, subjects, models,
where results go, the frame workers' processes) and most of it is said
before any photo is processed, so this module imports no array or model
library; why one photo failed is worded in :mod:`bokehme.cli.failures`.
"""

from __future__ import annotations

import signal

from ..batch.plan import OutputFolderHoldsOriginals, OutputOverwritesInput
from ..batch.progress import printable
from ..imaging.classes import UnknownClassError
from ..models.catalog import VOC_CLASSES, DeviceUnavailable, ModelFallback, WeightsNotFound
from ..options import OptionsError
from ..video.worker_processes import SharedMemoryShort, WorkerLost

__all__ = ["describe", "FLAGS"]

#: The command-line flag of each field of :class:`bokehme.Options`.
FLAGS = {
    "radius": "--radius",
    "blades": "--blades",
    "blade_rotation": "--blade-rotation",
    "highlights": "--highlights",
    "subject": "--subject",
    "all_people": "--all-people",
    "pii": "--pii",
    "focus": "--focus",
}

_WEIGHTS_HINT = "pass --weights deeplabv3_257_mv_gpu.tflite (see README, 'Models')"


def _options_error(error: OptionsError) -> str:
    first, *others = error.fields
    if first == "pii" and others in (["blades"], ["highlights"]):
        return "--pii renders its own background: --blades and --highlights do not apply"
    if first == "pii" and others == ["all_people"]:
        return "--pii keeps one person sharp and scrubs everyone else: drop --all-people"
    if first == "pii" and others == ["focus"]:
        return "--focus needs a depth map (--depth auto or FILE); --pii uses none"
    if first == "subject" and "no subject class" in error.reason:
        return "--subject is empty; give class names such as 'person,dog', or 'auto'"
    return f"{FLAGS[first]}: {error.reason}"


def _unknown_classes(error: UnknownClassError, model: str, requested: str) -> str:
    nowhere = [name for name in error.unknown if name not in VOC_CLASSES]
    if nowhere:
        return (f"--subject: no model knows {', '.join(nowhere)}; the subjects are "
                f"{', '.join(VOC_CLASSES[1:])}, or auto for the most salient object")
    names = ", ".join(error.unknown)
    if requested == "auto":
        return f"--subject {names}: no DeepLabV3 weights were found and the {model} model finds only people; {_WEIGHTS_HINT}"
    return (f"--subject {names}: the {model} model finds only people; use a DeepLabV3 model for other subjects "
            "(see README, 'Models')")


def _output_folder(error: OutputFolderHoldsOriginals) -> str:
    output, folder = printable(error.output), printable(error.folder)
    if error.why == "holds input":
        return (f"--output {output} holds the input folder {folder}: results would land among originals; "
                "choose a folder outside it")
    example = printable(error.photos[0])
    if error.why == "foreign":
        return (f"--output {output} lies inside {folder}, which -r reads, and holds {len(error.photos)} photos "
                f"that are no results of this run (such as {example}): they look like originals; move them away "
                "or choose another folder")
    return (f"--overwrite would replace {len(error.photos)} photos in --output {output} (such as {example}), "
            f"which lies inside {folder} that -r reads: nothing tells results there from originals; delete the "
            "old results first, or choose a folder outside the input")


def describe(error: BaseException, *, model: str = "", requested: str = "") -> str:
    """One line for the user about `error`, naming the flags that change it.

    `model` is the model in use (or asked for, before loading) and
    `requested` the one the user asked for.
    """
    if isinstance(error, OptionsError):
        return _options_error(error)
    if isinstance(error, UnknownClassError):
        return _unknown_classes(error, model, requested or model)
    if isinstance(error, WeightsNotFound):
        return f"{error}; pass --weights FILE (see README, 'Models')"
    if isinstance(error, DeviceUnavailable):
        return f"--device {error.device}: {error}"
    if isinstance(error, ModelFallback):
        return f"{error} (people only); {_WEIGHTS_HINT}"
    if isinstance(error, OutputOverwritesInput):
        line = printable(error)
        return f"{line}; write it elsewhere with --output" if error.overwritten == error.source else line
    if isinstance(error, OutputFolderHoldsOriginals):
        return _output_folder(error)
    if isinstance(error, SharedMemoryShort):
        return _shared_memory_short(error)
    if isinstance(error, WorkerLost):
        return _worker_lost(error)
    return printable(error)


def _shared_memory_short(error: SharedMemoryShort) -> str:
    if error.free == 0:
        room = "shared memory (/dev/shm) cannot be written here"
    else:
        room = (f"they need {error.needed / 2**20:.0f} MB of shared memory and /dev/shm has "
                f"{error.free / 2**20:.0f} MB free")
    return f"frames rendered in threads, more slowly: {room}; in a container, give it more (docker run --shm-size=1g)"


def _worker_lost(error: WorkerLost) -> str:
    """A frame worker process that died: the system's out-of-memory killer, say."""
    if error.exitcode is not None and error.exitcode < 0:
        try:
            how = f" (killed by {signal.Signals(-error.exitcode).name})"
        except ValueError:
            how = f" (killed by signal {-error.exitcode})"
    elif error.exitcode is not None:
        how = f" (exit status {error.exitcode})"
    else:
        how = ""
    return f"a frame worker process ended unexpectedly{how}"
