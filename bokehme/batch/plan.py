"""Planning a batch: which files, and where their results go.

Inputs are files, folders and glob patterns in any mix; each photo found
gets a destination, beside it or in a mirrored tree under an output folder,
such that no two photos share one and no result ever overwrites an input.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from ..job import Target

__all__ = [
    "IMAGE_EXTENSIONS",
    "SIDE_OUTPUTS",
    "OutputOverwritesInput",
    "Task",
    "plan_tasks",
    "side_output",
]

#: Extensions picked up when walking a folder (files named explicitly are
#: accepted whatever their name: their content decides).
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".heic", ".heif", ".gif"}
)

#: Kinds of file written beside a result, the fields of :class:`bokehme.job.Target`.
SIDE_OUTPUTS = ("mask", "cutout")


class OutputOverwritesInput(Exception):
    """A result would be written over an input of the run.

    Attributes
    ----------
    source : Path
        The input whose result it is.
    overwritten : Path
        The input it would replace (`source` itself when equal).
    """

    def __init__(self, source, overwritten):
        self.source, self.overwritten = Path(source), Path(overwritten)
        what = "it" if self.overwritten == self.source else f"the input {self.overwritten}"
        super().__init__(f"the output for {self.source} would overwrite {what}")


@dataclass
class Task:
    """One photo to process: where it is read from and where its results go."""

    source: Path
    target: Target

    @property
    def destination(self) -> Path:
        """The rendered photo's path."""
        return self.target.destination

    def outputs(self) -> list[Path]:
        """Every file the task writes: the result, then what is written beside it."""
        return [path for path in self.target if path is not None]


def plan_tasks(
    inputs: Sequence[str],
    *,
    output_dir: Path | None,
    recursive: bool,
    suffix: str = "_bokeh",
    extension_for: Callable[[Path], str] | None = None,
    side_outputs: Sequence[str] = (),
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
    side_outputs : sequence of str, optional
        Kinds of :data:`SIDE_OUTPUTS` written beside each result.

    Returns
    -------
    tasks : list of Task
        In a stable order, one per distinct destination.
    problems : list of str
        One-line messages about inputs that were left out.

    Raises
    ------
    OutputOverwritesInput
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
            raise OutputOverwritesInput(source, source)
        if from_pattern and output_root is not None and output_root in Path(real).parents:
            continue  # a pattern reaching into results of an earlier run
        seen_sources.add(real)
        first = by_destination.get(key)
        if first is not None:
            problems.append(f"{source}: same output as {first} ({destination}); skipped")
            continue
        by_destination[key] = source
        tasks.append(Task(source, Target(destination, **{kind: side_output(destination, kind)
                                                         for kind in side_outputs})))

    inputs_by_key = {os.path.normcase(real): real for real in seen_sources}
    for key, source in by_destination.items():
        if key in inputs_by_key:
            raise OutputOverwritesInput(source, Path(inputs_by_key[key]))
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


def side_output(destination: Path, kind: str) -> Path:
    """Path of a PNG written beside a result, e.g. ``photo_bokeh_mask.png``."""
    return destination.with_name(f"{destination.stem}_{kind}.png")


def _is_our_output(path: Path, suffix: str) -> bool:
    endings = (suffix,) + tuple(f"{suffix}_{kind}" for kind in SIDE_OUTPUTS)
    return bool(suffix) and path.stem.endswith(endings)


