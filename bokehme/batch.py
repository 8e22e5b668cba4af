"""Walking a batch of photos: which files, where their results go, and running them.

This module knows nothing about blur or models: the caller hands `run_batch`
three functions (load, compute, save).  It is built for folders of hundreds
of photos left to run unattended: a bad file is reported and skipped, an
interrupted run can be restarted and resumes where it stopped, and decoding
and encoding of neighbouring photos overlap with the computation.
"""

from __future__ import annotations

import glob
import os
import sys
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence, TextIO

from bokehme.photo_io import PhotoError

__all__ = [
    "IMAGE_EXTENSIONS",
    "Summary",
    "Task",
    "UsageError",
    "format_summary",
    "plan_tasks",
    "run_batch",
]

#: Extensions picked up when walking a folder (files named explicitly are
#: accepted whatever their name: their content decides).
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".heic", ".heif", ".gif"}
)


class UsageError(Exception):
    """The command line asks for something impossible (exit status 2)."""


@dataclass
class Task:
    """One photo to process: where it is read from and where its result goes."""

    source: Path
    destination: Path


@dataclass
class Summary:
    """What a batch did."""

    processed: int = 0
    skipped: int = 0
    failed: list[tuple[Path, str]] = field(default_factory=list)
    interrupted: bool = False


# --------------------------------------------------------------------------- planning


def plan_tasks(
    inputs: Sequence[str],
    *,
    output_dir: Path | None,
    recursive: bool,
    suffix: str = "_bokeh",
    extension_for: Callable[[Path], str] | None = None,
) -> tuple[list[Task], list[str]]:
    """Turn command-line inputs into source/destination pairs.

    Parameters
    ----------
    inputs : sequence of str
        Files, folders and glob patterns, in any mix.
    output_dir : Path or None
        Without it, each result goes beside its source as ``NAME{suffix}.EXT``.
        With it, results mirror the layout of each given folder below
        ``output_dir`` as ``NAME.EXT`` (files given directly go to its top).
    recursive : bool
        Descend into sub-folders (and let ``**`` in patterns span folders).
    suffix : str, optional
        Marks results beside their sources; such files are never taken as inputs.
    extension_for : callable, optional
        ``extension_for(source) -> ".ext"`` when the output format differs
        from the source's; by default the source's extension is kept.

    Returns
    -------
    tasks : list of Task
        In a stable order, one per distinct destination.
    problems : list of str
        One-line messages about inputs that were left out.

    Raises
    ------
    UsageError
        If a destination would be one of the inputs.
    """
    output_root = Path(os.path.realpath(output_dir)) if output_dir is not None else None
    problems: list[str] = []
    # (source, the folder argument it was found in or None, matched by a pattern)
    candidates: list[tuple[Path, Path | None, bool]] = []

    def walk(folder: str, from_pattern: bool) -> None:
        found = _walk(Path(folder), recursive, output_root, problems)
        candidates.extend((path, Path(folder), from_pattern) for path in found)

    for argument in inputs:
        if os.path.isdir(argument):
            walk(argument, from_pattern=False)
        elif os.path.exists(argument):
            candidates.append((Path(argument), None, False))
        elif glob.has_magic(argument):
            matches = sorted(glob.glob(argument, recursive=recursive))
            if not matches:
                problems.append(f"nothing matches: {argument}")
            for match in matches:
                if os.path.isdir(match):
                    walk(match, from_pattern=True)
                else:
                    candidates.append((Path(match), None, True))
        else:
            problems.append(f"no such file: {argument}")

    seen_sources: set[str] = set()
    by_destination: dict[str, Path] = {}
    tasks: list[Task] = []
    for source, folder, from_pattern in candidates:
        real = os.path.realpath(source)
        # A file named on the command line is taken whatever its name; walks
        # and patterns leave out results of earlier runs.
        found = folder is not None or from_pattern
        if real in seen_sources or (found and _is_our_output(source, suffix)):
            continue
        extension = extension_for(source) if extension_for else source.suffix
        if output_dir is None:
            destination = source.with_name(f"{source.stem}{suffix}{extension}")
        else:
            relative = source.relative_to(folder) if folder is not None else Path(source.name)
            destination = Path(output_dir) / relative.with_suffix(extension)
        key = os.path.normcase(os.path.realpath(destination))
        if key == os.path.normcase(real):
            raise UsageError(
                f"the output for {source} would overwrite it; write it elsewhere with --output"
            )
        if from_pattern and output_root is not None and output_root in Path(real).parents:
            continue  # a pattern reaching into results of an earlier run
        seen_sources.add(real)
        first = by_destination.get(key)
        if first is not None:
            problems.append(f"{source}: same output as {first} ({destination}); skipped")
            continue
        by_destination[key] = source
        tasks.append(Task(source, destination))

    inputs_by_key = {os.path.normcase(real): real for real in seen_sources}
    for key, source in by_destination.items():
        if key in inputs_by_key:
            raise UsageError(
                f"the output for {source} would overwrite the input {inputs_by_key[key]}"
            )
    return tasks, problems


def _walk(
    folder: Path, recursive: bool, output_root: Path | None, problems: list[str]
) -> list[Path]:
    """Image files in a folder, sorted; symlinked folders are followed once."""
    found: list[Path] = []
    visited: set[str] = set()

    def unreadable(error: OSError) -> None:
        problems.append(f"cannot read folder {error.filename}: {error.strerror or error}")

    for root, dirs, files in os.walk(folder, onerror=unreadable, followlinks=True):
        visited.add(os.path.realpath(root))
        # Never descend into our own output tree, nor twice into one real folder
        # (a symlink loop would otherwise never end).
        reals = {name: os.path.realpath(os.path.join(root, name)) for name in dirs}
        dirs[:] = sorted(
            name
            for name in dirs
            if recursive
            and not name.startswith(".")
            and reals[name] not in visited
            and (output_root is None or Path(reals[name]) != output_root)
        )
        for name in sorted(files):
            # Dot files include our temporaries and macOS "._x.jpg" resource forks.
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                found.append(Path(root) / name)
        visited.update(reals[name] for name in dirs)
    return found


#: Kinds of file written beside a result (``--save-mask``, ``--cutout``).
SIDE_OUTPUTS = ("mask", "cutout")


def side_output(destination: Path, kind: str) -> Path:
    """Path of a PNG written beside a result, e.g. ``photo_bokeh_mask.png``."""
    return destination.with_name(f"{destination.stem}_{kind}.png")


def _is_our_output(path: Path, suffix: str) -> bool:
    endings = (suffix,) + tuple(f"{suffix}_{kind}" for kind in SIDE_OUTPUTS)
    return bool(suffix) and path.stem.endswith(endings)


# --------------------------------------------------------------------------- running


def run_batch(
    tasks: Sequence[Task],
    *,
    load: Callable[[Task], object],
    compute: Callable[[Task, object], object],
    save: Callable[[Task, object, object], None],
    overwrite: bool = False,
    side_outputs: Sequence[str] = (),
    jobs: int = 2,
    progress: bool = True,
    quiet: bool = False,
    log: TextIO | None = None,
) -> Summary:
    """Process tasks one by one, decoding ahead and encoding behind in threads.

    Parameters
    ----------
    tasks : sequence of Task
    load : callable
        ``load(task) -> item``; runs in the thread pool.
    compute : callable
        ``compute(task, item) -> result``; runs in the calling thread, one at a time.
    save : callable
        ``save(task, item, result)``; runs in the thread pool and must write
        atomically (a failed save leaves no file).
    overwrite : bool, optional
        Redo tasks whose destination exists; by default they are skipped, so
        that running the same command again resumes an interrupted batch.
    side_outputs : sequence of str, optional
        Kinds of :data:`SIDE_OUTPUTS` that `save` writes beside each result;
        a task is only done when they exist too, so a rerun that asks for
        masks writes them for photos an earlier run did without.
    jobs : int, optional
        Threads for loading and saving.  At most ``jobs + 1`` photos are held
        in memory at once.
    progress : bool, optional
        Show a progress bar when `log` is a terminal, else one line per photo.
    quiet : bool, optional
        Report failures only.
    log : text stream, optional
        Where reports go; standard error by default.

    Returns
    -------
    summary : Summary
        Counts and one-line reasons for failures; ``interrupted`` is set when
        Ctrl-C stopped the batch (the photos already written are complete).
    """
    log = log if log is not None else sys.stderr
    jobs = max(1, int(jobs))
    summary = Summary()
    todo = []
    for task in tasks:
        done = [task.destination] + [side_output(task.destination, kind) for kind in side_outputs]
        if not overwrite and all(path.exists() for path in done):
            summary.skipped += 1
        else:
            todo.append(task)
    reporter = _Reporter(len(todo), log, progress=progress and not quiet, quiet=quiet)
    if summary.skipped:
        reporter.note(f"skipping {summary.skipped} already done (use --overwrite to redo)")

    def failed(task: Task, error: BaseException) -> None:
        reason = _reason(task, error)
        summary.failed.append((task.source, reason))
        reporter.failed(task, reason)

    def finish_save(task: Task, future: Future) -> None:
        error = future.exception()
        if error is None:
            summary.processed += 1
            reporter.done(task)
        else:
            failed(task, error)

    loads: deque[tuple[Task, Future]] = deque()
    saves: deque[tuple[Task, Future]] = deque()
    upcoming = iter(todo)
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
                    loads.append((task, pool.submit(load, task)))
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
                result = compute(task, item)
            except Exception as error:  # one bad photo must not stop the batch
                failed(task, error)
                continue
            saves.append((task, pool.submit(_save_into_folder, save, task, item, result)))
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


def _save_into_folder(save, task: Task, item, result) -> None:
    folder = task.destination.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)  # the mirrored tree under --output
    except OSError as error:
        raise PhotoError(folder, f"cannot create folder: {error.strerror or error}") from None
    save(task, item, result)


def _reason(task: Task, error: BaseException) -> str:
    if isinstance(error, PhotoError):
        # The summary line already names the source; name any other file.
        return error.reason if error.path == task.source else str(error)
    return f"{type(error).__name__}: {' '.join(str(error).split())}"


class _Reporter:
    """Progress bar on a terminal, plain lines elsewhere (logs, pipes, CI)."""

    def __init__(self, total: int, stream: TextIO, *, progress: bool, quiet: bool):
        self.stream = stream
        self.total = total
        self.count = 0
        self.quiet = quiet
        self.started = time.monotonic()
        self.bar = None
        if progress and total and _is_terminal(stream):
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="img", file=stream, dynamic_ncols=True, smoothing=0.1)
        self.lines = progress and self.bar is None

    def _write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def note(self, line: str) -> None:
        if not self.quiet:
            self._write(line)

    def done(self, task: Task) -> None:
        self.count += 1
        if self.bar is not None:
            self.bar.update()
        elif self.lines:
            rate = self.count / max(time.monotonic() - self.started, 1e-9)
            self._write(
                f"[{self.count}/{self.total}] {task.source} -> {task.destination}"
                f" ({rate:.2f} img/s)"
            )

    def failed(self, task: Task, reason: str) -> None:
        self.count += 1
        if self.bar is not None:
            self.bar.update()
        self._write(f"FAILED {task.source}: {reason}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def format_summary(summary: Summary) -> str:
    """Summarise a batch: a count line, then one line per failure."""
    counts = f"processed {summary.processed}, skipped {summary.skipped}"
    lines = [f"{counts}, failed {len(summary.failed)}"]
    if summary.interrupted:
        lines[0] += " (interrupted; run the same command again to resume)"
    lines += [f"  {source}: {reason}" for source, reason in summary.failed]
    return "\n".join(lines)
