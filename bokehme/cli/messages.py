"""What the command line says: errors carry data, these lines word them with flag hints."""

from __future__ import annotations

from ..batch.plan import OutputOverwritesInput
from ..batch.runner import describe_error
from ..imaging.depth_map import FocusOutsideImage
from ..imaging.subject import UnknownClassError
from ..io.photo import ImageTooLarge, PhotoError
from ..models.base import DeviceUnavailable, ModelFallback, WeightsNotFound
from ..options import OptionsError
from ..pipeline import NoSubjectError

__all__ = ["describe", "describe_failure", "FLAGS"]

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


def _hint(error: BaseException) -> str:
    if isinstance(error, ImageTooLarge):
        return "; raise the limit with --max-pixels"
    if isinstance(error, NoSubjectError):
        return "; try --subject auto or another class"
    return ""


def describe(error: BaseException, *, model: str = "") -> str:
    """One line for the user about `error`, naming the flags that change it."""
    if isinstance(error, OptionsError):
        return _options_error(error)
    if isinstance(error, UnknownClassError):
        known = ", ".join(label for label in error.labels if label != "background")
        line = f"model {model!r} cannot find {', '.join(error.unknown)}; it knows: {known}"
        if error.labels == ("background", "person"):
            line += " (use a DeepLabV3 model for other subjects)"
        return line
    if isinstance(error, WeightsNotFound):
        return f"{error}; pass --weights FILE (see README, 'Models')"
    if isinstance(error, DeviceUnavailable):
        return f"--device {error.device}: {error}"
    if isinstance(error, ModelFallback):
        return (f"{error} (people only); pass --weights deeplabv3_257_mv_gpu.tflite for DeepLabV3 "
                "(see README, 'Models')")
    if isinstance(error, OutputOverwritesInput) and error.overwritten == error.source:
        return f"{error}; write it elsewhere with --output"
    if isinstance(error, FocusOutsideImage):
        return f"--focus: {error}"
    return str(error) + _hint(error)


def describe_failure(task, error: BaseException) -> str:
    """Why one photo of a batch failed; the summary line names the photo already."""
    if isinstance(error, PhotoError) and error.path == task.source:
        return error.reason + _hint(error)
    if isinstance(error, (PhotoError, NoSubjectError, FocusOutsideImage)):
        return describe(error)
    return describe_error(task, error)
