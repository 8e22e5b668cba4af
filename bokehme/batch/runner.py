"""Running a batch on this machine: photos rendered side by side, files in threads.

This module knows nothing about blur or models: it is handed a job (see
:class:`bokehme.job.PhotoJob`) with three stages.  It is built for folders of
hundreds of photos left to run unattended: a bad file is reported and
skipped, an interrupted run can be restarted and resumes where it stopped,
and decoding, rendering and encoding of neighbouring photos overlap, so
that much of a rendering's single-threaded stretches find a core free.
"""

from __future__ import annotations

import errno
import os
import sys
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, NamedTuple, Sequence, TextIO

from ..io.atomic import is_temporary_of
from ..io.files import file_kind
from ..io.photo import PhotoError
from .plan import Task
from .progress import Reporter, printable

__all__ = [
    "Pending",
    "Summary",
    "describe_error",
    "format_summary",
    "pending",
    "remove_stale_temporaries",
    "run_batch",
]

#: Write errors after which no later photo can be written either: the batch stops.
STOPPING_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}


@dataclass
class Summary:
    """What a batch did.

    Attributes
    ----------
    processed, skipped : int
        Tasks done now, and tasks found done by an earlier run.
    failed : list of (Path, str)
        Each failed task's source and why.
    undone : list of Path
        Sources not reached because the batch ended early.
    interrupted : bool
        Ctrl-C (or SIGTERM, SIGHUP) stopped the batch.
    stopped : str or None
        Why the batch stopped early by itself: a full or read-only disk,
        on which no later photo could be written either.
    records : dict
        What each processed task's job returned (None left out), by source.
    """

    processed: int = 0
    skipped: int = 0
    failed: list[tuple[Path, str]] = field(default_factory=list)
    undone: list[Path] = field(default_factory=list)
    interrupted: bool = False
    stopped: str | None = None
    records: dict = field(default_factory=dict)


class Pending(NamedTuple):
    """Tasks split by what an earlier run left: see :func:`pending`."""

    todo: list
    done: list
    blocked: list


def pending(tasks: Sequence[Task], overwrite: bool = False) -> Pending:
    """Split tasks into those to do, those an earlier run finished, and those that cannot be written.

    A task is finished when every file it writes exists (a rerun that asks
    for masks writes them for photos an earlier run did without).  Something
    that is not a file where an output goes (a folder, a pipe) blocks its
    task, with or without `overwrite`.

    Returns
    -------
    todo, done : list of Task
    blocked : list of (Path, str)
        The sources of blocked tasks, and why.
    """
    todo, done, blocked = [], [], []
    for task in tasks:
        kinds = [(path, _kind_at(path)) for path in task.outputs()]
        in_the_way = [(path, kind) for path, kind in kinds if kind not in (None, "file")]
        if in_the_way:
            path, kind = in_the_way[0]
            blocked.append((task.source, f"{kind} is where its output {path} goes: move it away"))
        elif not overwrite and all(kind == "file" for _, kind in kinds):
            done.append(task)
        else:
            todo.append(task)
    return Pending(todo, done, blocked)


def _kind_at(path: Path) -> str | None:
    """What is at `path`: None for nothing, "file" for a regular file, else its kind in words."""
    try:
        return file_kind(os.stat(path).st_mode) or "file"
    except FileNotFoundError:
        return None  # nothing, or a dangling link that the write replaces
    except OSError as error:
        return f"something unreadable ({error.strerror})"


def remove_stale_temporaries(tasks: Sequence[Task], before: float) -> int:
    """Remove the temporary files that killed runs left beside the tasks' outputs.

    Only temporaries of these outputs (see :mod:`bokehme.io.atomic`) last
    modified before `before` (the start of this run, ``time.time()``) are
    removed: a run still writing is left alone.

    Returns
    -------
    int
        How many were removed.
    """
    by_folder: dict[Path, list[Path]] = {}
    for task in tasks:
        for path in task.outputs():
            by_folder.setdefault(path.parent, []).append(path)
    removed = 0
    for folder, outputs in by_folder.items():
        try:
            entries = [entry for entry in os.scandir(folder) if entry.name.endswith(".bokehme-tmp")]
        except OSError:
            continue  # a folder not made yet holds nothing stale
        for entry in entries:
            try:
                if (any(is_temporary_of(entry.name, path) for path in outputs)
                        and entry.stat(follow_symlinks=False).st_mtime < before):
                    os.unlink(entry.path)
                    removed += 1
            except OSError:
                pass  # gone already, or not ours to remove
    return removed


def describe_error(task: Task, error: BaseException) -> str:
    """One line saying why a task failed; the summary line names the source already."""
    if isinstance(error, PhotoError):
        return error.reason if error.path == task.source else str(error)
    return f"{type(error).__name__}: {' '.join(str(error).split())}"


def run_batch(
    tasks: Sequence[Task],
    *,
    job,
    clips=None,
    jobs: int = 2,
    renders: int = 2,
    progress: bool = True,
    quiet: bool = False,
    log: TextIO | None = None,
    describe: Callable[[Task, BaseException], str] = describe_error,
) -> Summary:
    """Process tasks, decoding ahead, rendering side by side and encoding behind in threads.

    Parameters
    ----------
    tasks : sequence of Task
        The tasks to do (see :func:`pending`).
    job : bokehme.job.PhotoJob or alike
        ``job.load(source) -> item`` runs in the thread pool;
        ``job.compute(item) -> result`` in threads of its own, side by side
        while the ``job.share(item)`` of the items rendering sum to at most
        1 (without ``share``, one at a time); ``job.save(item, result,
        target) -> record`` in the thread
        pool, and must write atomically (a failed save leaves no file).  A
        record is None or a dict; its ``"notes"`` (lines about the photo,
        such as metadata left out) are reported as the photo is done.
    clips : bokehme.video.job.VideoJob or alike, optional
        For the tasks of kind ``"clip"``: ``clips.run(source, target,
        progress)`` renders a whole clip in the calling thread (it overlaps
        its own decoding and encoding), after the photos.
    jobs : int, optional
        Threads for loading and saving.  At most `jobs` photos are held in
        memory at once, the one rendering included; ``jobs + renders`` when
        they render side by side.
    renders : int, optional
        Photos rendered at once at most.
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
        Ctrl-C stopped the batch (the photos already written are complete),
        ``stopped`` when a full or read-only disk did: nothing is rendered
        after the first such failure, and ``undone`` names what was left.
    """
    log = log if log is not None else sys.stderr
    jobs = max(1, int(jobs))
    summary = Summary()
    reporter = Reporter(len(tasks), log, progress=progress and not quiet, quiet=quiet)
    finished: set[Path] = set()

    def failed(task: Task, error: BaseException) -> None:
        reason = describe(task, error)
        summary.failed.append((task.source, reason))
        finished.add(task.source)
        reporter.failed(task.source, reason)
        if getattr(error, "errno", None) in STOPPING_ERRORS and summary.stopped is None:
            summary.stopped = reason

    def finish_save(task: Task, future: Future) -> None:
        error = future.exception()
        if error is not None:
            failed(task, error)
            return
        summary.processed += 1
        finished.add(task.source)
        record = future.result()
        if record is not None:
            summary.records[task.source] = record
            for note in record.get("notes", ()):
                reporter.note(f"{printable(task.source)}: {note}")
        reporter.done(task.source, task.destination)

    loads: deque[tuple[Task, Future]] = deque()
    ready: list[tuple[Task, object, float]] = []  # a loaded photo waiting for room to render
    rendering: list[tuple[Task, object, float, Future]] = []
    rendered: deque[tuple[Task, object, object]] = deque()  # waiting for a thread to write them
    saves: deque[tuple[Task, Future]] = deque()
    upcoming = iter([task for task in tasks if task.kind == "photo"])
    exhausted = False
    share = getattr(job, "share", lambda item: 1.0)
    last_share = 1.0  # the latest photo's, which the next ones are taken to be like

    def step() -> list | None:
        """Move every photo on that can move: the futures to wait for if none could, None when all is done.

        A function of its own, so that no local name keeps a photo or its
        rendering alive once it is written.
        """
        nonlocal exhausted, last_share
        while saves and saves[0][1].done():
            finish_save(*saves.popleft())
        if summary.stopped is not None:
            return None
        while rendered and len(saves) < jobs:
            task, item, result = rendered.popleft()
            saves.append((task, pool.submit(job.save, item, result, task.target)))
        # Photos held, from decoding to written, stay within `jobs`, and
        # `renders` more where the latest photo would render side by side
        # with as large ones: a large photo renders with one other decoded
        # ahead or written behind, small ones with a few.
        held = len(loads) + len(ready) + len(rendering) + len(rendered) + len(saves)
        while not exhausted and held < jobs + (renders if last_share * renders <= 1 else 0):
            task = next(upcoming, None)
            if task is None:
                exhausted = True
            else:
                loads.append((task, pool.submit(job.load, task.source)))
                held += 1
        if not ready and loads and loads[0][1].done():
            task, future = loads.popleft()
            try:
                item = future.result()
                last_share = share(item)
                ready.append((task, item, last_share))
            except Exception as error:  # one bad photo must not stop the batch
                failed(task, error)
            return []
        if ready and (not rendering or (len(rendering) < renders
                                        and sum(entry[2] for entry in rendering) + ready[0][2] <= 1)):
            task, item, part = ready.pop()
            rendering.append((task, item, part, renderers.submit(job.compute, item)))
            return []
        done = [entry for entry in rendering if entry[3].done()]
        for entry in done:
            rendering.remove(entry)
            task, item, _, future = entry
            error = future.exception()
            if error is None:
                rendered.append((task, item, future.result()))
            elif isinstance(error, Exception):  # one bad photo must not stop the batch
                failed(task, error)
            else:
                raise error  # Ctrl-C in a job: the batch ends as for any other
        if done:
            return []
        waiting = [entry[3] for entry in rendering] + [future for _, future in list(saves)[:1]]
        if loads and not ready:
            waiting.append(loads[0][1])
        return waiting or None

    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="bokehme-io")
    renderers = ThreadPoolExecutor(max_workers=max(1, int(renders)), thread_name_prefix="bokehme-render")
    try:
        while summary.stopped is None:
            waiting = step()
            if waiting is None:
                break
            if waiting:
                wait(waiting, return_when=FIRST_COMPLETED)
    except KeyboardInterrupt:
        summary.interrupted = True
        for _, future in loads:
            future.cancel()
        try:
            # Results already computed are worth writing: at most `jobs` of them.
            for _, future in saves:
                future.exception()
        except KeyboardInterrupt:  # impatient second Ctrl-C
            for _, future in saves:
                future.cancel()
    finally:
        # A disk that is full stays full: photos decoded ahead are not rendered.
        for _, future in loads:
            future.cancel()
        # A rendering under way cannot be stopped; its photo is left undone,
        # and the threads end with it without keeping the summary waiting.
        renderers.shutdown(wait=False, cancel_futures=True)
        # Saves already running complete (they are atomic either way), so no
        # temporary file outlives the batch.
        pool.shutdown(wait=True, cancel_futures=True)
        for task, future in saves:
            if not future.cancelled():
                finish_save(task, future)
        if not (summary.interrupted or summary.stopped):
            _run_clips([task for task in tasks if task.kind == "clip"], clips, summary, reporter, failed,
                       finished)
        reporter.close()
    summary.undone = [task.source for task in tasks if task.source not in finished]
    return summary


def _run_clips(tasks, clips, summary, reporter, failed, finished):
    """The clips of a batch, one after another, each with its own threads; see :func:`run_batch`."""
    for task in tasks:
        if summary.stopped is not None:
            return
        advance, end = reporter.frames(task.source, 0)
        try:
            clips.run(task.source, task.target, progress=advance)
        except KeyboardInterrupt:
            summary.interrupted = True
            return
        except Exception as error:  # one bad clip must not stop the batch
            failed(task, error)
            continue
        finally:
            end()
        summary.processed += 1
        finished.add(task.source)
        reporter.done(task.source, task.destination)


def format_summary(summary: Summary) -> str:
    """Summarise a batch: a count line, then one line per failure and, if it stopped, per photo not done."""
    counts = f"processed {summary.processed}, skipped {summary.skipped}, failed {len(summary.failed)}"
    if summary.undone:
        counts += f", not done {len(summary.undone)}"
    if summary.stopped is not None:
        counts += f" (stopped: {summary.stopped}; run the same command again once that is fixed)"
    elif summary.interrupted:
        counts += " (interrupted; run the same command again to resume)"
    lines = [counts] + [f"  {printable(source)}: {printable(reason)}" for source, reason in summary.failed]
    if summary.stopped is not None:
        lines += [f"  not done: {printable(source)}" for source in summary.undone]
    return "\n".join(lines)
