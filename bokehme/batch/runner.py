"""Running a batch on this machine: the model in the main thread, files in threads.

This module knows nothing about blur or models: it is handed a job (see
:class:`bokehme.job.PhotoJob`) with three stages.  It is built for folders of
hundreds of photos left to run unattended: a bad file is reported and
skipped, an interrupted run can be restarted and resumes where it stopped,
and decoding and encoding of neighbouring photos overlap with the
computation.
"""

from __future__ import annotations

import sys
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence, TextIO

from ..io.photo import PhotoError
from .plan import Task
from .progress import Reporter

__all__ = ["Summary", "describe_error", "format_summary", "pending", "run_batch"]


@dataclass
class Summary:
    """What a batch did.

    Attributes
    ----------
    processed, skipped : int
        Tasks done now, and tasks found done by an earlier run.
    failed : list of (Path, str)
        Each failed task's source and why.
    interrupted : bool
        Ctrl-C stopped the batch.
    records : dict
        What each processed task's job returned (None left out), by source.
    """

    processed: int = 0
    skipped: int = 0
    failed: list[tuple[Path, str]] = field(default_factory=list)
    interrupted: bool = False
    records: dict = field(default_factory=dict)


def pending(tasks: Sequence[Task], overwrite: bool = False) -> tuple[list[Task], list[Task]]:
    """Split tasks into those to do and those an earlier run finished.

    A task is finished when every file it writes exists (a rerun that asks
    for masks writes them for photos an earlier run did without).

    Returns
    -------
    todo, done : list of Task
    """
    todo, done = [], []
    for task in tasks:
        finished = not overwrite and all(path.exists() for path in task.outputs())
        (done if finished else todo).append(task)
    return todo, done


def describe_error(task: Task, error: BaseException) -> str:
    """One line saying why a task failed; the summary line names the source already."""
    if isinstance(error, PhotoError):
        return error.reason if error.path == task.source else str(error)
    return f"{type(error).__name__}: {' '.join(str(error).split())}"


def run_batch(
    tasks: Sequence[Task],
    *,
    job,
    jobs: int = 2,
    progress: bool = True,
    quiet: bool = False,
    log: TextIO | None = None,
    describe: Callable[[Task, BaseException], str] = describe_error,
) -> Summary:
    """Process tasks one by one, decoding ahead and encoding behind in threads.

    Parameters
    ----------
    tasks : sequence of Task
        The tasks to do (see :func:`pending`).
    job : bokehme.job.PhotoJob or alike
        ``job.load(source) -> item`` runs in the thread pool;
        ``job.compute(item) -> result`` in the calling thread, one at a
        time; ``job.save(item, result, target) -> record`` in the thread
        pool, and must write atomically (a failed save leaves no file).
    jobs : int, optional
        Threads for loading and saving.  At most ``jobs + 1`` photos are held
        in memory at once.
    progress : bool, optional
        Show a progress bar when `log` is a terminal, else one line per photo.
    quiet : bool, optional
        Report failures only.
    log : text stream, optional
        Where reports go; standard error by default.
    describe : callable, optional
        ``describe(task, error) -> str``: one line saying why a task failed.

    Returns
    -------
    summary : Summary
        Counts and one-line reasons for failures; ``interrupted`` is set when
        Ctrl-C stopped the batch (the photos already written are complete).
    """
    log = log if log is not None else sys.stderr
    jobs = max(1, int(jobs))
    summary = Summary()
    reporter = Reporter(len(tasks), log, progress=progress and not quiet, quiet=quiet)

    def failed(task: Task, error: BaseException) -> None:
        reason = describe(task, error)
        summary.failed.append((task.source, reason))
        reporter.failed(task.source, reason)

    def finish_save(task: Task, future: Future) -> None:
        error = future.exception()
        if error is None:
            summary.processed += 1
            record = future.result()
            if record is not None:
                summary.records[task.source] = record
            reporter.done(task.source, task.destination)
        else:
            failed(task, error)

    loads: deque[tuple[Task, Future]] = deque()
    saves: deque[tuple[Task, Future]] = deque()
    upcoming = iter(tasks)
    exhausted = False
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="bokehme-io")
    try:
        while True:
            while saves and saves[0][1].done():
                finish_save(*saves.popleft())
            # Decoded photos waiting + photos waiting to be written stay
            # within `jobs`; with the one being computed, memory holds jobs + 1.
            while not exhausted and len(loads) + len(saves) < jobs:
                task = next(upcoming, None)
                if task is None:
                    exhausted = True
                else:
                    loads.append((task, pool.submit(job.load, task.source)))
            if not loads:
                if not saves:
                    break
                task, future = saves.popleft()
                future.exception()  # wait for a slot to free up
                finish_save(task, future)
                continue
            task, future = loads.popleft()
            try:
                item = future.result()
                result = job.compute(item)
            except Exception as error:  # one bad photo must not stop the batch
                failed(task, error)
                continue
            saves.append((task, pool.submit(_save_into_folder, job, task, item, result)))
            del item, result
    except KeyboardInterrupt:
        summary.interrupted = True
        for _, future in loads:
            future.cancel()
        loads.clear()
        try:
            # Results already computed are worth writing: at most `jobs` of them.
            for _, future in saves:
                future.exception()
        except KeyboardInterrupt:  # impatient second Ctrl-C
            for _, future in saves:
                future.cancel()
    finally:
        # Saves already running complete (they are atomic either way), so no
        # temporary file outlives the batch.
        pool.shutdown(wait=True, cancel_futures=True)
        for task, future in saves:
            if not future.cancelled():
                finish_save(task, future)
        reporter.close()
    return summary


def _save_into_folder(job, task: Task, item, result):
    folder = task.destination.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)  # the mirrored tree under --output
    except OSError as error:
        raise PhotoError(folder, f"cannot create folder: {error.strerror or error}") from None
    return job.save(item, result, task.target)


def format_summary(summary: Summary) -> str:
    """Summarise a batch: a count line, then one line per failure."""
    counts = f"processed {summary.processed}, skipped {summary.skipped}"
    lines = [f"{counts}, failed {len(summary.failed)}"]
    if summary.interrupted:
        lines[0] += " (interrupted; run the same command again to resume)"
    lines += [f"  {source}: {reason}" for source, reason in summary.failed]
    return "\n".join(lines)
