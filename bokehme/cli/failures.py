"""Why one photo of a batch failed, in a photographer's words with the flag that changes it.

Imported when photos are about to be processed: the errors worded here come
from the pipeline, which needs torch.
"""

from __future__ import annotations

import signal

from ..batch.runner import describe_error
from ..imaging.depth_map import FocusOutsideImage
from ..io.photo import ImageTooLarge, PhotoError
from ..pipeline import NoSubjectError
from ..video.workers import WorkerLost

__all__ = ["describe_failure", "describe_worker_lost"]


def _hint(error: BaseException) -> str:
    if isinstance(error, ImageTooLarge):
        if error.size is None:
            return "; raise the limit with --max-pixels"
        return f"; raise the limit with --max-pixels {error.size[0] * error.size[1]}"
    if isinstance(error, NoSubjectError):
        return "; try --subject auto or another class"
    return ""


def describe_failure(task, error: BaseException) -> str:
    """Why one photo of a batch failed; the summary line names the photo already."""
    if isinstance(error, PhotoError) and error.path == task.source:
        return error.reason + _hint(error)
    if isinstance(error, FocusOutsideImage):
        return f"--focus: {error}"
    if isinstance(error, (PhotoError, NoSubjectError)):
        return str(error) + _hint(error)
    if isinstance(error, WorkerLost):
        return describe_worker_lost(error)
    return describe_error(task, error)


def describe_worker_lost(error: WorkerLost) -> str:
    """The words for a frame worker process that died (the system's out-of-memory killer, say)."""
    if error.exitcode is not None and error.exitcode < 0:
        try:
            how = f"killed by {signal.Signals(-error.exitcode).name}"
        except ValueError:
            how = f"killed by signal {-error.exitcode}"
    else:
        how = f"exit status {error.exitcode}"
    return f"a frame worker process ended unexpectedly ({how})"
