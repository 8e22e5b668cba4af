"""Planning a batch: which files, and where their results go.

Inputs are files, folders and glob patterns in any mix; each photo or clip
found gets a destination, beside it or in a mirrored tree under an output
folder, such that no two share one and no result is ever written over an
original.  Nothing is read but folders and the first bytes of regular files
(never a pipe or device): what each input gave, and why an input gives
nothing, is known before the first photo is decoded.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from ..io.atomic import name_limit
from ..io.files import file_kind
from ..job import Target
from ..video.clips import VIDEO_EXTENSIONS, is_video

__all__ = [
    "IMAGE_EXTENSIONS",
    "SIDE_OUTPUTS",
    "OutputOverwritesInput",
    "OutputFolderHoldsOriginals",
    "Plan",
    "Task",
    "is_clip",
    "is_photo",
    "plan_tasks",
    "side_output",
]

#: Extensions of the files taken as photos in folders and patterns (files
#: named explicitly are taken whatever their name: their content decides).
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".heic", ".heif", ".gif"}
)

#: Kinds of file written beside a result, the fields of :class:`bokehme.job.Target`.
SIDE_OUTPUTS = ("mask", "cutout")


def is_photo(path) -> bool:
    """Whether a file met in a folder is taken as a photo, by its name.

    Hidden files are not: they include bokehme's own temporaries and the
    ``._x.jpg`` resource forks macOS leaves on shared drives.
    """
    name = Path(path).name
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def is_clip(path) -> bool:
    """Whether a file met in a folder is taken as a video clip, by its name (hidden files are not)."""
    name = Path(path).name
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS


def _takes(name) -> bool:
    """Whether a walk takes a file: a photo or a clip."""
    return is_photo(name) or is_clip(name)


def _is_clip_file(path: Path) -> bool:
    """Whether a regular file is a clip: by its name, else by its first bytes (a file named explicitly)."""
    if is_clip(path):
        return True
    try:
        with open(path, "rb") as file:
            return is_video(path, file.read(16))
    except OSError:
        return False  # reading it as a photo will say why


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


class OutputFolderHoldsOriginals(Exception):
    """The output folder overlaps an input folder so that results could replace originals.

    Either the output folder holds the input folder (``"holds input"``), or
    it lies inside a folder read with ``-r`` and holds photos that are no
    result of the run, so it looks like a folder of originals (``"foreign"``),
    or it holds photos at the results' paths that ``--overwrite`` would
    replace, though nothing tells them from originals (``"overwrite"``).

    Attributes
    ----------
    output : Path
        The output folder.
    folder : Path
        The input folder.
    why : {"holds input", "foreign", "overwrite"}
    photos : tuple of Path
        The photos in the output folder that make it unsafe (empty for "holds input").
    """

    def __init__(self, output, folder, why, photos=()):
        self.output, self.folder, self.why, self.photos = Path(output), Path(folder), why, tuple(photos)
        what = {
            "holds input": f"holds the input folder {self.folder}",
            "foreign": f"lies inside {self.folder} and holds {len(self.photos)} photos that are no results",
            "overwrite": f"lies inside {self.folder} and --overwrite would replace {len(self.photos)} photos in it",
        }[why]
        super().__init__(f"the output folder {self.output} {what}")


@dataclass
class Task:
    """One photo or clip to process: where it is read from and where its results go.

    Attributes
    ----------
    source : Path
    target : bokehme.job.Target
    kind : {"photo", "clip"}
    """

    source: Path
    target: Target
    kind: str = "photo"

    @property
    def destination(self) -> Path:
        """The rendered photo's path."""
        return self.target.destination

    def outputs(self) -> list[Path]:
        """Every file the task writes: the result, then what is written beside it."""
        return [path for path in self.target if path is not None]


@dataclass
class Plan:
    """What a run is to do.

    Attributes
    ----------
    tasks : list of Task
        In a stable order, one per distinct destination.
    failed : list of (Path, str)
        Inputs that cannot be done, and why in a few words: a missing path,
        a pattern or folder that gives no photo, a pipe or device, two photos
        with one destination, a name too long for the file system.
    notes : list of str
        What was left out on purpose and how to take it in (sub-folders
        without ``-r``).
    """

    tasks: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    notes: list = field(default_factory=list)


def plan_tasks(
    inputs: Sequence[str],
    *,
    output_dir: Path | None,
    recursive: bool,
    suffix: str = "_bokeh",
    extension_for: Callable[[Path], str] | None = None,
    side_outputs: Sequence[str] = (),
    overwrite: bool = False,
) -> Plan:
    """Turn command-line inputs into source/destination pairs.

    Parameters
    ----------
    inputs : sequence of str
        Files, folders and glob patterns, in any mix; ``**`` in a pattern
        spans any number of folders, as in a shell with ``globstar``.
    output_dir : Path or None
        Without it, each result goes beside its source as ``NAME{suffix}.EXT``.
        With it, results mirror the layout of each given folder below
        ``output_dir`` as ``NAME.EXT`` (files given directly go to its top).
    recursive : bool
        Descend into the sub-folders of folder inputs.
    suffix : str, optional
        Marks results beside their sources; such files are never taken as inputs.
    extension_for : callable, optional
        ``extension_for(source) -> ".ext"`` when the output format differs
        from the source's; by default the source's extension is kept.  It is
        only called for regular files.
    side_outputs : sequence of str, optional
        Kinds of :data:`SIDE_OUTPUTS` written beside each result.
    overwrite : bool, optional
        Results that exist will be replaced: refused where nothing tells
        them from originals.

    Returns
    -------
    plan : Plan

    Raises
    ------
    OutputOverwritesInput
        If a result would be written over one of the inputs.
    OutputFolderHoldsOriginals
        If the output folder holds an input folder, or lies inside a folder
        read with `recursive` and holds photos that are no results of the
        run, or that `overwrite` would replace.
    """
    output_root = Path(os.path.realpath(output_dir)) if output_dir is not None else None
    plan = Plan()
    # (source, the folder argument it was found in or None)
    candidates: list[tuple[Path, Path | None]] = []
    folders: list[Path] = []

    for argument in inputs:
        found = _found_by(argument, recursive, output_root, suffix, plan, folders)
        for source, folder in found:
            kind = _kind_of(source)
            if kind is None:
                candidates.append((source, folder))
            else:
                plan.failed.append((source, kind))

    seen_sources: set[str] = set()
    by_destination: dict[str, Path] = {}
    for source, folder in candidates:
        real = os.path.realpath(source)
        if real in seen_sources:
            continue
        seen_sources.add(real)
        kind = "clip" if _is_clip_file(source) else "photo"
        # A clip keeps its container; masks and cutouts are for photos.
        extension = extension_for(source) if extension_for and kind == "photo" else source.suffix
        if output_dir is None:
            destination = source.with_name(f"{source.stem}{suffix}{extension}")
        else:
            relative = source.relative_to(folder) if folder is not None else Path(source.name)
            destination = Path(output_dir) / relative.with_suffix(extension)
        target = Target(destination, **{side: side_output(destination, side) for side in side_outputs
                                        if kind == "photo"})
        key = os.path.normcase(os.path.realpath(destination))
        if key == os.path.normcase(real):
            raise OutputOverwritesInput(source, source)
        first = by_destination.get(key)
        if first is not None:
            plan.failed.append((source, f"same output as {first} ({destination})"))
            continue
        too_long = _too_long(target, output_dir is None)
        if too_long:
            plan.failed.append((source, too_long))
            continue
        by_destination[key] = source
        plan.tasks.append(Task(source, target, kind))

    inputs_by_key = {os.path.normcase(real): real for real in seen_sources}
    for task in plan.tasks:
        for path in task.outputs():
            overwritten = inputs_by_key.get(os.path.normcase(os.path.realpath(path)))
            if overwritten is not None:
                raise OutputOverwritesInput(task.source, Path(overwritten))
    if output_root is not None:
        _check_output_folder(output_dir, output_root, folders, recursive, overwrite, plan.tasks)
    return plan


def _found_by(argument: str, recursive: bool, output_root: Path | None, suffix: str, plan: Plan,
              folders: list[Path]) -> list[tuple[Path, Path | None]]:
    """The files one command-line argument names, as (file, folder argument or None).

    Records in `plan` why an argument gives nothing, and what a folder read
    without `recursive` left out; appends each folder read to `folders`.
    """
    if os.path.isdir(argument):
        folders.append(Path(argument))
        return [(path, Path(argument)) for path in _walk(Path(argument), recursive, output_root, suffix, plan)]
    if os.path.lexists(argument):
        return [(Path(argument), None)]  # named explicitly: taken whatever its name
    if not glob.has_magic(argument):
        plan.failed.append((Path(argument), "no such file or folder"))
        return []
    found, matched_folder = [], False
    for match in sorted(_globstar(argument)):
        if os.path.isdir(match):
            matched_folder = True
            folders.append(Path(match))
            found += [(path, Path(match)) for path in _walk(Path(match), recursive, output_root, suffix, plan)]
        elif not (_is_our_output(Path(match), suffix)
                  or (output_root is not None and output_root in Path(os.path.realpath(match)).parents)):
            found.append((Path(match), None))  # results of earlier runs are not matched
    if not found and not matched_folder:  # a folder that gives nothing says so itself
        plan.failed.append((Path(argument), "no photo matches this pattern"))
    return found


def _globstar(pattern: str) -> list[str]:
    """The paths a pattern matches, ``**`` spanning any number of folders as in bash with ``globstar``.

    Like bash (and unlike :func:`glob.glob`), ``**`` does not follow
    symlinked folders, so a link back up the tree cannot make it loop.
    """
    parts = pattern.split(os.sep)
    if "**" not in parts:
        return glob.glob(pattern)
    at = parts.index("**")
    head = os.sep.join(parts[:at]) or (os.sep if pattern.startswith(os.sep) else "")
    rest = os.sep.join(parts[at + 1:])
    found = []
    for base in (glob.glob(head) if glob.has_magic(head) else [head]):
        if base and not os.path.isdir(base):
            continue
        for root, dirs, files in os.walk(base or os.curdir):
            dirs[:] = sorted(name for name in dirs if not name.startswith("."))
            # A pattern starting with ** gives paths as glob does: "a/x.jpg", not "./a/x.jpg".
            prefix = root if base else os.path.normpath(root).removeprefix(os.curdir)
            if rest:
                found += _globstar(os.path.join(glob.escape(prefix), rest))
            else:  # a pattern ending in ** matches every file below
                found += [os.path.join(prefix, name) for name in files if not name.startswith(".")]
    return sorted(set(found))


def _kind_of(path: Path) -> str | None:
    """Why a file cannot be read as a photo without opening it (a pipe, a device...); None if it can be tried."""
    try:
        kind = file_kind(os.stat(path).st_mode)
    except FileNotFoundError:
        return "a broken link" if os.path.islink(path) else "no such file"
    except OSError as error:
        return f"cannot read: {error.strerror or error}"
    return None if kind is None else f"{kind}, not a photo file; left alone"


def _too_long(target: Target, beside: bool) -> str | None:
    """Why the file system cannot take an output's name, if it cannot."""
    for path in target:
        if path is None:
            continue
        length, limit = len(os.fsencode(path.name)), name_limit(path.parent)
        if length > limit:
            hint = "; with --output it keeps the photo's own name" if beside and path == target.destination else ""
            return f"the output name {path.name} is {length} bytes, more than the {limit} the file system takes{hint}"
    return None


def _walk(folder: Path, recursive: bool, output_root: Path | None, suffix: str, plan: Plan) -> list[Path]:
    """Photo files in a folder, sorted; symlinked folders are followed once.

    Photos found are returned whatever they are; the caller checks they are
    regular files.  Results of earlier runs (named with `suffix`) are not
    photos.  A folder with none is a failure in `plan`; sub-folders left out
    without `recursive` are a note.
    """
    found: list[Path] = []
    visited: set[str] = set()
    left_out: list[str] = []

    def unreadable(error: OSError) -> None:
        plan.failed.append((Path(error.filename), f"cannot read folder: {error.strerror or error}"))

    for root, dirs, files in os.walk(folder, onerror=unreadable, followlinks=True):
        visited.add(os.path.realpath(root))
        # Never descend into our own output tree, nor twice into one real folder
        # (a symlink loop would otherwise never end).
        reals = {name: os.path.realpath(os.path.join(root, name)) for name in dirs}
        wanted = sorted(
            name
            for name in dirs
            if not name.startswith(".")
            and reals[name] not in visited
            and (output_root is None or Path(reals[name]) != output_root)
        )
        dirs[:] = wanted if recursive else []
        if not recursive:
            left_out = [os.path.join(root, name) for name in wanted]
        found += [Path(root) / name for name in sorted(files)
                  if _takes(name) and not _is_our_output(Path(name), suffix)]
        visited.update(reals[name] for name in dirs)

    hidden = sum(_count_photos(sub) for sub in left_out)
    include = f"{len(left_out)} sub-folder{'s' * (len(left_out) != 1)} holding {hidden} photo{'s' * (hidden != 1)}"
    if not found:
        more = f"; its {include}: add -r to include them" if hidden else ""
        plan.failed.append((folder, f"no photos in this folder{more}"))
    elif hidden:
        plan.notes.append(f"{folder}: left out {include}; add -r to include them")
    return found


def _count_photos(folder: str) -> int:
    """How many photos a folder and its sub-folders hold, by name, without following links."""
    count = 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = [name for name in dirs if not name.startswith(".")]
        count += sum(1 for name in files if _takes(name))
    return count


def _check_output_folder(output_dir: Path, output_root: Path, folders: list[Path], recursive: bool,
                         overwrite: bool, tasks: list[Task]) -> None:
    """Refuse an output folder that could hold originals: see :class:`OutputFolderHoldsOriginals`.

    Inside a folder read with -r, the output folder is left out of the walk
    as a folder of results.  An original in it at a result's path cannot be
    told from a result: it is skipped as done, never replaced.
    """
    # A result of this run, in this or another format (an earlier run's --format).
    ours = {os.path.splitext(os.path.realpath(path))[0] for task in tasks for path in task.outputs()}
    for folder in folders:
        real = Path(os.path.realpath(folder))
        if output_root == real or output_root in real.parents:
            raise OutputFolderHoldsOriginals(output_dir, folder, "holds input")
        if not (recursive and real in output_root.parents):
            continue
        photos = [Path(root) / name for root, dirs, files in os.walk(output_root) for name in sorted(files)
                  if _takes(name)]
        foreign = [path for path in photos if os.path.splitext(os.path.realpath(path))[0] not in ours]
        if foreign:
            raise OutputFolderHoldsOriginals(output_dir, folder, "foreign", foreign)
        if overwrite and photos:
            raise OutputFolderHoldsOriginals(output_dir, folder, "overwrite", photos)


def side_output(destination: Path, kind: str) -> Path:
    """Path of a PNG written beside a result, e.g. ``photo_bokeh_mask.png``."""
    return destination.with_name(f"{destination.stem}_{kind}.png")


def _is_our_output(path: Path, suffix: str) -> bool:
    endings = (suffix,) + tuple(f"{suffix}_{kind}" for kind in SIDE_OUTPUTS)
    return bool(suffix) and path.stem.endswith(endings)
