"""Why one photo or clip of a batch failed, in a photographer's words with the flag that changes it.

Imported when photos and clips are about to be processed: most errors worded
here come from the pipeline, which needs torch.
"""

from __future__ import annotations

from ..batch.runner import describe_error
from ..imaging.depth_map import FocusOutsideImage
from ..io.photo import ImageTooLarge, PhotoError
from ..pipeline import NoSubjectError
from ..video.worker_processes import WorkerLost
from .messages import describe

__all__ = ["describe_failure"]


def _hint(error: BaseException) -> str:
    if isinstance(error, ImageTooLarge):
        if error.size is None:
            return "; raise the limit with --max-pixels"
        return f"; raise the limit with --max-pixels {error.size[0] * error.size[1]}"
    if isinstance(error, NoSubjectError):
        return "; try --subject auto or another class"
    return ""


def describe_failure(task, error: BaseException) -> str:
    """Why one photo or clip of a batch failed; the summary line names it already."""
    if isinstance(error, PhotoError) and error.path == task.source:
        return error.reason + _hint(error)
    if isinstance(error, FocusOutsideImage):
        return f"--focus: {error}"
    if isinstance(error, (PhotoError, NoSubjectError)):
        return str(error) + _hint(error)
    if isinstance(error, WorkerLost):
        return describe(error)
    return describe_error(task, error)
